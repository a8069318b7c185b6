package main

// herald token create, list and revoke.

import (
	"encoding/json"
	"flag"
	"fmt"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/internal/sqlstore"
)

func tokenCreateCommand(fs *flag.FlagSet) func(c *cli, args []string) error {
	return func(c *cli, args []string) error {
		if err := positional(args, 1, false, "the token's NAME"); err != nil {
			return err
		}
		return c.withDB(func(cfg *config.Config, db *sqlstore.DB) error {
			t, raw, err := db.NewAPIToken(c.ctx, args[0])
			if err != nil {
				return plain(err)
			}
			fmt.Fprintln(c.stdout, raw)
			fmt.Fprintf(c.stderr, "Created API token %d (%s). Keep it now: Herald stores only its hash and cannot show it again.\n", t.ID, t.Name)
			return nil
		})
	}
}

func tokenListCommand(fs *flag.FlagSet) func(c *cli, args []string) error {
	asJSON := fs.Bool("json", false, "print a JSON array (as GET /api/v1/tokens gives it) instead of a table")
	return func(c *cli, args []string) error {
		if err := positional(args, 0, false, ""); err != nil {
			return err
		}
		return c.withDB(func(cfg *config.Config, db *sqlstore.DB) error {
			tokens, err := db.ListAPITokens(c.ctx)
			if err != nil {
				return err
			}
			if *asJSON {
				enc := json.NewEncoder(c.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(tokens)
			}
			if len(tokens) == 0 {
				fmt.Fprintln(c.stderr, "No API tokens: make one with `herald token create NAME`.")
				return nil
			}
			tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tNAME\tROLE\tCREATED\tLAST USED")
			for _, t := range tokens {
				last := "never"
				if t.LastUsedAt != nil {
					last = t.LastUsedAt.Format(time.DateTime) + " UTC"
				}
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", t.ID, t.Name, t.Role, t.CreatedAt.Format(time.DateTime)+" UTC", last)
			}
			return tw.Flush()
		})
	}
}

func tokenRevokeCommand(fs *flag.FlagSet) func(c *cli, args []string) error {
	return func(c *cli, args []string) error {
		if err := positional(args, 1, false, "the token's ID (see `herald token list`)"); err != nil {
			return err
		}
		id, err := strconv.ParseInt(args[0], 10, 64)
		if err != nil || id < 1 {
			return usagef("%q is not a token id: give the number `herald token list` shows", args[0])
		}
		return c.withDB(func(cfg *config.Config, db *sqlstore.DB) error {
			t, err := db.RevokeAPIToken(c.ctx, id)
			if err != nil {
				return plain(err)
			}
			fmt.Fprintf(c.stderr, "Revoked API token %d (%s): it no longer authenticates.\n", t.ID, t.Name)
			return nil
		})
	}
}
