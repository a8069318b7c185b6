// Package config is the one home of Herald's configuration: defaults, an
// optional config file, HERALD_* environment variables and command-line
// flags, in rising order of precedence, validated into a Config.
//
// Nothing else in Herald reads the environment: main passes os.Environ()
// and the arguments here and hands the resulting Config on.
package config

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/mail"
	"net/netip"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"

	heraldmail "github.com/heraldhq/herald/internal/mail"
)

// Config is Herald's validated configuration.
type Config struct {
	DatabaseURL string
	Listen      string
	BaseURL     string // without trailing slash
	SMTPURL     string
	// SMTPRelays are SMTPURL's relays, parsed and checked (options, CA
	// files), the first preferred; HelloName is filled in with the
	// default (mail.DefaultHelloName) where helo= is not given.
	SMTPRelays      []heraldmail.SMTPConfig
	From            mail.Address
	PostalAddress   string
	PublisherName   string
	SignupLimit     Rate
	AuthFailLimit   Rate // failed API authentications allowed per client IP
	TrustedProxies  []netip.Prefix
	SendRate        float64
	SendConcurrency int
	ConfirmWindow   time.Duration
	ConfirmTTL      time.Duration
	Secret          string
	CORSOrigins     []string
	LogLevel        slog.Level
	LogFormat       string // "text" or "json"
	JobWorkers      int

	// Campaign sending (internal/sender).
	SendRateHourly   int           // at most this many messages in any hour (0 = no cap)
	SendRetries      int           // retries of a temporary (4xx) failure
	SendRetryBackoff time.Duration // first retry delay, doubled for each next one
	FeedbackID       string        // sender id of the Feedback-ID header ("" = none)

	// FetchAllow are the internal networks outbound requests may reach
	// (internal/netguard refuses loopback, private, link-local, … otherwise).
	FetchAllow []netip.Prefix
}

// Rate is N events per period; N == 0 means unlimited.
type Rate struct {
	N   int
	Per time.Duration
}

func (r Rate) String() string {
	if r.N == 0 {
		return "0"
	}
	unit := map[time.Duration]string{time.Second: "sec", time.Minute: "min", time.Hour: "hour"}[r.Per]
	return fmt.Sprintf("%d/%s", r.N, unit)
}

// Setting describes one configuration key. The README's table is written
// from the same facts.
type Setting struct {
	Env     string // HERALD_LISTEN
	Flag    string // listen
	Default string
	Usage   string
}

// Settings lists every key Herald understands, in the order of the README.
var Settings = []Setting{
	{"HERALD_CONFIG", "config", "", "optional config file of KEY=VALUE lines (HERALD_* names)"},
	{"HERALD_DATABASE_URL", "database-url", "sqlite:herald-data/herald.db", "sqlite:PATH (embedded) or postgres://…"},
	{"HERALD_LISTEN", "listen", "127.0.0.1:8080", "HTTP listen address"},
	{"HERALD_BASE_URL", "base-url", "", "public URL used in every link in mail and pages (default http:// + listen address)"},
	{"HERALD_SMTP_URL", "smtp-url", "", "smtp://user:pass@host:port (STARTTLS when offered, verified) or smtps://… (implicit TLS); options ?tls=starttls|implicit|none&tls_skip_verify=true&tls_ca=PATH&helo=NAME&max_per_conn=N; several URLs comma-separated for failover; empty = built-in outbox"},
	{"HERALD_FROM", "from", "Herald <newsletter@localhost>", "default sender for campaigns and system mail"},
	{"HERALD_POSTAL_ADDRESS", "postal-address", "", "publisher's postal address, printed in every newsletter footer"},
	{"HERALD_PUBLISHER_NAME", "publisher-name", "", "publisher's name on reader pages and in mail (default: HERALD_FROM's display name)"},
	{"HERALD_SIGNUP_LIMIT", "signup-limit", "10/min", "signups accepted per client IP: N/sec, N/min, N/hour; 0 = no limit"},
	{"HERALD_AUTH_FAIL_LIMIT", "auth-fail-limit", "20/min", "failed API token checks allowed per client IP before it gets 429 (N/sec, N/min, N/hour; 0 = no limit)"},
	{"HERALD_TRUSTED_PROXIES", "trusted-proxies", "", "comma-separated CIDRs of reverse proxies whose X-Forwarded-For gives the client IP"},
	{"HERALD_SEND_RATE", "send-rate", "0", "campaign messages per second across the installation; 0 = no limit"},
	{"HERALD_SEND_CONCURRENCY", "send-concurrency", "10", "SMTP connections the sender keeps open"},
	{"HERALD_SEND_RATE_HOURLY", "send-rate-hourly", "0", "at most this many campaign messages in any hour, across the installation; 0 = no cap"},
	{"HERALD_SEND_RETRIES", "send-retries", "5", "retries of a campaign message that got a temporary (4xx) reply, with exponential backoff"},
	{"HERALD_SEND_RETRY_BACKOFF", "send-retry-backoff", "1m", "delay before the first retry; doubled for each next one (at most 6h)"},
	{"HERALD_FEEDBACK_ID", "feedback-id", "", "sender id for the Feedback-ID header of campaign mail (mailbox providers' feedback loops); empty = no header"},
	{"HERALD_CONFIRM_WINDOW", "confirm-window", "15m", "at most one confirmation mail per address per this window"},
	{"HERALD_CONFIRM_TTL", "confirm-ttl", "168h", "how long a confirmation link stays valid"},
	{"HERALD_SECRET", "secret", "", "key for signing reader links (default: generated once and kept in the database)"},
	{"HERALD_CORS_ORIGINS", "cors-origins", "*", "origins allowed to post the embedded signup form (comma-separated, * = any)"},
	{"HERALD_FETCH_ALLOW", "fetch-allow", "", "comma-separated CIDRs that outbound requests (Mailchimp, feeds, webhooks) may reach although internal (loopback, private, link-local); empty = none"},
	{"HERALD_JOB_WORKERS", "job-workers", "10", "background jobs run at once (system mail, sync calls)"},
	{"HERALD_LOG_LEVEL", "log-level", "info", "debug, info, warn or error"},
	{"HERALD_LOG_FORMAT", "log-format", "text", "text (key=value lines) or json (one JSON object per line)"},
}

// Load builds the configuration from arguments (flags of the subcommand)
// and the environment (as os.Environ returns it). The returned FlagSet's
// remaining arguments are returned too, for subcommands that take some.
func Load(name string, args []string, environ []string) (*Config, []string, error) {
	values := map[string]string{}
	for _, s := range Settings {
		values[s.Env] = s.Default
	}
	env := map[string]string{}
	for _, kv := range environ {
		k, v, ok := strings.Cut(kv, "=")
		if ok && strings.HasPrefix(k, "HERALD_") && !strings.HasPrefix(k, "HERALD_TEST_") {
			env[k] = v
		}
	}

	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	flagVals := map[string]*string{}
	for _, s := range Settings {
		flagVals[s.Env] = fs.String(s.Flag, "", s.Usage)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, nil, err
		}
		return nil, nil, fmt.Errorf("%w (run `herald help` for the settings)", err)
	}
	setFlags := map[string]string{}
	fs.Visit(func(f *flag.Flag) {
		for _, s := range Settings {
			if s.Flag == f.Name {
				setFlags[s.Env] = f.Value.String()
			}
		}
	})

	// Config file: named by flag, else by environment.
	file := env["HERALD_CONFIG"]
	if v, ok := setFlags["HERALD_CONFIG"]; ok {
		file = v
	}
	if file != "" {
		fileVals, err := readFile(file)
		if err != nil {
			return nil, nil, err
		}
		for k, v := range fileVals {
			values[k] = v
		}
	}
	var unknown []string
	for k, v := range env {
		if !known(k) {
			unknown = append(unknown, k)
			continue
		}
		values[k] = v
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return nil, nil, fmt.Errorf("unknown setting %s in the environment (known: HERALD_DATABASE_URL, HERALD_LISTEN, …; see the README)", strings.Join(unknown, ", "))
	}
	for k, v := range setFlags {
		values[k] = v
	}
	cfg, err := parse(values)
	if err != nil {
		return nil, nil, err
	}
	return cfg, fs.Args(), nil
}

func known(env string) bool {
	for _, s := range Settings {
		if s.Env == env {
			return true
		}
	}
	return false
}

// readFile reads KEY=VALUE lines; # starts a comment; values may be quoted.
func readFile(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config file: %w", err)
	}
	out := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || k == "" {
			return nil, fmt.Errorf("config file %s line %d: expected KEY=VALUE", path, n)
		}
		if !known(k) || k == "HERALD_CONFIG" {
			return nil, fmt.Errorf("config file %s line %d: unknown setting %q", path, n, k)
		}
		if len(v) >= 2 && (v[0] == '"' && v[len(v)-1] == '"' || v[0] == '\'' && v[len(v)-1] == '\'') {
			v = v[1 : len(v)-1]
		}
		out[k] = v
	}
	return out, sc.Err()
}

func parse(v map[string]string) (*Config, error) {
	c := &Config{
		DatabaseURL:   strings.TrimSpace(v["HERALD_DATABASE_URL"]),
		Listen:        strings.TrimSpace(v["HERALD_LISTEN"]),
		SMTPURL:       strings.TrimSpace(v["HERALD_SMTP_URL"]),
		PostalAddress: strings.TrimSpace(v["HERALD_POSTAL_ADDRESS"]),
		PublisherName: strings.TrimSpace(v["HERALD_PUBLISHER_NAME"]),
		Secret:        v["HERALD_SECRET"],
	}
	bad := func(env, format string, args ...any) error {
		return fmt.Errorf("invalid %s: %s", env, fmt.Sprintf(format, args...))
	}
	switch {
	case strings.HasPrefix(c.DatabaseURL, "sqlite:"):
		if strings.TrimPrefix(strings.TrimPrefix(c.DatabaseURL, "sqlite:"), "//") == "" {
			return nil, bad("HERALD_DATABASE_URL", "sqlite: needs a file path, e.g. sqlite:herald-data/herald.db")
		}
	case strings.HasPrefix(c.DatabaseURL, "postgres://"), strings.HasPrefix(c.DatabaseURL, "postgresql://"):
		if _, err := url.Parse(c.DatabaseURL); err != nil {
			return nil, bad("HERALD_DATABASE_URL", "%v", err)
		}
	default:
		return nil, bad("HERALD_DATABASE_URL", "%q: use sqlite:PATH or postgres://…", c.DatabaseURL)
	}
	host, port, err := net.SplitHostPort(c.Listen)
	if err != nil {
		return nil, bad("HERALD_LISTEN", "%q is not host:port", c.Listen)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		return nil, bad("HERALD_LISTEN", "%q has an invalid port", c.Listen)
	}
	base := strings.TrimRight(strings.TrimSpace(v["HERALD_BASE_URL"]), "/")
	if base == "" {
		if host == "" || host == "0.0.0.0" || host == "::" {
			host = "localhost"
		}
		base = "http://" + net.JoinHostPort(host, port)
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, bad("HERALD_BASE_URL", "%q must be an absolute http(s) URL without query", base)
	}
	c.BaseURL = base
	from, err := mail.ParseAddress(v["HERALD_FROM"])
	if err != nil || !strings.Contains(from.Address, "@") || strings.ContainsAny(v["HERALD_FROM"], "\r\n") {
		return nil, bad("HERALD_FROM", "%q is not an address like `Daily News <newsletter@example.com>`", v["HERALD_FROM"])
	}
	c.From = *from
	if c.SMTPURL != "" {
		if c.SMTPRelays, err = heraldmail.ParseSMTPURLs(c.SMTPURL); err != nil {
			return nil, bad("HERALD_SMTP_URL", "%s (the form is smtp://user:pass@host:port?option=value&…, see the README)", strings.TrimPrefix(err.Error(), "mail: invalid SMTP URL: "))
		}
		host, _ := os.Hostname()
		helo := heraldmail.DefaultHelloName(host, c.From.Address)
		for i := range c.SMTPRelays {
			if c.SMTPRelays[i].HelloName == "" {
				c.SMTPRelays[i].HelloName = helo
			}
		}
	}
	if c.PublisherName == "" {
		c.PublisherName = from.Name
	}
	if c.PublisherName == "" {
		c.PublisherName = "Herald"
	}
	// The name goes into mail headers (Subject, From): one line, no controls.
	if strings.ContainsFunc(c.PublisherName, unicode.IsControl) {
		return nil, bad("HERALD_PUBLISHER_NAME", "%q must be one line without control characters", c.PublisherName)
	}
	// The postal address is printed in footers: line breaks (\n) are fine there.
	if strings.ContainsFunc(c.PostalAddress, func(r rune) bool { return unicode.IsControl(r) && r != '\n' && r != '\t' }) {
		return nil, bad("HERALD_POSTAL_ADDRESS", "%q: only line breaks (\\n) and tabs may be used, no other control characters", c.PostalAddress)
	}
	if c.SignupLimit, err = ParseRate(v["HERALD_SIGNUP_LIMIT"]); err != nil {
		return nil, bad("HERALD_SIGNUP_LIMIT", "%v", err)
	}
	if c.AuthFailLimit, err = ParseRate(v["HERALD_AUTH_FAIL_LIMIT"]); err != nil {
		return nil, bad("HERALD_AUTH_FAIL_LIMIT", "%v", err)
	}
	for _, s := range strings.Split(v["HERALD_TRUSTED_PROXIES"], ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				return nil, bad("HERALD_TRUSTED_PROXIES", "%q is not a CIDR", s)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		c.TrustedProxies = append(c.TrustedProxies, p.Masked())
	}
	for _, s := range strings.Split(v["HERALD_FETCH_ALLOW"], ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				return nil, bad("HERALD_FETCH_ALLOW", "%q is not a CIDR such as 10.0.0.0/8 or 127.0.0.1/32", s)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		c.FetchAllow = append(c.FetchAllow, p.Masked())
	}
	if c.SendRate, err = strconv.ParseFloat(strings.TrimSpace(v["HERALD_SEND_RATE"]), 64); err != nil || c.SendRate < 0 || math.IsNaN(c.SendRate) || math.IsInf(c.SendRate, 0) {
		return nil, bad("HERALD_SEND_RATE", "%q must be a number ≥ 0", v["HERALD_SEND_RATE"])
	}
	if c.SendConcurrency, err = strconv.Atoi(strings.TrimSpace(v["HERALD_SEND_CONCURRENCY"])); err != nil || c.SendConcurrency < 1 || c.SendConcurrency > 1000 {
		return nil, bad("HERALD_SEND_CONCURRENCY", "%q must be an integer from 1 to 1000", v["HERALD_SEND_CONCURRENCY"])
	}
	if c.SendRateHourly, err = strconv.Atoi(strings.TrimSpace(v["HERALD_SEND_RATE_HOURLY"])); err != nil || c.SendRateHourly < 0 {
		return nil, bad("HERALD_SEND_RATE_HOURLY", "%q must be an integer ≥ 0", v["HERALD_SEND_RATE_HOURLY"])
	}
	if c.SendRetries, err = strconv.Atoi(strings.TrimSpace(v["HERALD_SEND_RETRIES"])); err != nil || c.SendRetries < 0 || c.SendRetries > 50 {
		return nil, bad("HERALD_SEND_RETRIES", "%q must be an integer from 0 to 50", v["HERALD_SEND_RETRIES"])
	}
	if c.SendRetryBackoff, err = time.ParseDuration(strings.TrimSpace(v["HERALD_SEND_RETRY_BACKOFF"])); err != nil || c.SendRetryBackoff <= 0 {
		return nil, bad("HERALD_SEND_RETRY_BACKOFF", "%q must be a positive duration such as 1m", v["HERALD_SEND_RETRY_BACKOFF"])
	}
	c.FeedbackID = strings.TrimSpace(v["HERALD_FEEDBACK_ID"])
	if strings.ContainsFunc(c.FeedbackID, func(r rune) bool { return r <= ' ' || r >= 0x7f || r == ':' }) {
		return nil, bad("HERALD_FEEDBACK_ID", "%q must be one word of printable ASCII without colons", c.FeedbackID)
	}
	if c.JobWorkers, err = strconv.Atoi(strings.TrimSpace(v["HERALD_JOB_WORKERS"])); err != nil || c.JobWorkers < 1 || c.JobWorkers > 1000 {
		return nil, bad("HERALD_JOB_WORKERS", "%q must be an integer from 1 to 1000", v["HERALD_JOB_WORKERS"])
	}
	if c.ConfirmWindow, err = time.ParseDuration(strings.TrimSpace(v["HERALD_CONFIRM_WINDOW"])); err != nil || c.ConfirmWindow < 0 {
		return nil, bad("HERALD_CONFIRM_WINDOW", "%q must be a duration such as 15m", v["HERALD_CONFIRM_WINDOW"])
	}
	if c.ConfirmTTL, err = time.ParseDuration(strings.TrimSpace(v["HERALD_CONFIRM_TTL"])); err != nil || c.ConfirmTTL < time.Minute {
		return nil, bad("HERALD_CONFIRM_TTL", "%q must be a duration of at least 1m, such as 168h", v["HERALD_CONFIRM_TTL"])
	}
	if c.Secret != "" && len(c.Secret) < 32 {
		return nil, bad("HERALD_SECRET", "must be at least 32 characters (e.g. `openssl rand -hex 32`)")
	}
	for _, o := range strings.Split(v["HERALD_CORS_ORIGINS"], ",") {
		if o = strings.TrimRight(strings.TrimSpace(o), "/"); o == "" {
			continue
		}
		if o != "*" {
			ou, err := url.Parse(o)
			if err != nil || (ou.Scheme != "http" && ou.Scheme != "https") || ou.Host == "" || ou.Path != "" {
				return nil, bad("HERALD_CORS_ORIGINS", "%q is not an origin like https://news.example.com", o)
			}
		}
		c.CORSOrigins = append(c.CORSOrigins, o)
	}
	if err := c.LogLevel.UnmarshalText([]byte(strings.TrimSpace(v["HERALD_LOG_LEVEL"]))); err != nil {
		return nil, bad("HERALD_LOG_LEVEL", "%q must be debug, info, warn or error", v["HERALD_LOG_LEVEL"])
	}
	switch c.LogFormat = strings.ToLower(strings.TrimSpace(v["HERALD_LOG_FORMAT"])); c.LogFormat {
	case "text", "json":
	default:
		return nil, bad("HERALD_LOG_FORMAT", "%q must be text or json", v["HERALD_LOG_FORMAT"])
	}
	return c, nil
}

// ParseRate parses "N/sec", "N/min", "N/hour" (also s, m, h, second, minute) or "0".
func ParseRate(s string) (Rate, error) {
	s = strings.TrimSpace(s)
	if s == "0" || s == "" {
		return Rate{}, nil
	}
	n, unit, ok := strings.Cut(s, "/")
	count, err := strconv.Atoi(strings.TrimSpace(n))
	if !ok || err != nil || count < 0 {
		return Rate{}, fmt.Errorf("%q must look like 10/min (N/sec, N/min or N/hour), or 0 for no limit", s)
	}
	per := map[string]time.Duration{
		"s": time.Second, "sec": time.Second, "second": time.Second,
		"m": time.Minute, "min": time.Minute, "minute": time.Minute,
		"h": time.Hour, "hour": time.Hour,
	}[strings.TrimSpace(unit)]
	if per == 0 {
		return Rate{}, fmt.Errorf("%q: the unit must be sec, min or hour", s)
	}
	return Rate{N: count, Per: per}, nil
}

// Usage writes the settings table for `herald help`.
func Usage(w io.Writer) {
	for _, s := range Settings {
		def := s.Default
		if def == "" {
			def = `""`
		}
		fmt.Fprintf(w, "  --%-17s %-24s (default %s)\n      %s\n", s.Flag, s.Env, def, s.Usage)
	}
}
