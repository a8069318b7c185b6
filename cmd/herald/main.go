// Command herald is Herald's one binary: `herald serve` runs the public
// pages, the API and the background workers; `herald migrate`, `herald
// token create NAME` and `herald version` are the operator's tools.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/app"
	"github.com/heraldhq/herald/internal/config"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Environ(), os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "herald:", err)
		os.Exit(1)
	}
}

const usage = `Herald — newsletters for news publishers.

Usage:
  herald serve [flags]              run the web server, API and background workers
  herald migrate [flags]            apply database migrations and exit
  herald token create NAME [flags]  create an API token and print it once
  herald import mailchimp --list SLUG [--dry-run] FILE...   import a Mailchimp audience export (zip or CSV files)
  herald import csv --list SLUG [--dry-run] FILE...         import a plain CSV of readers (email,name,…)
  herald export mailchimp --list SLUG           write a list in Mailchimp's export format
  herald bench import-mailchimp [--rows N]      time a generated import (rows/s, CPU, memory)
  herald version                    print the version
  herald help                       show this help and the settings
  herald dkim keygen --selector S --domain D [--algo rsa|ed25519]   make a DKIM key, print its DNS record
  herald bench send --subscribers N [--smtp-url URL] [--dkim rsa]   time a campaign into an SMTP sink

Settings (flags override HERALD_* environment variables, which override the config file):
`

func run(ctx context.Context, args, environ []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		config.Usage(stderr)
		return errors.New("no command given")
	}
	cmd, rest := args[0], args[1:]
	switch { // campaign tools
	case cmd == "dkim":
		return dkimCommand(ctx, rest, environ, stdout, stderr) // dkim.go
	case cmd == "bench" && len(rest) > 0 && rest[0] == "send":
		return benchSend(ctx, rest[1:], environ, stdout, stderr) // bench_send.go
	case cmd == "import" && len(rest) > 0 && rest[0] == "csv":
		return importCSV(ctx, rest[1:], environ, stdout, stderr) // import_csv.go
	}
	switch cmd {
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, "herald", herald.Version)
		return nil
	case "help", "-h", "--help", "-help":
		fmt.Fprint(stdout, usage)
		config.Usage(stdout)
		return nil
	case "serve":
		cfg, _, err := loadConfig("serve", rest, environ, stderr)
		if err != nil {
			return err
		}
		return serve(ctx, cfg, stderr)
	case "migrate":
		cfg, _, err := loadConfig("migrate", rest, environ, stderr)
		if err != nil {
			return err
		}
		db, _, err := app.OpenDB(ctx, cfg)
		if err != nil {
			return err
		}
		defer db.Close()
		v, err := db.SchemaVersion(ctx)
		if err == nil {
			fmt.Fprintf(stdout, "database is at schema version %d\n", v)
		}
		return err
	case "import", "export", "bench":
		return mailchimpCommand(ctx, cmd, rest, environ, stdout, stderr) // mailchimp.go
	case "token":
		if len(rest) < 2 || rest[0] != "create" {
			return errors.New("usage: herald token create NAME")
		}
		name := rest[1]
		cfg, _, err := loadConfig("token", rest[2:], environ, stderr)
		if err != nil {
			return err
		}
		db, _, err := app.OpenDB(ctx, cfg)
		if err != nil {
			return err
		}
		defer db.Close()
		tok, err := db.CreateAPIToken(ctx, name)
		if err != nil {
			return errors.New(herald.ErrorMessage(err))
		}
		fmt.Fprintln(stdout, tok)
		fmt.Fprintln(stderr, "Keep this token now: Herald stores only its hash and cannot show it again.")
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", cmd)
}

func loadConfig(name string, args, environ []string, stderr io.Writer) (*config.Config, []string, error) {
	cfg, rest, err := config.Load(name, args, environ)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stderr, usage)
		config.Usage(stderr)
	}
	return cfg, rest, err
}

func serve(ctx context.Context, cfg *config.Config, stderr io.Writer) error {
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	a, err := app.New(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer a.Close()
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return err
	}
	return a.Run(ctx, ln)
}
