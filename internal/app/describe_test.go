package app

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestDescriptionsHidePasswords(t *testing.T) {
	wd, _ := filepath.Abs(".")
	for _, tc := range []struct{ in, want string }{
		{"sqlite:herald-data/herald.db", "sqlite:" + filepath.Join(wd, "herald-data/herald.db")},
		{"sqlite:///var/lib/herald/h.db", "sqlite:/var/lib/herald/h.db"},
		{"postgres://herald:s3cret@db.internal:5432/herald?sslmode=require", "postgres://herald@db.internal:5432/herald?sslmode=require"},
		{"postgres://db.internal/herald?user=h&password=s3cret", "postgres://db.internal/herald?password=xxxxx&user=h"},
	} {
		if got := DatabaseLocation(tc.in); got != tc.want {
			t.Errorf("DatabaseLocation(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	for _, tc := range []struct{ in, want string }{
		{"", "outbox"},
		{"smtp://mailer:hunter2@relay.example.com:587", "smtp://relay.example.com:587"},
		{"smtps://a:pw1@one.example:465,smtp://b:pw2@two.example:25?tls=none", "smtps://one.example:465, smtp://two.example:25?tls=none"},
	} {
		got := MailDestination(tc.in)
		if !strings.HasPrefix(got, tc.want) || strings.Contains(got, "hunter2") || strings.Contains(got, "pw1") || strings.Contains(got, "pw2") {
			t.Errorf("MailDestination(%q) = %q, want %q…", tc.in, got, tc.want)
		}
	}
}
