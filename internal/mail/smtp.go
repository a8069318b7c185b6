package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"sync"
	"time"
)

// SMTPConfig configures the SMTP relay transport.
type SMTPConfig struct {
	Host               string
	Port               int
	Username, Password string
	// ImplicitTLS speaks TLS from the first byte (smtps://, port 465);
	// otherwise STARTTLS is used whenever the server offers it.
	ImplicitTLS bool
	// TLSConfig is optional; ServerName defaults to Host.
	TLSConfig *tls.Config
	// HelloName is sent with EHLO; default "localhost".
	HelloName string
	// PoolSize is the most connections open at once; default 10.
	PoolSize int
	// DialTimeout bounds connecting and the TLS handshake (default 10s);
	// CommandTimeout bounds the wait for each reply (default 60s).
	DialTimeout, CommandTimeout time.Duration
	// IdleTimeout closes connections unused for this long; default 30s.
	IdleTimeout time.Duration
}

// ParseSMTPURL parses smtp://user:pass@host:port (STARTTLS when offered,
// default port 587) or smtps://user:pass@host:port (implicit TLS, default
// port 465). User and password are URL-decoded.
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
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return SMTPConfig{}, fmt.Errorf("mail: invalid SMTP URL: bad port %q", p)
		}
		cfg.Port = n
	} else if len(u.Host) > 0 && u.Host[len(u.Host)-1] == ':' {
		return SMTPConfig{}, errors.New("mail: invalid SMTP URL: empty port")
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return SMTPConfig{}, errors.New("mail: invalid SMTP URL: unexpected path, query or fragment")
	}
	if u.User != nil {
		cfg.Username = u.User.Username()
		cfg.Password, _ = u.User.Password()
	}
	return cfg, nil
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

	mu     sync.Mutex
	idle   []*smtpConn // most recently used last
	timer  *time.Timer // closes idle connections
	closed bool
}

// NewSMTP returns a transport for cfg with defaults filled in. Connections
// are dialled on first use.
func NewSMTP(cfg SMTPConfig) *SMTPTransport {
	if cfg.HelloName == "" {
		cfg.HelloName = "localhost"
	}
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
