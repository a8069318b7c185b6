// Package storetest opens real test databases for Herald's tests: a SQLite
// file in t.TempDir(), and, when HERALD_TEST_POSTGRES_URL is set, a fresh
// PostgreSQL schema per test, dropped afterwards.
package storetest

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/heraldhq/herald/internal/sqlstore"
	"github.com/heraldhq/herald/internal/sqlstore/pgschema"
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

// PostgresSchema creates a fresh schema and returns base with search_path
// set to it; the schema is dropped when the test ends.
func PostgresSchema(tb testing.TB, base string) string {
	tb.Helper()
	u, drop, err := pgschema.Fresh(context.Background(), base, "herald_test")
	if err != nil {
		tb.Fatalf("postgres: %v", err)
	}
	tb.Cleanup(func() { _ = drop() })
	return u
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
