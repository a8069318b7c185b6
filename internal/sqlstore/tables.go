package sqlstore

// The database's tables as the database itself lists them, and their row
// counts: for backup checks and for copying between databases.

import (
	"context"
	"fmt"
	"sort"
	"strings"
)

// Tables lists the database's own tables (not the engine's), sorted.
func (db *DB) Tables(ctx context.Context) ([]string, error) {
	q := `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`
	if db.dialect.name() == "postgres" {
		q = `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`
	}
	var out []string
	err := db.read(ctx, func(tx *Tx) error {
		rows, err := tx.QueryContext(ctx, q)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var t string
			if err := rows.Scan(&t); err != nil {
				return err
			}
			out = append(out, t)
		}
		return rows.Err()
	})
	sort.Strings(out)
	return out, err
}

// TableCounts returns the number of rows of every table.
func (db *DB) TableCounts(ctx context.Context) (map[string]int64, error) {
	tables, err := db.Tables(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]int64{}
	err = db.read(ctx, func(tx *Tx) error {
		for _, t := range tables {
			var n int64
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+quoteIdent(t)).Scan(&n); err != nil {
				return fmt.Errorf("counting %s: %w", t, err)
			}
			out[t] = n
		}
		return nil
	})
	return out, err
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
