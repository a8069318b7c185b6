package app

import (
	"net/url"
	"path/filepath"
	"strings"
)

// SQLitePath returns the file of a sqlite: database URL, made absolute
// (relative paths are relative to the current directory), and false for
// any other URL.
func SQLitePath(dbURL string) (string, bool) {
	p, ok := strings.CutPrefix(dbURL, "sqlite:")
	if !ok {
		return "", false
	}
	p = strings.TrimPrefix(p, "//")
	if abs, err := filepath.Abs(p); err == nil {
		p = abs
	}
	return p, true
}

// DatabaseLocation names the database for people and logs: the absolute
// file of a SQLite database, or a PostgreSQL URL without its password.
func DatabaseLocation(dbURL string) string {
	if p, ok := SQLitePath(dbURL); ok {
		return "sqlite:" + p
	}
	return redactURL(dbURL)
}

// MailDestination says where outgoing mail goes, for the start-up log: the
// SMTP relay(s) without their user information (a user name is often an
// address, which the log redacts anyway), or the built-in outbox.
func MailDestination(smtpURL string) string {
	if strings.TrimSpace(smtpURL) == "" {
		return "outbox (no SMTP relay set: mail is kept in the database, see GET /api/v1/outbox)"
	}
	var out []string
	for _, u := range strings.Split(smtpURL, ",") {
		r, err := url.Parse(strings.TrimSpace(u))
		if err != nil {
			out = append(out, "(unparsable URL)")
			continue
		}
		r.User = nil
		out = append(out, r.String())
	}
	return strings.Join(out, ", ")
}

// redactURL drops the password from a URL's user information and from a
// password query parameter; what it cannot parse it does not show.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	if u.User != nil {
		u.User = url.User(u.User.Username())
	}
	q := u.Query()
	if q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.String()
}
