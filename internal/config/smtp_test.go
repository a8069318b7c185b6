package config

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestSMTPRelaysAndLogFormat: HERALD_SMTP_URL's options and relays are
// checked at load (an unknown option or an unreadable CA file stops the
// start, naming the setting and the problem), the EHLO name gets its
// default, and HERALD_LOG_FORMAT takes text or json.
func TestSMTPRelaysAndLogFormat(t *testing.T) {
	for value, want := range map[string]string{
		"smtp://relay.example.com?tls=sometimes":                     `tls="sometimes": want tls=starttls, tls=implicit or tls=none`,
		"smtp://relay.example.com?verify=no":                         `unknown option "verify"`,
		"smtp://relay.example.com?tls_ca=/nonexistent/ca.pem":        "tls_ca: cannot read /nonexistent/ca.pem: no such file or directory",
		"smtp://relay.example.com?helo=localhost":                    "forgery",
		"smtp://relay.example.com?max_per_conn=-1":                   "max_per_conn",
		"smtp://a.example.com,smtp://b.example.com?tls_skip_verify=": `relay 2 of 2`,
	} {
		_, _, err := Load("serve", []string{"--smtp-url", value}, nil)
		if err == nil || !strings.Contains(err.Error(), "invalid HERALD_SMTP_URL") || !strings.Contains(err.Error(), want) {
			t.Errorf("--smtp-url %q: %v; want an error with %q", value, err, want)
		}
	}
	cfg, _, err := Load("serve", []string{"--smtp-url", "smtp://a.example.com:25?tls=none,smtps://u:p@b.example.com?helo=mx.example.net",
		"--from", "News <news@planet.example>", "--log-format", "json"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.SMTPRelays) != 2 || !cfg.SMTPRelays[0].NoTLS || !cfg.SMTPRelays[1].ImplicitTLS || cfg.SMTPRelays[1].HelloName != "mx.example.net" {
		t.Fatalf("relays %+v", cfg.SMTPRelays)
	}
	if h := cfg.SMTPRelays[0].HelloName; h == "" || h == "localhost" || strings.HasPrefix(h, "localhost.") {
		t.Errorf("default EHLO name %q", h)
	}
	if cfg.LogFormat != "json" {
		t.Errorf("log format %q", cfg.LogFormat)
	}
	for _, bad := range []string{"xml", ""} {
		if _, _, err := Load("serve", []string{"--log-format", bad}, nil); err == nil || !strings.Contains(err.Error(), "HERALD_LOG_FORMAT") {
			t.Errorf("--log-format %q: %v", bad, err)
		}
	}
	cfg, _, err = Load("serve", nil, []string{"HERALD_LOG_FORMAT=TEXT", "HERALD_DATABASE_URL=sqlite:" + filepath.Join(t.TempDir(), "x.db")})
	if err != nil || cfg.LogFormat != "text" {
		t.Errorf("HERALD_LOG_FORMAT=TEXT: %v %v", cfg, err)
	}
}
