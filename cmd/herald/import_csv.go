package main

// herald import csv (the generic CSV format), and the dry run that both
// import commands share.

import (
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/internal/mcsync"
	"github.com/heraldhq/herald/internal/sqlstore"
)

const importCSVHelp = `Imports a plain CSV list of readers (not a Mailchimp export) into the list
--list names. Header: "email" (required), "name", and any other columns,
which become attributes, e.g.  email,name,city
Every reader becomes confirmed on your word: the consent ledger records
"imported without opt-in evidence", and no opt-in or confirmation time is
made up. An address that unsubscribed or was suppressed in Herald is left
alone. --dry-run prints the column mapping, the row counts and the first
problems, and writes nothing.`

func importCSVCommand(fs *flag.FlagSet) func(c *cli, args []string) error {
	list := fs.String("list", "", "the `slug` of the list to import into (required)")
	dry := fs.Bool("dry-run", false, "print the column mapping, the row counts and the first problems; write nothing")
	return func(c *cli, files []string) error {
		if *list == "" {
			return usagef("needs --list SLUG")
		}
		if err := positional(files, 1, true, "the FILE(s) to import"); err != nil {
			return err
		}
		return c.runImport(mcsync.ImportOptions{Format: mcsync.FormatCSV, List: *list, DryRun: *dry}, files)
	}
}

// runImport opens the database and runs an import (or its dry run),
// printing the mapping, the notices and the summary.
func (c *cli) runImport(opt mcsync.ImportOptions, files []string) error {
	return c.withDB(func(cfg *config.Config, db *sqlstore.DB) error {
		start := time.Now()
		tty := isTerminal(c.stderr)
		if tty {
			opt.Progress = progressBar(c.stderr, start)
		}
		res, err := mcsync.Import(c.ctx, db, files, opt)
		if tty {
			fmt.Fprintln(c.stderr)
		}
		if res != nil {
			if opt.DryRun {
				printDryRun(c.stdout, res)
			} else {
				for i, n := range res.Notices {
					if i == 100 {
						fmt.Fprintf(c.stderr, "… and %d more\n", res.NoticesTotal-100)
						break
					}
					fmt.Fprintln(c.stderr, n.String())
				}
				printImport(c.stdout, res)
			}
		}
		if herald.ErrorCode(err) == herald.ENOTFOUND {
			return fmt.Errorf("list %q: %s", opt.List, herald.ErrorMessage(err))
		}
		return plain(err)
	})
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
