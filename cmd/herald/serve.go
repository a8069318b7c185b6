package main

// herald serve and herald migrate.

import (
	"flag"
	"fmt"
	"net"

	"github.com/heraldhq/herald/internal/app"
	"github.com/heraldhq/herald/internal/logging"
)

// serveCommand runs Herald. A newcomer's first `herald serve` creates the
// database (the log says where); later starts use it.
func serveCommand(fs *flag.FlagSet) func(c *cli, args []string) error {
	return func(c *cli, args []string) error {
		if err := positional(args, 0, false, ""); err != nil {
			return err
		}
		cfg, err := c.config()
		if err != nil {
			return err
		}
		log := logging.New(c.stderr, cfg.LogFormat, cfg.LogLevel)
		loc := app.DatabaseLocation(cfg.DatabaseURL)
		exists, err := databaseExists(c.ctx, cfg.DatabaseURL)
		if err != nil {
			return fmt.Errorf("database %s: %w", loc, err)
		}
		if !exists {
			log.Info("no Herald database yet: creating a new one", "database", loc)
		}
		a, err := app.New(c.ctx, cfg, log)
		if err != nil {
			return err
		}
		defer a.Close()
		ln, err := net.Listen("tcp", cfg.Listen)
		if err != nil {
			return err
		}
		return a.Run(c.ctx, ln) // logs the listen address, base URL, database and where mail goes
	}
}

// migrateCommand applies migrations. Making the schema is what it is for,
// so it creates a database that does not exist yet — and says so.
func migrateCommand(fs *flag.FlagSet) func(c *cli, args []string) error {
	return func(c *cli, args []string) error {
		if err := positional(args, 0, false, ""); err != nil {
			return err
		}
		cfg, err := c.config()
		if err != nil {
			return err
		}
		db, _, err := c.openDB(cfg, true)
		if err != nil {
			return err
		}
		defer db.Close()
		v, err := db.SchemaVersion(c.ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "database is at schema version %d\n", v)
		return nil
	}
}
