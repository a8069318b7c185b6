// Package pgschema makes throwaway PostgreSQL schemas for tests and
// benchmarks: a fresh, empty store without creating a database. It is
// support code, not part of the store's API.
package pgschema

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
)

// Fresh creates an empty schema named prefix_<random> on the
// PostgreSQL database at base and returns base with search_path set to it,
// and a function that drops it — for benchmarks that need a fresh
// database without creating one.
func Fresh(ctx context.Context, base, prefix string) (string, func() error, error) {
	admin, err := sql.Open("pgx", base)
	if err != nil {
		return "", nil, err
	}
	defer admin.Close()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := prefix + "_" + hex.EncodeToString(b)
	if _, err := admin.ExecContext(ctx, `CREATE SCHEMA `+schema); err != nil {
		return "", nil, fmt.Errorf("postgres: %w", err)
	}
	u, err := url.Parse(base)
	if err != nil {
		return "", nil, err
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	drop := func() error {
		a, err := sql.Open("pgx", base)
		if err != nil {
			return err
		}
		defer a.Close()
		_, err = a.Exec(`DROP SCHEMA ` + schema + ` CASCADE`)
		return err
	}
	return u.String(), drop, nil
}
