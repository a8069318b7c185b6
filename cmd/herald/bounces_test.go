package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const bounceCorpus = "../../internal/bounce/testdata/bounces/"

// TestBouncesParse: one JSON line per recipient in the format of
// PRODUCT.md §13, one ignore line for a file with nothing usable, - for
// standard input, exit 1 naming a file that cannot be read — and no
// database opened or created.
func TestBouncesParse(t *testing.T) {
	env, path := newDir(t)
	two := bounceCorpus + "postfix-two-recipients.eml"
	reply := bounceCorpus + "not-a-bounce-reply.eml"
	arf := bounceCorpus + "arf-redacted.eml"

	stdin, err := os.Open(bounceCorpus + "gmail-unauthenticated.eml")
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	saved := os.Stdin
	os.Stdin = stdin
	defer func() { os.Stdin = saved }()

	r := runCLI(t, env, "bounces", "parse", two, reply, "-", arf)
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("want exit 0 and nothing on stderr: %s", r)
	}
	want := []map[string]any{
		{"file": two, "recipient": "max@example.org", "kind": "hard", "status": "5.1.1", "reason": "user-unknown"},
		{"file": two, "recipient": "nia@example.org", "kind": "soft", "status": "4.2.2", "reason": "mailbox-full"},
		{"file": reply, "recipient": "", "kind": "ignore", "status": "", "reason": "not-a-bounce"},
		{"file": "-", "recipient": "lou@gmail.example", "kind": "soft", "status": "5.7.26", "reason": "policy", "sender_problem": true},
		{"file": arf, "recipient": "", "kind": "complaint", "status": "", "reason": "complaint",
			"message_id": "20261204101500.7f3a9c@news.example.com"},
	}
	got := lines(r.stdout)
	if len(got) != len(want) {
		t.Fatalf("%d lines, want %d: %s", len(got), len(want), r)
	}
	for i, line := range got {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("line %d is not JSON: %q", i+1, line)
		}
		for _, k := range []string{"file", "recipient", "kind", "status", "reason", "diagnostic"} {
			if _, ok := m[k]; !ok {
				t.Errorf("line %d lacks %q: %s", i+1, k, line)
			}
		}
		for k, v := range want[i] {
			if m[k] != v {
				t.Errorf("line %d: %s = %v, want %v (%s)", i+1, k, m[k], v, line)
			}
		}
	}
	if !strings.Contains(got[0], `"diagnostic":"550 5.1.1 <max@example.org>: User unknown"`) {
		t.Errorf("diagnostic not as the server wrote it: %s", got[0])
	}

	missing := filepath.Join(t.TempDir(), "nope.eml")
	r = runCLI(t, env, "bounces", "parse", two, missing)
	if r.code != 1 || len(lines(r.stdout)) != 2 || !strings.Contains(r.stderr, "nope.eml") ||
		!strings.Contains(r.stderr, "1 of 2 files could not be read") {
		t.Errorf("an unreadable file: want the others printed, its name on stderr and exit 1: %s", r)
	}

	r = runCLI(t, env, "bounces", "parse")
	if r.code != 2 || !strings.Contains(r.stderr, "missing the FILE(s)") {
		t.Errorf("no file: want a usage error: %s", r)
	}
	if exists(path) || exists(filepath.Dir(path)) {
		t.Fatalf("bounces parse created %s", path)
	}
}
