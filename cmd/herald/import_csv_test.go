package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/app"
	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/internal/sqlstore"
)

// TestImportCSVCommand (issue 14 item 9): `herald import mailchimp`
// refuses a plain CSV and points to `herald import csv`; `--dry-run` shows
// the mapping and counts and writes nothing; the import then writes.
func TestImportCSVCommand(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	env := []string{"HERALD_DATABASE_URL=sqlite:" + filepath.Join(dir, "h.db")}
	cfg, _, err := config.Load("test", nil, env)
	if err != nil {
		t.Fatal(err)
	}
	db, _, err := app.OpenDB(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.CreateList(ctx, &herald.List{Slug: "daily", Name: "Daily"}); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "subscribed_members_export_1.csv")
	if err := os.WriteFile(file, []byte("email,name,city\nann@example.com,Ann Lee,Paris\nbroken,,\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	run1 := func(args ...string) (string, error) {
		res := runCLI(t, env, args...)
		if res.code != 0 {
			return res.stdout + res.stderr, errors.New(res.stderr)
		}
		return res.stdout + res.stderr, nil
	}
	count := func() int {
		_, n, err := db.FindSubscribers(ctx, sqlstore.SubscriberFilter{})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	out, err := run1("import", "mailchimp", "--list", "daily", file)
	if err == nil || !strings.Contains(err.Error(), "herald import csv") {
		t.Fatalf("plain CSV as a Mailchimp export: %v\n%s", err, out)
	}
	out, err = run1("import", "csv", "--list", "daily", "--dry-run", file)
	if err != nil {
		t.Fatalf("dry run: %v\n%s", err, out)
	}
	for _, want := range []string{"nothing was written", `"city"`, `attribute "city"`, "1 valid, 1 malformed", "without opt-in evidence", ":3: invalid email address"} {
		if !strings.Contains(out, want) {
			t.Errorf("dry run output lacks %q:\n%s", want, out)
		}
	}
	if n := count(); n != 0 {
		t.Fatalf("the dry run wrote %d subscribers", n)
	}
	if out, err = run1("import", "csv", "--list", "daily", file); err != nil || !strings.Contains(out, "added                  1") {
		t.Fatalf("import: %v\n%s", err, out)
	}
	if n := count(); n != 1 {
		t.Fatalf("%d subscribers after the import", n)
	}
	if out, err = run1("import", "csv", "--help"); err != nil || !strings.Contains(out, "herald import csv FILE... [--dry-run] --list SLUG") {
		t.Errorf("--help: %v\n%s", err, out)
	}
}
