package main

// herald import csv (the generic CSV format), and the dry run that both
// import commands share.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/app"
	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/internal/mcsync"
)

const importCSVUsage = `Usage:
  herald import csv --list SLUG [--dry-run] FILE... [settings flags]
      Import a plain CSV list of readers (not a Mailchimp export) into a list.
      Header: "email" (required), "name", and any other columns, which become
      attributes, e.g.  email,name,city
      Every reader becomes confirmed on your word: the consent ledger records
      "imported without opt-in evidence", and no opt-in or confirmation time
      is made up. An address that unsubscribed or was suppressed in Herald is
      left alone. --dry-run prints the column mapping, the row counts and the
      first problems, and writes nothing.
`

// takeFlag removes a boolean flag (--name, -name, --name=true|false) from
// args; splitArgs only knows flags with values.
func takeFlag(args []string, name string) (bool, []string, error) {
	on := false
	out := make([]string, 0, len(args))
	for i, a := range args {
		if a == "--" {
			out = append(out, args[i:]...)
			break
		}
		n, v, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || n != name {
			out = append(out, a)
			continue
		}
		switch {
		case !hasVal || v == "true":
			on = true
		case v == "false":
			on = false
		default:
			return false, nil, fmt.Errorf("--%s takes no value (or =true, =false), not %q", name, v)
		}
	}
	return on, out, nil
}

func importCSV(ctx context.Context, args, environ []string, stdout, stderr io.Writer) error {
	dry, args, err := takeFlag(args, "dry-run")
	if err != nil {
		return err
	}
	flags, cfgArgs, files, err := splitArgs(args, "list")
	if errors.Is(err, errHelp) {
		fmt.Fprint(stdout, importCSVUsage)
		return nil
	}
	if err != nil {
		return err
	}
	opt := mcsync.ImportOptions{Format: mcsync.FormatCSV, List: last(flags["list"]), DryRun: dry}
	if opt.List == "" || len(files) == 0 {
		fmt.Fprint(stderr, importCSVUsage)
		return errors.New("herald import csv needs --list SLUG and at least one FILE")
	}
	return runImport(ctx, opt, files, cfgArgs, environ, stdout, stderr)
}

// runImport opens the database and runs an import (or its dry run),
// printing the mapping, the notices and the summary.
func runImport(ctx context.Context, opt mcsync.ImportOptions, files, cfgArgs, environ []string, stdout, stderr io.Writer) error {
	cfg, _, err := config.Load("import", cfgArgs, environ)
	if err != nil {
		return err
	}
	db, _, err := app.OpenDB(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	start := time.Now()
	tty := isTerminal(stderr)
	if tty {
		opt.Progress = progressBar(stderr, start)
	}
	res, err := mcsync.Import(ctx, db, files, opt)
	if tty {
		fmt.Fprintln(stderr)
	}
	if res != nil {
		if opt.DryRun {
			printDryRun(stdout, res)
		} else {
			for i, n := range res.Notices {
				if i == 100 {
					fmt.Fprintf(stderr, "… and %d more\n", res.NoticesTotal-100)
					break
				}
				fmt.Fprintln(stderr, n.String())
			}
			printImport(stdout, res)
		}
	}
	if err != nil {
		if herald.ErrorCode(err) == herald.ENOTFOUND {
			return fmt.Errorf("list %q: %s", opt.List, herald.ErrorMessage(err))
		}
		if herald.ErrorCode(err) != herald.EINTERNAL {
			return errors.New(herald.ErrorMessage(err))
		}
		return err
	}
	return nil
}

// dryRunProblems is how many problems a dry run prints.
const dryRunProblems = 10

func printDryRun(w io.Writer, res *mcsync.ImportResult) {
	fmt.Fprintf(w, "Dry run (%s format): nothing was written.\n", res.Format)
	for _, m := range res.Mapping {
		kind := ""
		if m.Kind != "" {
			kind = " (" + m.Kind + " members)"
		}
		fmt.Fprintf(w, "%s%s:\n", m.File, kind)
		for _, c := range m.Columns {
			fmt.Fprintf(w, "  %-24q → %s\n", c.Column, c.Use)
		}
	}
	fmt.Fprintf(w, "Rows: %s valid, %s malformed (would be skipped).\n", group(int64(res.Rows)), group(int64(res.Skipped)))
	if b := res.WouldBe; b != nil {
		confirmed := "confirmed"
		if res.Format == mcsync.FormatCSV {
			confirmed = "confirmed, imported without opt-in evidence"
		}
		fmt.Fprintf(w, "  %-48s %s\n", confirmed, group(int64(b.Confirmed)))
		if res.Format != mcsync.FormatCSV {
			fmt.Fprintf(w, "  %-48s %s\n", "unsubscribed", group(int64(b.Unsubscribed)))
			fmt.Fprintf(w, "  %-48s %s\n", "of which suppressed", group(int64(b.Suppressed)))
		}
	}
	fmt.Fprintln(w, "A dry run does not compare rows with what Herald holds: importing refuses rows for addresses that unsubscribed or are suppressed in Herald.")
	if res.NoticesTotal > 0 {
		fmt.Fprintf(w, "First problems (of %d):\n", res.NoticesTotal)
		for i, n := range res.Notices {
			if i == dryRunProblems {
				break
			}
			fmt.Fprintln(w, "  "+n.String())
		}
	}
}
