package config_test

import (
	"errors"
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/config"
)

// writeConfig writes a config file in a temporary directory.
func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "herald.conf")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func mustLoad(t *testing.T, args, environ []string) *config.Config {
	t.Helper()
	cfg, _, err := config.Load("serve", args, environ)
	if err != nil {
		t.Fatalf("Load(%q, %q): %v", args, environ, err)
	}
	return cfg
}

func TestDefaults(t *testing.T) {
	cfg := mustLoad(t, nil, nil)
	checks := []struct {
		name      string
		got, want any
	}{
		{"DatabaseURL", cfg.DatabaseURL, "sqlite:herald-data/herald.db"},
		{"Listen", cfg.Listen, "127.0.0.1:8080"},
		{"BaseURL", cfg.BaseURL, "http://127.0.0.1:8080"},
		{"SMTPURL", cfg.SMTPURL, ""},
		{"From", cfg.From.String(), `"Herald" <newsletter@localhost>`},
		{"PublisherName", cfg.PublisherName, "Herald"},
		{"PostalAddress", cfg.PostalAddress, ""},
		{"SignupLimit", cfg.SignupLimit, config.Rate{N: 10, Per: time.Minute}},
		{"SignupLimit string", cfg.SignupLimit.String(), "10/min"},
		{"TrustedProxies", len(cfg.TrustedProxies), 0},
		{"SendRate", cfg.SendRate, 0.0},
		{"SendConcurrency", cfg.SendConcurrency, 10},
		{"ConfirmWindow", cfg.ConfirmWindow, 15 * time.Minute},
		{"ConfirmTTL", cfg.ConfirmTTL, 7 * 24 * time.Hour},
		{"Secret", cfg.Secret, ""},
		{"CORSOrigins", cfg.CORSOrigins, []string{"*"}},
		{"JobWorkers", cfg.JobWorkers, 10},
		{"LogLevel", cfg.LogLevel.String(), "INFO"},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("default %s = %#v, want %#v", c.name, c.got, c.want)
		}
	}
}

func TestDerivedDefaults(t *testing.T) {
	for _, c := range []struct {
		args, env []string
		base      string
		publisher string
	}{
		// The base URL follows the listen address; wildcard hosts become localhost.
		{args: []string{"--listen", "127.0.0.1:9000"}, base: "http://127.0.0.1:9000", publisher: "Herald"},
		{args: []string{"--listen", ":9000"}, base: "http://localhost:9000", publisher: "Herald"},
		{args: []string{"--listen", "0.0.0.0:9000"}, base: "http://localhost:9000", publisher: "Herald"},
		{args: []string{"--listen", "[::]:9000"}, base: "http://localhost:9000", publisher: "Herald"},
		{args: []string{"--listen", "[::1]:9000"}, base: "http://[::1]:9000", publisher: "Herald"},
		// A trailing slash is dropped from an explicit base URL.
		{args: []string{"--base-url", "https://news.example.com/"}, base: "https://news.example.com", publisher: "Herald"},
		{args: []string{"--base-url", "https://example.com/newsletters/"}, base: "https://example.com/newsletters", publisher: "Herald"},
		// The publisher's name comes from HERALD_FROM's display name…
		{env: []string{"HERALD_FROM=The Daily Planet <news@planet.example>"}, base: "http://127.0.0.1:8080", publisher: "The Daily Planet"},
		{env: []string{`HERALD_FROM="Zoë's Gazette" <news@gazette.example>`}, base: "http://127.0.0.1:8080", publisher: "Zoë's Gazette"},
		{env: []string{"HERALD_FROM==?utf-8?q?Z=C3=B6e?= <news@gazette.example>"}, base: "http://127.0.0.1:8080", publisher: "Zöe"},
		// … "Herald" when it has none …
		{env: []string{"HERALD_FROM=news@planet.example"}, base: "http://127.0.0.1:8080", publisher: "Herald"},
		// … unless it is set.
		{env: []string{"HERALD_FROM=The Daily Planet <news@planet.example>", "HERALD_PUBLISHER_NAME=Planet Media"}, base: "http://127.0.0.1:8080", publisher: "Planet Media"},
	} {
		cfg := mustLoad(t, c.args, c.env)
		if cfg.BaseURL != c.base || cfg.PublisherName != c.publisher {
			t.Errorf("Load(%q, %q): base URL %q, publisher %q; want %q, %q", c.args, c.env, cfg.BaseURL, cfg.PublisherName, c.base, c.publisher)
		}
	}
}

// TestPrecedence: defaults < config file < environment < flags, for every
// way of naming the file.
func TestPrecedence(t *testing.T) {
	file := writeConfig(t, `# Herald settings
HERALD_LISTEN=10.0.0.1:1001

HERALD_SIGNUP_LIMIT = 5/hour
HERALD_SEND_RATE=1
HERALD_FROM="File Name <file@example.com>"
HERALD_POSTAL_ADDRESS='1 File Street'
`)
	env := []string{"HERALD_SIGNUP_LIMIT=6/hour", "HERALD_SEND_RATE=2", "PATH=/usr/bin", "HOME=/root", "HERALD_TEST_POSTGRES_URL=ignored"}
	flags := []string{"--send-rate", "3"}

	for _, c := range []struct {
		name       string
		args, env  []string
		listen     string
		limit      config.Rate
		sendRate   float64
		from, post string
	}{
		{"defaults only", nil, nil, "127.0.0.1:8080", config.Rate{N: 10, Per: time.Minute}, 0, "newsletter@localhost", ""},
		{"file by flag", []string{"--config", file}, nil, "10.0.0.1:1001", config.Rate{N: 5, Per: time.Hour}, 1, "file@example.com", "1 File Street"},
		{"file by environment", nil, []string{"HERALD_CONFIG=" + file}, "10.0.0.1:1001", config.Rate{N: 5, Per: time.Hour}, 1, "file@example.com", "1 File Street"},
		{"environment over file", []string{"--config", file}, env, "10.0.0.1:1001", config.Rate{N: 6, Per: time.Hour}, 2, "file@example.com", "1 File Street"},
		{"flags over environment", append([]string{"--config", file}, flags...), env, "10.0.0.1:1001", config.Rate{N: 6, Per: time.Hour}, 3, "file@example.com", "1 File Street"},
		{"flags over file", append([]string{"--config", file}, flags...), nil, "10.0.0.1:1001", config.Rate{N: 5, Per: time.Hour}, 3, "file@example.com", "1 File Street"},
		{"flags over defaults", flags, nil, "127.0.0.1:8080", config.Rate{N: 10, Per: time.Minute}, 3, "newsletter@localhost", ""},
		{"flag = form", []string{"--config=" + file, "--send-rate=4"}, env, "10.0.0.1:1001", config.Rate{N: 6, Per: time.Hour}, 4, "file@example.com", "1 File Street"},
		{"flag may set a setting back to empty", []string{"--config", file, "--postal-address", ""}, nil, "10.0.0.1:1001", config.Rate{N: 5, Per: time.Hour}, 1, "file@example.com", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := mustLoad(t, c.args, c.env)
			if cfg.Listen != c.listen || cfg.SignupLimit != c.limit || cfg.SendRate != c.sendRate || cfg.From.Address != c.from || cfg.PostalAddress != c.post {
				t.Errorf("got listen %q, limit %v, send rate %v, from %q, postal %q; want %q, %v, %v, %q, %q",
					cfg.Listen, cfg.SignupLimit, cfg.SendRate, cfg.From.Address, cfg.PostalAddress, c.listen, c.limit, c.sendRate, c.from, c.post)
			}
		})
	}

	// A --config flag names the file even when the environment names another.
	other := writeConfig(t, "HERALD_LISTEN=10.0.0.2:1002\n")
	cfg := mustLoad(t, []string{"--config", file}, []string{"HERALD_CONFIG=" + other})
	if cfg.Listen != "10.0.0.1:1001" {
		t.Errorf("--config lost to HERALD_CONFIG: listen %q", cfg.Listen)
	}
}

func TestRemainingArguments(t *testing.T) {
	_, rest, err := config.Load("token", []string{"--listen", "127.0.0.1:1", "create", "admin"}, nil)
	if err != nil || !reflect.DeepEqual(rest, []string{"create", "admin"}) {
		t.Fatalf("rest = %q, %v", rest, err)
	}
	if _, _, err := config.Load("serve", []string{"--help"}, nil); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("--help: %v, want flag.ErrHelp", err)
	}
}

// loadErr fails unless Load refuses and the message names every want.
func loadErr(t *testing.T, args, env []string, want ...string) {
	t.Helper()
	cfg, _, err := config.Load("serve", args, env)
	if err == nil {
		t.Errorf("Load(%q, %q) = %+v; want an error naming %q", args, env, cfg, want)
		return
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("Load(%q, %q): error %q does not mention %q", args, env, err, w)
		}
	}
}

func TestUnknownSettings(t *testing.T) {
	loadErr(t, nil, []string{"HERALD_FOO=1"}, "HERALD_FOO", "unknown")
	loadErr(t, nil, []string{"HERALD_LISTEN=127.0.0.1:1", "HERALD_ZZZ=1", "HERALD_FOO=1"}, "HERALD_FOO", "HERALD_ZZZ")
	loadErr(t, nil, []string{"HERALD_listen=127.0.0.1:1"}, "HERALD_listen")
	loadErr(t, []string{"--no-such-flag", "1"}, nil, "no-such-flag")

	// Other programs' variables and Herald's test variables are not settings.
	mustLoad(t, nil, []string{"PATH=/bin", "HERALDRY=1", "HERALD_TEST_POSTGRES_URL=postgres://x", "NOEQUALS"})

	file := writeConfig(t, "# comment\nHERALD_LISTEN=127.0.0.1:1\nHERALD_FOO=bar\n")
	loadErr(t, []string{"--config", file}, nil, file, "line 3", "HERALD_FOO")
	file = writeConfig(t, "HERALD_LISTEN=127.0.0.1:1\n\n  listen = 127.0.0.1:2\n")
	loadErr(t, []string{"--config", file}, nil, "line 3", "listen")
	file = writeConfig(t, "HERALD_LISTEN=127.0.0.1:1\njust some words\n")
	loadErr(t, []string{"--config", file}, nil, "line 2", "KEY=VALUE")
	file = writeConfig(t, "=value\n")
	loadErr(t, []string{"--config", file}, nil, "line 1")
	// A file cannot name another file.
	file = writeConfig(t, "HERALD_CONFIG=/etc/other.conf\n")
	loadErr(t, []string{"--config", file}, nil, "line 1", "HERALD_CONFIG")
	// A missing file is an error, not silently ignored.
	loadErr(t, []string{"--config", filepath.Join(t.TempDir(), "missing.conf")}, nil, "config file", "missing.conf")
	loadErr(t, nil, []string{"HERALD_CONFIG=" + filepath.Join(t.TempDir(), "missing.conf")}, "config file")
	// An invalid value from the file is reported like any other.
	file = writeConfig(t, "HERALD_SIGNUP_LIMIT=10/week\n")
	loadErr(t, []string{"--config", file}, nil, "HERALD_SIGNUP_LIMIT", "10/week")
}

func TestInvalidValues(t *testing.T) {
	for _, c := range []struct {
		flag, value, env string // env: the setting the message must name
	}{
		{"listen", "127.0.0.1", "HERALD_LISTEN"},
		{"listen", "localhost", "HERALD_LISTEN"},
		{"listen", "127.0.0.1:http-alt", "HERALD_LISTEN"},
		{"listen", "127.0.0.1:99999", "HERALD_LISTEN"},
		{"listen", "", "HERALD_LISTEN"},
		{"signup-limit", "10/week", "HERALD_SIGNUP_LIMIT"},
		{"signup-limit", "ten/min", "HERALD_SIGNUP_LIMIT"},
		{"signup-limit", "10", "HERALD_SIGNUP_LIMIT"},
		{"signup-limit", "-1/min", "HERALD_SIGNUP_LIMIT"},
		{"signup-limit", "1.5/min", "HERALD_SIGNUP_LIMIT"},
		{"send-rate", "-1", "HERALD_SEND_RATE"},
		{"send-rate", "fast", "HERALD_SEND_RATE"},
		{"send-rate", "", "HERALD_SEND_RATE"},
		{"send-rate", "NaN", "HERALD_SEND_RATE"},
		{"send-rate", "+Inf", "HERALD_SEND_RATE"},
		{"send-concurrency", "0", "HERALD_SEND_CONCURRENCY"},
		{"send-concurrency", "1001", "HERALD_SEND_CONCURRENCY"},
		{"send-concurrency", "ten", "HERALD_SEND_CONCURRENCY"},
		{"job-workers", "0", "HERALD_JOB_WORKERS"},
		{"trusted-proxies", "10.0.0.0/33", "HERALD_TRUSTED_PROXIES"},
		{"trusted-proxies", "proxy.example.com", "HERALD_TRUSTED_PROXIES"},
		{"trusted-proxies", "10.0.0.1,nonsense", "HERALD_TRUSTED_PROXIES"},
		{"base-url", "news.example.com", "HERALD_BASE_URL"},
		{"base-url", "ftp://news.example.com", "HERALD_BASE_URL"},
		{"base-url", "https://", "HERALD_BASE_URL"},
		{"base-url", "https://news.example.com/?utm=1", "HERALD_BASE_URL"},
		{"base-url", "https://news.example.com/#top", "HERALD_BASE_URL"},
		{"base-url", "http://[::1", "HERALD_BASE_URL"},
		{"from", "not an address", "HERALD_FROM"},
		{"from", "Herald", "HERALD_FROM"},
		{"from", "Herald <>", "HERALD_FROM"},
		{"from", "a@example.com, b@example.com", "HERALD_FROM"},
		{"from", "Herald <news@example.com>\r\nBcc: victim@example.com", "HERALD_FROM"},
		{"from", "", "HERALD_FROM"},
		{"publisher-name", "Daily\r\nBcc: victim@example.com", "HERALD_PUBLISHER_NAME"},
		{"publisher-name", "Daily\nBcc: victim@example.com", "HERALD_PUBLISHER_NAME"},
		{"publisher-name", "Daily\x00", "HERALD_PUBLISHER_NAME"},
		{"postal-address", "1 Main St\r\nBcc: victim@example.com", "HERALD_POSTAL_ADDRESS"},
		{"postal-address", "1 Main St\x00", "HERALD_POSTAL_ADDRESS"},
		{"database-url", "mysql://localhost/herald", "HERALD_DATABASE_URL"},
		{"database-url", "sqlite:", "HERALD_DATABASE_URL"},
		{"database-url", "", "HERALD_DATABASE_URL"},
		{"smtp-url", "http://mail.example.com", "HERALD_SMTP_URL"},
		{"smtp-url", "smtp://", "HERALD_SMTP_URL"},
		{"confirm-ttl", "30s", "HERALD_CONFIRM_TTL"},
		{"confirm-ttl", "7d", "HERALD_CONFIRM_TTL"},
		{"confirm-window", "-1m", "HERALD_CONFIRM_WINDOW"},
		{"secret", "too short", "HERALD_SECRET"},
		{"cors-origins", "https://news.example.com/articles", "HERALD_CORS_ORIGINS"},
		{"cors-origins", "news.example.com", "HERALD_CORS_ORIGINS"},
		{"log-level", "loud", "HERALD_LOG_LEVEL"},
	} {
		// The same message whether the value comes from a flag or the environment.
		loadErr(t, []string{"--" + c.flag, c.value}, nil, c.env)
		loadErr(t, nil, []string{c.env + "=" + c.value}, c.env)
	}
}

func TestValidValues(t *testing.T) {
	cfg := mustLoad(t, []string{
		"--database-url", "postgres://herald:secret@db.example.com:5432/herald?sslmode=require",
		"--listen", "0.0.0.0:80",
		"--base-url", "https://news.example.com",
		"--smtp-url", "smtps://user:pass@smtp.example.com:465",
		"--from", "Daily Planet <news@planet.example>",
		"--postal-address", "1 Main Street\nMetropolis",
		"--signup-limit", "3/sec",
		"--trusted-proxies", " 10.1.2.3/8, 192.168.0.1 ,2001:db8::/32,",
		"--send-rate", "12.5",
		"--send-concurrency", "1",
		"--confirm-window", "0s",
		"--confirm-ttl", "1m",
		"--secret", strings.Repeat("s", 32),
		"--cors-origins", "https://news.example.com/, http://localhost:3000",
		"--job-workers", "1000",
		"--log-level", "debug",
	}, nil)
	wantProxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.168.0.1/32"), netip.MustParsePrefix("2001:db8::/32")}
	if !reflect.DeepEqual(cfg.TrustedProxies, wantProxies) {
		t.Errorf("trusted proxies %v, want %v", cfg.TrustedProxies, wantProxies)
	}
	if !reflect.DeepEqual(cfg.CORSOrigins, []string{"https://news.example.com", "http://localhost:3000"}) {
		t.Errorf("CORS origins %q", cfg.CORSOrigins)
	}
	if cfg.SignupLimit != (config.Rate{N: 3, Per: time.Second}) || cfg.SendRate != 12.5 || cfg.PublisherName != "Daily Planet" ||
		cfg.PostalAddress != "1 Main Street\nMetropolis" || cfg.BaseURL != "https://news.example.com" || cfg.ConfirmWindow != 0 {
		t.Errorf("unexpected config %+v", cfg)
	}
	// 0 turns the signup limit off.
	if cfg := mustLoad(t, []string{"--signup-limit", "0"}, nil); cfg.SignupLimit.N != 0 || cfg.SignupLimit.String() != "0" {
		t.Errorf("signup limit 0: %+v", cfg.SignupLimit)
	}
}

func TestParseRate(t *testing.T) {
	for _, c := range []struct {
		in   string
		want config.Rate
		str  string
	}{
		{"0", config.Rate{}, "0"},
		{"", config.Rate{}, "0"},
		{"10/min", config.Rate{N: 10, Per: time.Minute}, "10/min"},
		{" 10 / minute ", config.Rate{N: 10, Per: time.Minute}, "10/min"},
		{"5/s", config.Rate{N: 5, Per: time.Second}, "5/sec"},
		{"5/second", config.Rate{N: 5, Per: time.Second}, "5/sec"},
		{"100/h", config.Rate{N: 100, Per: time.Hour}, "100/hour"},
		{"100/hour", config.Rate{N: 100, Per: time.Hour}, "100/hour"},
	} {
		got, err := config.ParseRate(c.in)
		if err != nil || got != c.want || got.String() != c.str {
			t.Errorf("ParseRate(%q) = %+v (%s), %v; want %+v (%s)", c.in, got, got, err, c.want, c.str)
		}
		// String() parses back to the same rate.
		if back, err := config.ParseRate(got.String()); err != nil || back != got {
			t.Errorf("ParseRate(%q) = %+v, %v", got.String(), back, err)
		}
	}
	for _, in := range []string{"10/week", "10/day", "10/", "/min", "x/min", "-1/min", "10/min/sec", "10 per minute", "1e3/min"} {
		if got, err := config.ParseRate(in); err == nil {
			t.Errorf("ParseRate(%q) = %+v; want an error", in, got)
		} else if !strings.Contains(err.Error(), in) {
			t.Errorf("ParseRate(%q): error %q does not quote the value", in, err)
		}
	}
}

func TestUsageListsEverySetting(t *testing.T) {
	var b strings.Builder
	config.Usage(&b)
	for _, s := range config.Settings {
		if !strings.Contains(b.String(), "--"+s.Flag) || !strings.Contains(b.String(), s.Env) {
			t.Errorf("usage lacks %s / --%s", s.Env, s.Flag)
		}
	}
}
