package logging

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
)

func TestRedact(t *testing.T) {
	tests := []struct{ in, want string }{
		{"no address here", "no address here"},
		{"alice@example.com", "[redacted]@example.com"},
		{"smtp RCPT: 550 5.1.1 <Bob.Smith+news@mail.example.org>: no such user", "smtp RCPT: 550 5.1.1 <[redacted]@mail.example.org>: no such user"},
		{"a@b.c and jürgen@bücher.example.", "[redacted]@b.c and [redacted]@bücher.example."},
		{"to x_y-z@localhost", "to [redacted]@localhost"},
		{"postgres://herald:s3cret@db.example.com/herald", "postgres://herald:[redacted]@db.example.com/herald"},
		{"@ alone, trailing@, @leading", "@ alone, trailing@, @leading"},
		{"two@a.example,three@b.example", "[redacted]@a.example,[redacted]@b.example"},
	}
	for _, tt := range tests {
		if got := Redact(tt.in); got != tt.want {
			t.Errorf("Redact(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func FuzzRedact(f *testing.F) {
	f.Add("alice@example.com")
	f.Add("ü@ü.ü @@ a@b")
	f.Fuzz(func(t *testing.T, s string) {
		out := Redact(s)
		if strings.Count(out, "@") != strings.Count(s, "@") {
			t.Fatalf("Redact(%q) = %q changed the number of @", s, out)
		}
	})
}

type stringer struct{ s string }

func (s stringer) String() string { return s.s }

func TestHandler(t *testing.T) {
	var buf bytes.Buffer
	log := New(&buf, "json", slog.LevelDebug).With("who", "with@example.com")
	ctx := WithRequestID(context.Background(), "req-1")
	log.InfoContext(ctx, "signup from reader@example.com", "email", "reader@example.com", "err", errors.New("550 <reader@example.com> refused"),
		"s", stringer{"x@example.com"}, slog.Group("g", "to", "g@example.com"), "n", 3)
	log.DebugContext(ctx, "debug keeps reader@example.com", "email", "reader@example.com")
	log.Warn("no request")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines:\n%s", len(lines), buf.String())
	}
	if strings.Contains(lines[0], "reader@") || strings.Contains(lines[0], "with@") || strings.Contains(lines[0], "x@") || strings.Contains(lines[0], "g@") {
		t.Errorf("info line shows an address: %s", lines[0])
	}
	var info map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &info); err != nil {
		t.Fatal(err)
	}
	if info["request_id"] != "req-1" || info["email"] != "[redacted]@example.com" || info["n"] != 3.0 || info["who"] != "[redacted]@example.com" {
		t.Errorf("info line: %v", info)
	}
	if !strings.Contains(lines[1], `"email":"reader@example.com"`) || !strings.Contains(lines[1], `"who":"with@example.com"`) || !strings.Contains(lines[1], `"request_id":"req-1"`) {
		t.Errorf("debug line: %s", lines[1])
	}
	if strings.Contains(lines[2], "request_id") {
		t.Errorf("a line without a request has a request id: %s", lines[2])
	}

	buf.Reset()
	New(&buf, "text", slog.LevelInfo).Debug("hidden")
	New(&buf, "text", slog.LevelInfo).InfoContext(ctx, "shown", "to", "a@b.example")
	if got := buf.String(); strings.Contains(got, "hidden") || !strings.Contains(got, "msg=shown to=[redacted]@b.example request_id=req-1") {
		t.Errorf("text: %q", got)
	}
}
