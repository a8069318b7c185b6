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
	"sync"
	"syscall"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/internal/mail"
	"github.com/heraldhq/herald/internal/queue"
	"github.com/heraldhq/herald/internal/sqlstore"
	"github.com/heraldhq/herald/internal/sysmail"
	"github.com/heraldhq/herald/internal/token"
	"github.com/heraldhq/herald/internal/web"
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
  herald version                    print the version
  herald help                       show this help and the settings

Settings (flags override HERALD_* environment variables, which override the config file):
`

func run(ctx context.Context, args, environ []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		config.Usage(stderr)
		return errors.New("no command given")
	}
	cmd, rest := args[0], args[1:]
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
		db, err := openDB(ctx, cfg)
		if err != nil {
			return err
		}
		defer db.Close()
		v, err := db.SchemaVersion(ctx)
		if err == nil {
			fmt.Fprintf(stdout, "database is at schema version %d\n", v)
		}
		return err
	case "token":
		if len(rest) < 2 || rest[0] != "create" {
			return errors.New("usage: herald token create NAME")
		}
		name := rest[1]
		cfg, _, err := loadConfig("token", rest[2:], environ, stderr)
		if err != nil {
			return err
		}
		db, err := openDB(ctx, cfg)
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

// openDB opens and migrates the database and installs the signing secret.
func openDB(ctx context.Context, cfg *config.Config) (*sqlstore.DB, error) {
	db, err := sqlstore.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return nil, err
	}
	if err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("migrating the database: %w", err)
	}
	secret := []byte(cfg.Secret)
	if len(secret) == 0 {
		if secret, err = db.Secret(ctx); err != nil {
			db.Close()
			return nil, fmt.Errorf("reading the signing secret: %w", err)
		}
	}
	db.SetSecret(secret)
	return db, nil
}

// DefaultDisclosure is the first disclosure of a new installation.
func DefaultDisclosure(publisher string) string {
	return publisher + " uses your email address (and your name, if you give it) only to send you the newsletters you choose. " +
		"Your details are kept on " + publisher + "'s own Herald server and are not passed to anyone else. " +
		"We record when and where you signed up as proof of your consent. You can unsubscribe at any time with the link in every email."
}

func serve(ctx context.Context, cfg *config.Config, stderr io.Writer) error {
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	db, err := openDB(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.EnsureDisclosure(ctx, DefaultDisclosure(cfg.PublisherName)); err != nil {
		return err
	}
	secret := []byte(cfg.Secret)
	if len(secret) == 0 {
		secret, _ = db.Secret(ctx)
	}
	tokens := token.NewSigner(secret)

	var transport mail.Transport
	if cfg.SMTPURL == "" {
		transport = mail.NewOutbox(db)
		log.Info("no SMTP server configured: outgoing mail is kept in the outbox (GET /api/v1/outbox)")
	} else {
		sc, err := mail.ParseSMTPURL(cfg.SMTPURL)
		if err != nil {
			return fmt.Errorf("invalid HERALD_SMTP_URL: %w", err)
		}
		sc.PoolSize = cfg.SendConcurrency
		transport = mail.NewSMTP(sc)
	}
	defer transport.Close()

	worker := &queue.Worker{DB: db, Log: log, Concurrency: cfg.JobWorkers}
	(&sysmail.Sender{DB: db, Tokens: tokens, Transport: transport, From: cfg.From, Publisher: cfg.PublisherName, BaseURL: cfg.BaseURL}).Register(worker)

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return err
	}
	log.Info("herald is serving", "version", herald.Version, "listen", ln.Addr().String(), "base_url", cfg.BaseURL, "database", db.Dialect())

	srv := web.New(db, cfg, tokens, log)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := worker.Run(ctx); err != nil {
			log.Error("worker stopped", "err", err)
		}
	}()
	err = srv.ListenAndServe(ctx, ln)
	log.Info("shutting down: waiting for jobs in flight")
	wg.Wait()
	return err
}
