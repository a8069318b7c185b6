package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/sqlstore"
	"github.com/heraldhq/herald/internal/sqlstore/storetest"
)

// result is one in-process run of the command line.
type result struct {
	code           int
	stdout, stderr string
}

func (r result) String() string {
	return "exit " + strconv.Itoa(r.code) + "\n--- stdout:\n" + r.stdout + "--- stderr:\n" + r.stderr
}

// runCLI runs the command line with args and environ, as main would.
func runCLI(t *testing.T, environ []string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, environ, &out, &errb)
	return result{code, out.String(), errb.String()}
}

func lines(s string) []string { return strings.Split(strings.TrimRight(s, "\n"), "\n") }

// newDir gives a test its own database location, which does not exist yet.
func newDir(t *testing.T) (env []string, path string) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "data", "herald.db")
	return []string{"HERALD_DATABASE_URL=sqlite:" + path}, path
}

func exists(path string) bool { _, err := os.Stat(path); return err == nil }

// TestEveryCommandHelp: every command's -h and --help (and `herald help
// COMMAND`) print its own usage on stdout and exit 0 without acting — no
// database is opened or created, no token named "--help" is made.
func TestEveryCommandHelp(t *testing.T) {
	env, path := newDir(t)
	for _, cmd := range commands {
		words := strings.Fields(cmd.name)
		want := "Usage:\n  herald " + cmd.name
		for _, h := range []string{"-h", "--help", "-help"} {
			args := append(append([]string{}, words...), h)
			if cmd.args == "NAME" || cmd.args == "ID" || cmd.args == "FILE..." {
				// Help wins wherever it stands among the arguments.
				args = append(append(append([]string{}, words...), "x"), h)
			}
			r := runCLI(t, env, args...)
			if r.code != 0 || !strings.HasPrefix(r.stdout, want) || r.stderr != "" {
				t.Errorf("herald %s: want its own usage (%q…) on stdout and exit 0, got %s", strings.Join(args, " "), want, r)
			}
			if strings.Contains(r.stdout, "Commands:") {
				t.Errorf("herald %s printed the overview, not its own usage", strings.Join(args, " "))
			}
		}
		r := runCLI(t, env, append([]string{"help"}, words...)...)
		own := runCLI(t, env, append(words, "--help")...)
		if r.code != 0 || r.stdout != own.stdout {
			t.Errorf("herald help %s differs from herald %s --help: %s", cmd.name, cmd.name, r)
		}
	}
	if exists(path) || exists(filepath.Dir(path)) {
		t.Fatalf("asking for help created %s", path)
	}
}

// TestHelpAndUsageErrors covers the defects of issue 14 item 12, one row each.
func TestHelpAndUsageErrors(t *testing.T) {
	env, path := newDir(t)
	overview := runCLI(t, env, "help")
	for _, tc := range []struct {
		name    string
		args    []string
		code    int
		stdout  []string // substrings of stdout
		stderr  []string // substrings of stderr
		exactly int      // stderr lines, when not 0
	}{
		{"token create --help makes no token named --help", []string{"token", "create", "--help"}, 0,
			[]string{"herald token create NAME"}, nil, 0},
		{"dkim keygen --help is its own help, exit 0", []string{"dkim", "keygen", "--help"}, 0,
			[]string{"herald dkim keygen", "--selector SELECTOR", "--domain DOMAIN", "--algo ALGORITHM"}, nil, 0},
		{"bench --help lists the bench commands, exit 0", []string{"bench", "--help"}, 0,
			[]string{"herald bench send", "--subscribers NUMBER", "herald bench import-mailchimp", "--rows NUMBER"}, nil, 0},
		{"serve --help is serve's own help", []string{"serve", "--help"}, 0, []string{"herald serve [settings flags]", "--database-url"}, nil, 0},
		{"help COMMAND", []string{"help", "export", "mailchimp"}, 0, []string{"herald export mailchimp", "--out FILE", "--status STATUS"}, nil, 0},
		{"help settings", []string{"help", "settings"}, 0, []string{"HERALD_DATABASE_URL", "--auth-fail-limit"}, nil, 0},
		{"help of a group", []string{"help", "token"}, 0, []string{"herald token create", "herald token list", "herald token revoke ID"}, nil, 0},
		{"version", []string{"version"}, 0, []string{"herald "}, nil, 0},
		{"--version", []string{"--version"}, 0, []string{"herald "}, nil, 0},

		{"no command", nil, 2, nil, []string{"no command given", "herald help"}, 2},
		{"unknown command", []string{"frobnicate"}, 2, nil, []string{`unknown command "frobnicate"`, "herald help"}, 2},
		{"a group without subcommand", []string{"token"}, 2, nil, []string{"create, list, revoke", "herald token --help"}, 2},
		{"unknown subcommand", []string{"dkim", "rotate"}, 2, nil, []string{`unknown subcommand "rotate"`, "herald dkim --help"}, 2},
		{"unknown flag", []string{"token", "list", "--colour"}, 2, nil, []string{"unknown flag --colour", "herald token list --help"}, 2},
		{"flag without its value", []string{"import", "mailchimp", "a.csv", "--list"}, 2, nil, []string{"--list needs a value"}, 2},
		{"token create without a name", []string{"token", "create"}, 2, nil, []string{"missing the token's NAME", "--help"}, 2},
		{"token create with two names", []string{"token", "create", "a", "b"}, 2, nil, []string{`unexpected argument "b"`}, 2},
		{"token revoke of a non-number", []string{"token", "revoke", "first"}, 2, nil, []string{`"first" is not a token id`}, 2},
		{"import without --list", []string{"import", "mailchimp", "a.csv"}, 2, nil, []string{"needs --list SLUG", "herald import mailchimp --help"}, 2},
		{"import without files", []string{"import", "mailchimp", "--list", "news"}, 2, nil, []string{"missing the FILE(s)"}, 2},
		{"bad --group", []string{"import", "mailchimp", "--list", "news", "--group", "nonsense", "a.csv"}, 2, nil, []string{"--group"}, 2},
		{"export with a wrong --status", []string{"export", "mailchimp", "--list", "news", "--status", "gone"}, 2, nil, []string{"--status must be"}, 2},
		{"dkim keygen without --domain", []string{"dkim", "keygen", "--selector", "s1"}, 2, nil, []string{"needs --selector and --domain"}, 2},
		{"bench send without --subscribers", []string{"bench", "send"}, 2, nil, []string{"needs --subscribers N"}, 2},
		{"an invalid setting", []string{"token", "list", "--listen", "nowhere"}, 2, nil, []string{"invalid HERALD_LISTEN"}, 2},
		{"a flag before the command", []string{"--database-url", "sqlite:x.db", "token", "list"}, 2, nil, []string{"flags come after it"}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runCLI(t, env, tc.args...)
			if r.code != tc.code {
				t.Fatalf("exit %d, want %d: %s", r.code, tc.code, r)
			}
			for _, s := range tc.stdout {
				if !strings.Contains(r.stdout, s) {
					t.Errorf("stdout lacks %q: %s", s, r)
				}
			}
			for _, s := range tc.stderr {
				if !strings.Contains(r.stderr, s) {
					t.Errorf("stderr lacks %q: %s", s, r)
				}
			}
			if tc.exactly > 0 && len(lines(r.stderr)) != tc.exactly {
				t.Errorf("stderr has %d lines, want %d (the error and the hint): %s", len(lines(r.stderr)), tc.exactly, r)
			}
			if tc.code == 2 && (strings.Contains(r.stderr, "Commands:") || r.stdout != "") {
				t.Errorf("a usage error printed the whole usage: %s", r)
			}
			if tc.code == 0 && r.stdout == overview.stdout && tc.name != "help" {
				t.Errorf("printed the overview instead of its own help")
			}
		})
	}
	if exists(path) {
		t.Fatalf("help and usage errors created %s", path)
	}
}

// TestOverviewListsEveryCommandAndFlag: `herald help` names every command
// and every flag of each.
func TestOverviewListsEveryCommandAndFlag(t *testing.T) {
	r := runCLI(t, nil, "help")
	if r.code != 0 {
		t.Fatal(r)
	}
	for _, cmd := range commands {
		if !strings.Contains(r.stdout, "herald "+cmd.name) {
			t.Errorf("overview lacks %q", cmd.name)
		}
		line := usageLine(&cmd)
		if !strings.Contains(r.stdout, line) {
			t.Errorf("overview lacks the usage line %q", line)
		}
	}
	for _, s := range []string{"herald dkim list", "import mailchimp FILE... [--dry-run] [--group COLUMN=GROUP:SLUG] --list SLUG", "import csv FILE... [--dry-run] --list SLUG",
		"export mailchimp --list SLUG [--out FILE] [--status STATUS]", "herald bench send", "herald bench import-mailchimp",
		"herald token list", "herald token revoke ID", "HERALD_DATABASE_URL", "./herald-data"} {
		if !strings.Contains(r.stdout, s) {
			t.Errorf("overview lacks %q", s)
		}
	}
}

// TestCommandsRefuseANewDatabase: a command run where there is no
// database names the location and --create, creates nothing, and exits 1;
// with --create it makes the database and says so; later commands name it.
func TestCommandsRefuseANewDatabase(t *testing.T) {
	env, path := newDir(t)
	csv := filepath.Join(t.TempDir(), "subscribed_members_export_1.csv")
	if err := os.WriteFile(csv, []byte("\"Email Address\",\"First Name\"\nrita@example.com,Rita\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"token", "create", "ci"}, {"token", "list"}, {"token", "revoke", "1"}, {"dkim", "list"},
		{"dkim", "keygen", "--selector", "s1", "--domain", "example.com"},
		{"import", "mailchimp", "--list", "news", csv}, {"export", "mailchimp", "--list", "news"},
	} {
		r := runCLI(t, env, args...)
		if r.code != 1 || len(lines(r.stderr)) != 1 || !strings.Contains(r.stderr, path) || !strings.Contains(r.stderr, "--create") || r.stdout != "" {
			t.Errorf("herald %s without a database: want one line naming %s and --create, exit 1; got %s", strings.Join(args, " "), path, r)
		}
		if exists(path) || exists(filepath.Dir(path)) {
			t.Fatalf("herald %s created %s", strings.Join(args, " "), path)
		}
	}

	// --create, with the flag after the name: made, and said so.
	r := runCLI(t, env, "token", "create", "ci", "--create")
	if r.code != 0 || !strings.HasPrefix(r.stdout, sqlstore.APITokenPrefix) || !strings.Contains(r.stderr, "creating a new database at sqlite:"+path) {
		t.Fatalf("token create --create: %s", r)
	}
	tok := strings.TrimSpace(r.stdout)

	// From now on the database is named, one line, and used.
	r = runCLI(t, env, "token", "list")
	if r.code != 0 || lines(r.stderr)[0] != "herald: database sqlite:"+path || !strings.Contains(r.stdout, "ci") || !strings.Contains(r.stdout, "never") {
		t.Fatalf("token list: %s", r)
	}
	if strings.Contains(r.stdout, tok) {
		t.Fatalf("token list shows the token itself: %s", r)
	}

	// Help on an existing database makes no token named --help or -h.
	for _, h := range []string{"--help", "-h"} {
		if r = runCLI(t, env, "token", "create", h); r.code != 0 || !strings.HasPrefix(r.stdout, "Usage:") {
			t.Fatalf("token create %s: %s", h, r)
		}
	}
	if r = runCLI(t, env, "token", "list"); len(lines(r.stdout)) != 2 {
		t.Fatalf("after token create --help: want the header and one token, got %s", r)
	}

	// A failed import names its error in one line, not the whole usage.
	r = runCLI(t, env, "import", "mailchimp", "--list", "nosuch", csv)
	if r.code != 1 || len(lines(r.stderr)) != 2 || !strings.Contains(lines(r.stderr)[1], `"nosuch"`) {
		t.Fatalf("import into a missing list: want the database line and one error line, exit 1; got %s", r)
	}

	// Revoke: gone; revoking again fails in one line.
	r = runCLI(t, env, "token", "revoke", "1")
	if r.code != 0 || !strings.Contains(r.stderr, "Revoked API token 1 (ci)") {
		t.Fatalf("token revoke: %s", r)
	}
	r = runCLI(t, env, "token", "revoke", "1")
	if r.code != 1 || len(lines(r.stderr)) != 2 || !strings.Contains(r.stderr, "No API token with id 1") {
		t.Fatalf("token revoke twice: %s", r)
	}
	if r = runCLI(t, env, "token", "list", "--json"); r.code != 0 || strings.TrimSpace(r.stdout) != "[]" {
		t.Fatalf("token list --json after revoking: %s", r)
	}
}

// TestPostgresWithoutSchemaRefused: a PostgreSQL database (here a schema
// on the search_path) without Herald's tables is refused too, and left
// untouched; migrate creates the tables and says so.
func TestPostgresWithoutSchemaRefused(t *testing.T) {
	pg := os.Getenv("HERALD_TEST_POSTGRES_URL")
	if pg == "" {
		t.Skip("HERALD_TEST_POSTGRES_URL not set")
	}
	u := storetest.PostgresSchema(t, pg)
	env := []string{"HERALD_DATABASE_URL=" + u}
	r := runCLI(t, env, "token", "create", "ci")
	if r.code != 1 || !strings.Contains(r.stderr, "no Herald database at postgres://") || !strings.Contains(r.stderr, "--create") {
		t.Fatalf("token create on an empty PostgreSQL schema: %s", r)
	}
	db, err := sqlstore.Open(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.SchemaVersion(context.Background()); err == nil {
		t.Fatal("the refused command created Herald's tables")
	}
	r = runCLI(t, env, "migrate")
	if r.code != 0 || !strings.Contains(r.stderr, "creating a new database at postgres://") || !strings.Contains(r.stdout, "schema version") {
		t.Fatalf("migrate: %s", r)
	}
	if r = runCLI(t, env, "token", "create", "ci"); r.code != 0 || !strings.HasPrefix(r.stdout, sqlstore.APITokenPrefix) {
		t.Fatalf("token create after migrate: %s", r)
	}
}

// syncBuffer is written by serve's goroutines and read by the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestServeSaysWhatItUses: serve creates the database on first run and
// logs that, then which database, where mail goes (never the relay's
// password) and the base URL.
func TestServeSaysWhatItUses(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		mail string
	}{
		{"outbox", nil, "mail=\"outbox"},
		{"relay", []string{"--smtp-url", "smtp://mailer:hunter2@127.0.0.1:2525"}, "mail=smtp://127.0.0.1:2525"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env, path := newDir(t)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var out, errb syncBuffer
			done := make(chan int, 1)
			args := append([]string{"serve", "--listen", "127.0.0.1:0", "--base-url", "https://news.example.com"}, tc.args...)
			go func() { done <- run(ctx, args, env, &out, &errb) }()
			deadline := time.Now().Add(30 * time.Second)
			for !strings.Contains(errb.String(), "herald is serving") {
				select {
				case code := <-done:
					t.Fatalf("serve exited %d: %s", code, errb.String())
				case <-time.After(20 * time.Millisecond):
				}
				if time.Now().After(deadline) {
					t.Fatalf("serve did not start: %s", errb.String())
				}
			}
			cancel()
			if code := <-done; code != 0 {
				t.Errorf("serve exited %d after a graceful stop", code)
			}
			log := errb.String()
			for _, s := range []string{"creating a new one", "database=sqlite:" + path, tc.mail, "base_url=https://news.example.com"} {
				if !strings.Contains(log, s) {
					t.Errorf("serve's log lacks %q:\n%s", s, log)
				}
			}
			if strings.Contains(log, "hunter2") {
				t.Errorf("serve logged the relay's password:\n%s", log)
			}
		})
	}
}

// TestParseInterspersed: flags may follow positional arguments; "--" ends
// the flags, so a token may be named "--help" when that is really meant.
func TestParseInterspersed(t *testing.T) {
	env, _ := newDir(t)
	r := runCLI(t, env, "token", "create", "--create", "--", "--help")
	if r.code != 0 || !strings.HasPrefix(r.stdout, sqlstore.APITokenPrefix) {
		t.Fatalf("token create -- --help: %s", r)
	}
	if r = runCLI(t, env, "token", "list"); !strings.Contains(r.stdout, "--help") {
		t.Fatalf("the token named --help is missing: %s", r)
	}
}
