// Package storetest opens real test databases for Herald's tests: a SQLite
// file in t.TempDir(), and, when HERALD_TEST_POSTGRES_URL is set, a fresh
// PostgreSQL schema per test, dropped afterwards.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/heraldhq/herald/internal/sqlstore"
)

// URLs returns a database URL per available dialect: "sqlite" always,
// "postgres" when HERALD_TEST_POSTGRES_URL is set. Each URL points at an
// empty database of its own.
func URLs(tb testing.TB) map[string]string {
	tb.Helper()
	out := map[string]string{"sqlite": "sqlite:" + filepath.Join(tb.TempDir(), "herald.db")}
	if pg := os.Getenv("HERALD_TEST_POSTGRES_URL"); pg != "" {
		out["postgres"] = PostgresSchema(tb, pg)
	}
	return out
}

// PostgresSchema creates a fresh schema and returns base with search_path set to it.
func PostgresSchema(tb testing.TB, base string) string {
	tb.Helper()
	admin, err := sql.Open("pgx", base)
	if err != nil {
		tb.Fatal(err)
	}
	defer admin.Close()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "herald_test_" + hex.EncodeToString(b)
	if _, err := admin.Exec(`CREATE SCHEMA ` + schema); err != nil {
		tb.Fatalf("postgres: %v", err)
	}
	tb.Cleanup(func() {
		a, err := sql.Open("pgx", base)
		if err == nil {
			_, _ = a.Exec(`DROP SCHEMA ` + schema + ` CASCADE`)
			a.Close()
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		tb.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// Open opens and migrates a database at url, closed when the test ends.
func Open(tb testing.TB, dbURL string) *sqlstore.DB {
	tb.Helper()
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, dbURL)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		tb.Fatal(err)
	}
	db.SetSecret([]byte("test secret, at least 32 bytes long"))
	if _, _, err := db.EnsureDisclosure(ctx, "Test disclosure: your address is processed by the publisher.", nil); err != nil {
		tb.Fatal(err)
	}
	return db
}

// Each runs fn as a subtest against every available database.
func Each(t *testing.T, fn func(t *testing.T, db *sqlstore.DB)) {
	t.Helper()
	for name, u := range URLs(t) {
		t.Run(name, func(t *testing.T) { fn(t, Open(t, u)) })
	}
}
