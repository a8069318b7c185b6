package mail

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// SMTPConfig configures the SMTP relay transport.
type SMTPConfig struct {
	Host               string
	Port               int
	Username, Password string
	// ImplicitTLS speaks TLS from the first byte (smtps://, tls=implicit,
	// port 465). Otherwise STARTTLS is used whenever the server offers it,
	// unless NoTLS; with RequireTLS a server that does not offer it is an
	// error rather than a plain-text connection.
	ImplicitTLS bool
	RequireTLS  bool // tls=starttls
	NoTLS       bool // tls=none: never STARTTLS, even when offered
	// TLSConfig is optional; ServerName defaults to Host. ParseSMTPURL
	// fills it from tls_skip_verify and tls_ca.
	TLSConfig *tls.Config
	// TLSSkipVerify and TLSCAFile are what the URL said (tls_skip_verify,
	// tls_ca), kept for reports; TLSConfig carries their effect.
	TLSSkipVerify bool
	TLSCAFile     string
	// HelloName is sent with EHLO. When empty, the connection's local
	// address is sent as an address literal ("[192.0.2.1]", RFC 5321
	// 4.1.3); never "localhost", which relays may take for a forgery.
	// See DefaultHelloName.
	HelloName string
	// MaxPerConn closes a connection after this many messages (0 = no
	// limit), for relays that limit messages per connection.
	MaxPerConn int
	// PoolSize is the most connections open at once; default 10.
	PoolSize int
	// DialTimeout bounds connecting and the TLS handshake (default 10s);
	// CommandTimeout bounds the wait for each reply (default 60s).
	DialTimeout, CommandTimeout time.Duration
	// IdleTimeout closes connections unused for this long; default 30s.
	IdleTimeout time.Duration
}

// Name is the relay as reports show it: scheme, host and port, never the
// credentials.
func (cfg *SMTPConfig) Name() string {
	scheme := "smtp"
	if cfg.ImplicitTLS {
		scheme = "smtps"
	}
	port := cfg.Port
	if port == 0 {
		port = 587
		if cfg.ImplicitTLS {
			port = 465
		}
	}
	return scheme + "://" + net.JoinHostPort(cfg.Host, strconv.Itoa(port))
}

// ParseSMTPURL parses smtp://user:pass@host:port (STARTTLS when offered,
// default port 587) or smtps://user:pass@host:port (implicit TLS, default
// port 465). User and password are URL-decoded. Query options:
//
//	tls=starttls|implicit|none  require STARTTLS / TLS from the first byte / never TLS
//	tls_skip_verify=true        encrypt without verifying the relay's certificate
//	tls_ca=PATH                 PEM file of the CA (or the relay's own certificate) to trust
//	helo=NAME                   the name sent with EHLO
//	max_per_conn=N              at most N messages per connection
//
// An unknown option, a bad value or an unreadable CA file is an error.
func ParseSMTPURL(raw string) (SMTPConfig, error) {
	u, err := url.Parse(raw)
	if err != nil {
		// url's error repeats the URL, password included.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return SMTPConfig{}, fmt.Errorf("mail: invalid SMTP URL: %w", err)
	}
	var cfg SMTPConfig
	switch u.Scheme {
	case "smtp":
		cfg.Port = 587
	case "smtps":
		cfg.Port, cfg.ImplicitTLS = 465, true
	case "":
		return SMTPConfig{}, errors.New("mail: invalid SMTP URL: want smtp://user:pass@host:port or smtps://…")
	default:
		return SMTPConfig{}, fmt.Errorf("mail: invalid SMTP URL: unsupported scheme %q (want smtp or smtps)", u.Scheme)
	}
	if u.Opaque != "" {
		return SMTPConfig{}, errors.New("mail: invalid SMTP URL: want smtp://host, not smtp:host")
	}
	cfg.Host = u.Hostname()
	if cfg.Host == "" {
		return SMTPConfig{}, errors.New("mail: invalid SMTP URL: missing host")
	}
	portSet := false
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return SMTPConfig{}, fmt.Errorf("mail: invalid SMTP URL: bad port %q", p)
		}
		cfg.Port, portSet = n, true
	} else if len(u.Host) > 0 && u.Host[len(u.Host)-1] == ':' {
		return SMTPConfig{}, errors.New("mail: invalid SMTP URL: empty port")
	}
	if (u.Path != "" && u.Path != "/") || u.Fragment != "" {
		return SMTPConfig{}, errors.New("mail: invalid SMTP URL: unexpected path or fragment")
	}
	if u.User != nil {
		cfg.Username = u.User.Username()
		cfg.Password, _ = u.User.Password()
	}
	if u.RawQuery != "" {
		if err := cfg.parseOptions(u.RawQuery, portSet); err != nil {
			return SMTPConfig{}, fmt.Errorf("mail: invalid SMTP URL: %w", err)
		}
	}
	return cfg, nil
}

// parseOptions applies the URL's query options.
func (cfg *SMTPConfig) parseOptions(rawQuery string, portSet bool) error {
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return fmt.Errorf("bad query: %v", err)
	}
	one := func(k string) (string, error) {
		v := q[k]
		if len(v) != 1 {
			return "", fmt.Errorf("option %s is given %d times", k, len(v))
		}
		return v[0], nil
	}
	var names []string
	for k := range q {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		v, err := one(k)
		if err != nil {
			return err
		}
		switch k {
		case "tls":
			switch v {
			case "starttls":
				if cfg.ImplicitTLS {
					return errors.New("tls=starttls contradicts smtps:// (which is tls=implicit): use smtp://…?tls=starttls")
				}
				cfg.RequireTLS = true
			case "implicit":
				cfg.ImplicitTLS = true
				if !portSet {
					cfg.Port = 465
				}
			case "none":
				if cfg.ImplicitTLS {
					return errors.New("tls=none contradicts smtps:// (which is tls=implicit): use smtp://…?tls=none")
				}
				cfg.NoTLS = true
			default:
				return fmt.Errorf("tls=%q: want tls=starttls, tls=implicit or tls=none", v)
			}
		case "tls_skip_verify":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return fmt.Errorf("tls_skip_verify=%q: want true or false", v)
			}
			cfg.TLSSkipVerify = b
		case "tls_ca":
			if v == "" {
				return errors.New("tls_ca is empty: want tls_ca=PATH of a PEM file")
			}
			cfg.TLSCAFile = v
		case "helo":
			if err := checkHelloName(v); err != nil {
				return fmt.Errorf("helo=%q: %v", v, err)
			}
			cfg.HelloName = v
		case "max_per_conn":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return fmt.Errorf("max_per_conn=%q: want a whole number of messages ≥ 1", v)
			}
			cfg.MaxPerConn = n
		default:
			return fmt.Errorf("unknown option %q (known: tls, tls_skip_verify, tls_ca, helo, max_per_conn)", k)
		}
	}
	if cfg.NoTLS && (cfg.TLSSkipVerify || cfg.TLSCAFile != "") {
		return errors.New("tls=none leaves no certificate to verify: drop tls_skip_verify and tls_ca, or choose another tls mode")
	}
	if cfg.TLSSkipVerify && cfg.TLSCAFile != "" {
		return errors.New("tls_skip_verify=true and tls_ca contradict each other: verify against tls_ca, or skip verification, not both")
	}
	if cfg.TLSSkipVerify {
		// The operator asked for encryption without authentication,
		// typically for a relay on the same host with a self-signed
		// certificate (Debian's Postfix).
		cfg.TLSConfig = &tls.Config{InsecureSkipVerify: true}
	}
	if cfg.TLSCAFile != "" {
		pem, err := os.ReadFile(cfg.TLSCAFile)
		if err != nil {
			return fmt.Errorf("tls_ca: cannot read %s: %v", cfg.TLSCAFile, unwrapPath(err))
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("tls_ca: %s holds no PEM certificate", cfg.TLSCAFile)
		}
		cfg.TLSConfig = &tls.Config{RootCAs: pool}
	}
	return nil
}

// unwrapPath drops the path that *fs.PathError repeats.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// checkHelloName accepts a domain name or an address literal for EHLO.
func checkHelloName(name string) error {
	switch {
	case name == "":
		return errors.New("empty")
	case strings.EqualFold(name, "localhost") || strings.HasPrefix(strings.ToLower(name), "localhost."):
		return errors.New("relays take \"localhost\" for a forgery; give this host's full domain name")
	case len(name) > 255:
		return errors.New("too long")
	case name[0] == '[' && name[len(name)-1] == ']':
		if net.ParseIP(strings.TrimPrefix(name[1:len(name)-1], "IPv6:")) == nil {
			return errors.New("not an address literal such as [192.0.2.1]")
		}
		return nil
	}
	for _, label := range strings.Split(name, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return errors.New("not a domain name")
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return errors.New("not a domain name (letters, digits, hyphens and dots)")
			}
		}
	}
	return nil
}

// DefaultHelloName is the EHLO name when helo= is not set: the machine's
// host name when it is a full domain name (has a dot), else the domain of
// the sender's address (fromAddr), unless that is localhost too; "" then,
// and the connection sends its local address as a literal.
func DefaultHelloName(hostname, fromAddr string) string {
	if strings.Contains(strings.Trim(hostname, "."), ".") && checkHelloName(strings.TrimSuffix(hostname, ".")) == nil {
		return strings.TrimSuffix(hostname, ".")
	}
	if at := strings.LastIndexByte(fromAddr, '@'); at >= 0 {
		d := fromAddr[at+1:]
		if checkHelloName(d) == nil && strings.Contains(d, ".") {
			return d
		}
	}
	return ""
}

// SMTPTransport sends through an SMTP relay over a pool of reusable
// connections, pipelining MAIL, RCPT and DATA when the server offers
// PIPELINING. It is safe for concurrent use; Send blocks while PoolSize
// connections are busy.
type SMTPTransport struct {
	cfg  SMTPConfig
	addr string
	tls  *tls.Config
	// slots holds one token per connection that may be open; a Send takes
	// one before taking or dialling a connection.
	slots chan struct{}

	// noPipelining makes tests exercise the command-by-command path
	// (go-smtp's server always offers PIPELINING).
	noPipelining bool
	// noChunking keeps SendBatch off BDAT (one message at a time).
	noChunking bool

	health relayHealth

	mu     sync.Mutex
	idle   []*smtpConn // most recently used last
	timer  *time.Timer // closes idle connections
	closed bool
}

// NewSMTP returns a transport for cfg with defaults filled in. Connections
// are dialled on first use.
func NewSMTP(cfg SMTPConfig) *SMTPTransport {
	if cfg.PoolSize <= 0 {
		cfg.PoolSize = 10
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = 10 * time.Second
	}
	if cfg.CommandTimeout <= 0 {
		cfg.CommandTimeout = 60 * time.Second
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 30 * time.Second
	}
	if cfg.Port == 0 {
		cfg.Port = 587
		if cfg.ImplicitTLS {
			cfg.Port = 465
		}
	}
	tc := &tls.Config{}
	if cfg.TLSConfig != nil {
		tc = cfg.TLSConfig.Clone()
	}
	if tc.ServerName == "" {
		tc.ServerName = cfg.Host
	}
	return &SMTPTransport{
		cfg:   cfg,
		addr:  net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port)),
		tls:   tc,
		slots: make(chan struct{}, cfg.PoolSize),
	}
}

var _ Transport = (*SMTPTransport)(nil)

var errTransportClosed = errors.New("mail: SMTP transport closed")

// Send delivers msg to all of to, or to none: when the server refuses any
// recipient the transaction is abandoned and the refusal returned. A
// pooled connection found dead before MAIL is accepted is replaced by a
// fresh one once, transparently.
func (t *SMTPTransport) Send(ctx context.Context, from string, to []string, msg []byte) error {
	if err := checkEnvelope(from, to); err != nil {
		return err
	}
	select {
	case t.slots <- struct{}{}:
	case <-ctx.Done():
		return &SendError{Command: "dial", Message: "waiting for a connection", Temporary: true, Err: ctx.Err()}
	}
	defer func() { <-t.slots }()

	c, reused, err := t.get(ctx)
	if err != nil {
		return err
	}
	err = c.send(ctx, from, to, msg)
	if err != nil && reused && c.deadBeforeMail {
		c.close()
		if c, err = t.dial(ctx); err != nil {
			return err
		}
		err = c.send(ctx, from, to, msg)
	}
	t.put(c)
	return err
}

// get returns an idle connection or dials a new one. The caller holds a slot.
func (t *SMTPTransport) get(ctx context.Context) (c *smtpConn, reused bool, err error) {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil, false, &SendError{Command: "dial", Err: errTransportClosed}
	}
	now := time.Now()
	for len(t.idle) > 0 {
		c = t.idle[len(t.idle)-1]
		t.idle = t.idle[:len(t.idle)-1]
		if now.Sub(c.idleSince) < t.cfg.IdleTimeout {
			t.mu.Unlock()
			return c, true, nil
		}
		go c.quit()
	}
	t.mu.Unlock()
	c, err = t.dial(ctx)
	return c, false, err
}

// put returns a connection to the pool, or closes it if it is broken.
func (t *SMTPTransport) put(c *smtpConn) {
	if c.broken {
		c.close()
		return
	}
	if t.cfg.MaxPerConn > 0 && c.sent >= t.cfg.MaxPerConn {
		go c.quit()
		return
	}
	c.idleSince = time.Now()
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		go c.quit()
		return
	}
	t.idle = append(t.idle, c)
	if t.timer == nil {
		t.timer = time.AfterFunc(t.cfg.IdleTimeout, t.reap)
	}
	t.mu.Unlock()
}

// reap closes connections idle for IdleTimeout and re-arms itself while
// any remain.
func (t *SMTPTransport) reap() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.timer = nil
	if t.closed {
		return
	}
	now := time.Now()
	keep := t.idle[:0]
	var next time.Duration
	for _, c := range t.idle {
		left := t.cfg.IdleTimeout - now.Sub(c.idleSince)
		if left <= 0 {
			go c.quit()
			continue
		}
		if next == 0 || left < next {
			next = left
		}
		keep = append(keep, c)
	}
	clear(t.idle[len(keep):])
	t.idle = keep
	if len(keep) > 0 {
		t.timer = time.AfterFunc(next, t.reap)
	}
}

// Close closes idle connections (with QUIT) and makes further Sends fail.
// Sends in progress finish and close their connections.
func (t *SMTPTransport) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil
	}
	t.closed = true
	idle := t.idle
	t.idle = nil
	if t.timer != nil {
		t.timer.Stop()
		t.timer = nil
	}
	t.mu.Unlock()
	var wg sync.WaitGroup
	for _, c := range idle {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.quit()
		}()
	}
	wg.Wait()
	return nil
}

// idleConns reports how many connections sit in the pool (for tests).
func (t *SMTPTransport) idleConns() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.idle)
}
