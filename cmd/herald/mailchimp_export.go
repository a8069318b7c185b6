package main

// herald export mailchimp.

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/internal/mailchimp"
	"github.com/heraldhq/herald/internal/mcsync"
	"github.com/heraldhq/herald/internal/sqlstore"
)

const exportMailchimpHelp = `Writes the list --list names in Mailchimp's audience export format: a zip of
the three CSV files (subscribed, unsubscribed, cleaned; by default to
SLUG-mailchimp-export.zip), or with --status one CSV file (to stdout unless
--out names a file).`

func exportMailchimpCommand(fs *flag.FlagSet) func(c *cli, args []string) error {
	list := fs.String("list", "", "the `slug` of the list to export (required)")
	out := fs.String("out", "", "the `file` to write (- = stdout); default SLUG-mailchimp-export.zip, or stdout with --status")
	status := fs.String("status", "", "write only the CSV of members with this `status`: subscribed, unsubscribed or cleaned")
	return func(c *cli, args []string) error {
		if err := positional(args, 0, false, ""); err != nil {
			return err
		}
		if *list == "" {
			return usagef("needs --list SLUG")
		}
		var kind mailchimp.Kind
		if *status != "" {
			if kind = mailchimp.KindFromName(*status); kind == mailchimp.KindUnknown || *status != kind.String() {
				return usagef("--status must be subscribed, unsubscribed or cleaned, not %q", *status)
			}
		}
		return c.withDB(func(cfg *config.Config, db *sqlstore.DB) error {
			l, err := db.GetList(c.ctx, *list)
			if err != nil {
				return plain(err)
			}
			path := *out
			if path == "" && kind == mailchimp.KindUnknown {
				path = l.Slug + "-mailchimp-export.zip"
			}
			var w io.Writer = c.stdout
			var f *os.File
			if path != "" && path != "-" {
				if f, err = os.Create(path); err != nil {
					return err
				}
				defer f.Close()
				w = f
			}
			bw := bufio.NewWriterSize(w, 256<<10)
			var summary string
			if kind != mailchimp.KindUnknown {
				n, err := mcsync.ExportCSV(c.ctx, db, l.Slug, kind, bw)
				if err != nil {
					return err
				}
				summary = fmt.Sprintf("%s %s members", group(int64(n)), kind)
			} else {
				n, err := mcsync.Export(c.ctx, db, l.Slug, bw)
				if err != nil {
					return err
				}
				summary = fmt.Sprintf("%s subscribed, %s unsubscribed, %s cleaned", group(int64(n.Subscribed)), group(int64(n.Unsubscribed)), group(int64(n.Cleaned)))
			}
			if err := bw.Flush(); err != nil {
				return err
			}
			if f != nil {
				if err := f.Close(); err != nil {
					return err
				}
				fmt.Fprintf(c.stderr, "Wrote %s: %s.\n", path, summary)
			} else {
				fmt.Fprintf(c.stderr, "Exported %s.\n", summary)
			}
			return nil
		})
	}
}
