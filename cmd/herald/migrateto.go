package main

// herald migrate-to: copy a SQLite installation into PostgreSQL.

import (
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/heraldhq/herald/internal/app"
	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/internal/sqlstore"
)

const migrateToHelp = `Copies every table of the SQLite installation (lists, readers, the consent
ledger, campaigns and their ledgers, jobs, settings and the signing secret,
so links already mailed keep working) into the PostgreSQL database at URL.
The target is migrated first and must be empty. Everything is copied in one
transaction, identity sequences are moved past the copied ids, and the row
counts of every table are compared at the end. Stop Herald first; then set
HERALD_DATABASE_URL to URL and start it.`

func migrateToCommand(fs *flag.FlagSet) func(c *cli, args []string) error {
	return func(c *cli, args []string) error {
		if err := positional(args, 1, false, "the target's URL (postgres://…)"); err != nil {
			return err
		}
		target := args[0]
		if !strings.HasPrefix(target, "postgres://") && !strings.HasPrefix(target, "postgresql://") {
			return usagef("the target must be a PostgreSQL URL (postgres://user:password@host/database), not %q", app.DatabaseLocation(target))
		}
		cfg, err := c.config()
		if err != nil {
			return err
		}
		if _, ok := app.SQLitePath(cfg.DatabaseURL); !ok {
			return fmt.Errorf("the configured database %s is not SQLite: migrate-to copies a SQLite installation", app.DatabaseLocation(cfg.DatabaseURL))
		}
		if exists, err := databaseExists(c.ctx, cfg.DatabaseURL); err != nil {
			return fmt.Errorf("database %s: %w", app.DatabaseLocation(cfg.DatabaseURL), err)
		} else if !exists {
			return fmt.Errorf("there is no Herald database at %s to copy: run from the directory that holds it, or set HERALD_DATABASE_URL or --database-url", app.DatabaseLocation(cfg.DatabaseURL))
		}
		return c.withDB(func(cfg *config.Config, src *sqlstore.DB) error {
			dst, err := sqlstore.Open(c.ctx, target)
			if err != nil {
				return fmt.Errorf("target %s: %w", app.DatabaseLocation(target), err)
			}
			defer dst.Close()
			fmt.Fprintf(c.stderr, "herald: copying into %s\n", app.DatabaseLocation(target))
			start := time.Now()
			tty := isTerminal(c.stderr)
			res, err := sqlstore.CopyToPostgres(c.ctx, src, dst, func(p sqlstore.CopyProgress) {
				switch {
				case tty:
					frac := 1.0
					if p.Of > 0 {
						frac = float64(p.Rows) / float64(p.Of)
					}
					const width = 30
					n := int(frac * width)
					fmt.Fprintf(c.stderr, "\r[%d/%d] %-28s [%s%s] %s/%s rows ", p.Index, p.Tables, p.Table,
						strings.Repeat("#", n), strings.Repeat(".", width-n), group(p.Rows), group(p.Of))
					if p.Done {
						fmt.Fprintln(c.stderr)
					}
				case p.Done:
					fmt.Fprintf(c.stderr, "[%d/%d] %s: %s rows in %s\n", p.Index, p.Tables, p.Table, group(p.Rows), time.Since(p.TableStartedAt).Round(time.Millisecond))
				}
			})
			if err != nil {
				return err
			}
			var rows int64
			for _, t := range res {
				rows += t.Target
			}
			fmt.Fprintf(c.stderr, "herald: copied %d tables, %s rows in %s; row counts verified. Set HERALD_DATABASE_URL to the PostgreSQL URL and start Herald.\n",
				len(res), group(rows), time.Since(start).Round(time.Millisecond))
			return nil
		})
	}
}
