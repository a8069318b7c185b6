package main

// herald import mailchimp.

import (
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/heraldhq/herald/internal/mcsync"
)

const importMailchimpHelp = `Imports Mailchimp audience exports (the zip, or its subscribed, unsubscribed
and cleaned CSV files) into the list --list names. --group (repeatable) also
subscribes the members of an interest group (a column of the export) to
another list: --group "Column=Group:slug". Each file must have the columns
"Email Address", OPTIN_TIME and CONFIRM_TIME of a Mailchimp export; for a
plain list of addresses use herald import csv. --dry-run prints the column
mapping, the row counts and the first problems, and writes nothing.`

// stringList is a flag that may be given several times.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ", ") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

func importMailchimpCommand(fs *flag.FlagSet) func(c *cli, args []string) error {
	list := fs.String("list", "", "the `slug` of the list to import into (required)")
	var groups stringList
	fs.Var(&groups, "group", "`Column=Group:slug`: also subscribe that interest group's members to list slug (repeatable)")
	dry := fs.Bool("dry-run", false, "print the column mapping, the row counts and the first problems; write nothing")
	return func(c *cli, files []string) error {
		if *list == "" {
			return usagef("needs --list SLUG")
		}
		if err := positional(files, 1, true, "the FILE(s) to import"); err != nil {
			return err
		}
		opt := mcsync.ImportOptions{Format: mcsync.FormatMailchimp, List: *list, DryRun: *dry}
		for _, g := range groups {
			gm, err := mcsync.ParseGroupMap(g)
			if err != nil {
				return usagef("--group %q: %v", g, plain(err))
			}
			opt.Groups = append(opt.Groups, gm)
		}
		return c.runImport(opt, files) // import_csv.go
	}
}

func printImport(w io.Writer, res *mcsync.ImportResult) {
	rate := float64(res.Rows+res.Skipped) / max(res.Seconds, 0.001)
	fmt.Fprintf(w, "Imported %s (%d file(s)) in %.1f s, %s rows/s:\n", strings.Join(res.Files, ", "), len(res.Files), res.Seconds, group(int64(rate)))
	for _, kv := range []struct {
		k string
		v int
	}{{"added", res.Added}, {"updated", res.Updated}, {"unchanged", res.Unchanged}, {"unsubscribed", res.Unsubscribed},
		{"suppressed", res.Suppressed}, {"skipped (malformed)", res.Skipped}, {"refused (not applied)", res.Refused}} {
		fmt.Fprintf(w, "  %-22s %s\n", kv.k, group(int64(kv.v)))
	}
}
