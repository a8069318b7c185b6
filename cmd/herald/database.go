package main

// The one way a command opens the database: configuration, then a check
// that the database exists (unless --create), one line on stderr naming
// it, migrations, and closing when the command is done.

import (
	"context"
	"fmt"
	"os"

	"github.com/heraldhq/herald/internal/app"
	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/internal/sqlstore"
)

// withDB loads the configuration, opens the database (refusing a new one
// unless --create was given), runs fn and closes the database.
func (c *cli) withDB(fn func(cfg *config.Config, db *sqlstore.DB) error) error {
	cfg, err := c.config()
	if err != nil {
		return err
	}
	db, _, err := c.openDB(cfg, c.create)
	if err != nil {
		return err
	}
	defer db.Close()
	return fn(cfg, db)
}

// openDB opens and migrates the configured database and says on stderr
// which one it is. Without create, a database that does not exist yet (a
// missing SQLite file, a PostgreSQL database without Herald's tables) is
// refused, so that a command run from the wrong directory does not
// silently work on a new, empty database.
func (c *cli) openDB(cfg *config.Config, create bool) (*sqlstore.DB, []byte, error) {
	loc := app.DatabaseLocation(cfg.DatabaseURL)
	exists, err := databaseExists(c.ctx, cfg.DatabaseURL)
	if err != nil {
		return nil, nil, fmt.Errorf("database %s: %w", loc, err)
	}
	switch {
	case !exists && !create:
		where := "there is no Herald database at " + loc
		if _, ok := app.SQLitePath(cfg.DatabaseURL); ok {
			where += " (HERALD_DATABASE_URL is relative to the current directory unless absolute)"
		}
		return nil, nil, fmt.Errorf("%s: run from the directory that holds herald-data, set HERALD_DATABASE_URL or --database-url, "+
			"or pass --create to make a new database there", where)
	case !exists:
		fmt.Fprintf(c.stderr, "herald: creating a new database at %s\n", loc)
	default:
		fmt.Fprintf(c.stderr, "herald: database %s\n", loc)
	}
	return app.OpenDB(c.ctx, cfg)
}

// databaseExists tells whether dbURL names a Herald database: a SQLite
// file that is not empty and has Herald's migrations table, or a
// PostgreSQL database (or search_path schema) that has it.
func databaseExists(ctx context.Context, dbURL string) (bool, error) {
	if path, ok := app.SQLitePath(dbURL); ok {
		st, err := os.Stat(path)
		if os.IsNotExist(err) || err == nil && st.Size() == 0 {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		if st.IsDir() {
			return false, fmt.Errorf("%s is a directory", path)
		}
	}
	db, err := sqlstore.Open(ctx, dbURL)
	if err != nil {
		return false, err
	}
	defer db.Close()
	// SchemaVersion fails when schema_migrations is missing; the database
	// answered Open's ping just now, so that is what a failure means here.
	v, err := db.SchemaVersion(ctx)
	return err == nil && v > 0, nil
}
