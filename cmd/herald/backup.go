package main

// herald backup and herald restore: an online copy of a SQLite
// installation, and putting such a copy in place of an empty data location.

import (
	"flag"
	"fmt"
	"time"

	"github.com/heraldhq/herald/internal/app"
	"github.com/heraldhq/herald/internal/sqlstore"
)

const backupHelp = `Writes a consistent copy of the SQLite database to PATH while Herald keeps
serving and sending (VACUUM INTO on a reader connection). PATH must not exist;
its directory must. The copy is written under a temporary name beside PATH,
synced, then named PATH, so a failed backup leaves nothing behind. Prints its
progress on stderr and the size and duration at the end.
On PostgreSQL it refuses: use pg_dump (see docs/deployment.md).`

const restoreHelp = `Checks that PATH is a sound Herald SQLite database (PRAGMA integrity_check,
a schema_migrations table) and copies it to the configured database location,
which must hold no database yet. Stop Herald first; start it afterwards and it
resumes campaigns and jobs from their ledgers.`

func backupCommand(fs *flag.FlagSet) func(c *cli, args []string) error {
	return func(c *cli, args []string) error {
		if err := positional(args, 1, false, "the backup's PATH"); err != nil {
			return err
		}
		cfg, err := c.config()
		if err != nil {
			return err
		}
		if _, ok := app.SQLitePath(cfg.DatabaseURL); !ok {
			return fmt.Errorf("the database is PostgreSQL (%s): herald backup copies SQLite only; use pg_dump, e.g. pg_dump --format=custom --file=herald.dump \"$HERALD_DATABASE_URL\" (see docs/deployment.md)",
				app.DatabaseLocation(cfg.DatabaseURL))
		}
		exists, err := databaseExists(c.ctx, cfg.DatabaseURL)
		if err != nil {
			return fmt.Errorf("database %s: %w", app.DatabaseLocation(cfg.DatabaseURL), err)
		}
		if !exists {
			return fmt.Errorf("there is no Herald database at %s to back up", app.DatabaseLocation(cfg.DatabaseURL))
		}
		db, err := sqlstore.Open(c.ctx, cfg.DatabaseURL)
		if err != nil {
			return err
		}
		defer db.Close()
		fmt.Fprintf(c.stderr, "herald: backing up %s to %s\n", app.DatabaseLocation(cfg.DatabaseURL), args[0])
		tty := isTerminal(c.stderr)
		progress := func(n int64) {
			if tty {
				fmt.Fprintf(c.stderr, "\r%s bytes written ", group(n))
			}
		}
		res, err := db.Backup(c.ctx, args[0], progress)
		if tty {
			fmt.Fprintln(c.stderr)
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(c.stderr, "herald: backup written to %s: %s bytes in %s\n", res.Path, group(res.Bytes), res.Duration.Round(time.Millisecond))
		return nil
	}
}

func restoreCommand(fs *flag.FlagSet) func(c *cli, args []string) error {
	return func(c *cli, args []string) error {
		if err := positional(args, 1, false, "the backup's PATH"); err != nil {
			return err
		}
		cfg, err := c.config()
		if err != nil {
			return err
		}
		dst, ok := app.SQLitePath(cfg.DatabaseURL)
		if !ok {
			return fmt.Errorf("the database is PostgreSQL (%s): herald restore writes SQLite only; use pg_restore (see docs/deployment.md)",
				app.DatabaseLocation(cfg.DatabaseURL))
		}
		exists, err := databaseExists(c.ctx, cfg.DatabaseURL)
		if err != nil {
			return fmt.Errorf("database %s: %w", app.DatabaseLocation(cfg.DatabaseURL), err)
		}
		if exists {
			return fmt.Errorf("%s already holds a Herald database: restore only into an empty data location (move it away first, or set --database-url)", app.DatabaseLocation(cfg.DatabaseURL))
		}
		start := time.Now()
		n, err := sqlstore.Restore(c.ctx, args[0], dst)
		if err != nil {
			return err
		}
		fmt.Fprintf(c.stderr, "herald: restored %s to %s: %s bytes in %s\n", args[0], app.DatabaseLocation(cfg.DatabaseURL), group(n), time.Since(start).Round(time.Millisecond))
		return nil
	}
}
