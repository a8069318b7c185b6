package main

import (
	"os"
	"strings"
	"testing"

	"github.com/heraldhq/herald/internal/sqlstore/storetest"
)

// TestMigrateToCommand: migrate-to copies the installation and says so a
// table per line; the copy serves the same data; a second run is refused.
func TestMigrateToCommand(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"migrate-to"}, 2, "missing the target's URL"},
		{[]string{"migrate-to", "mysql://db/herald"}, 2, "must be a PostgreSQL URL"},
		{[]string{"migrate-to", "postgres://x@127.0.0.1:1/h", "--database-url", "postgres://y@127.0.0.1:1/h"}, 1, "is not SQLite"},
		{[]string{"migrate-to", "postgres://x@127.0.0.1:1/h"}, 1, "no Herald database at"},
	} {
		env, _ := newDir(t)
		r := runCLI(t, env, tc.args...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("herald %s: want exit %d and %q, got %s", strings.Join(tc.args, " "), tc.code, tc.want, r)
		}
	}
	pg := os.Getenv("HERALD_TEST_POSTGRES_URL")
	if pg == "" {
		t.Skip("HERALD_TEST_POSTGRES_URL is not set")
	}
	env, _ := newDir(t)
	if r := runCLI(t, env, "token", "create", "carried-over", "--create"); r.code != 0 {
		t.Fatal(r)
	}
	target := storetest.PostgresSchema(t, pg)
	r := runCLI(t, env, "migrate-to", target)
	if r.code != 0 || !strings.Contains(r.stderr, "] api_tokens: 1 rows in ") || !strings.Contains(r.stderr, "row counts verified") {
		t.Fatalf("migrate-to: %s", r)
	}
	if r := runCLI(t, nil, "token", "list", "--database-url", target); r.code != 0 || !strings.Contains(r.stdout, "carried-over") {
		t.Fatalf("token list on PostgreSQL: %s", r)
	}
	if r := runCLI(t, env, "migrate-to", target); r.code == 0 || !strings.Contains(r.stderr, "not empty") {
		t.Fatalf("second migrate-to: %s", r)
	}
}
