package mail

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// received is one message accepted by the test server.
type received struct {
	from string
	to   []string
	data []byte
	tls  bool
	user string
	helo string // the client's EHLO name
	utf8 bool   // MAIL FROM carried SMTPUTF8
}

// testBackend is a go-smtp backend that records what it receives. Its
// knobs make it refuse recipients, require AUTH or hold DATA.
type testBackend struct {
	user, pass string   // AUTH required when set
	mechs      []string // offered mechanisms; default PLAIN
	rcptErr    func(to string) error
	dataErr    func(to []string) error // refuses a message after reading it
	hold       chan struct{}           // Data waits for it to be closed
	discard    bool                    // count messages only (benchmarks)

	mu     sync.Mutex
	msgs   []received
	conns  int // connections accepted
	closed int // connections closed
	open   []net.Conn
}

// dropAll closes every server-side connection without a word, as a relay
// that restarts or a NAT that forgets the flow does.
func (be *testBackend) dropAll() {
	be.mu.Lock()
	open := be.open
	be.open = nil
	be.mu.Unlock()
	for _, c := range open {
		c.Close()
	}
}

func (be *testBackend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return &testSession{be: be, conn: c}, nil
}

// stats returns the messages received and how many connections were
// accepted and closed.
func (be *testBackend) stats() (msgs []received, conns, closed int) {
	be.mu.Lock()
	defer be.mu.Unlock()
	return append([]received(nil), be.msgs...), be.conns, be.closed
}

// countingListener counts connections for the backend.
type countingListener struct {
	net.Listener
	be *testBackend
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	cc := &countingConn{Conn: c, be: l.be}
	l.be.mu.Lock()
	l.be.conns++
	l.be.open = append(l.be.open, cc)
	l.be.mu.Unlock()
	return cc, nil
}

type countingConn struct {
	net.Conn
	be   *testBackend
	once sync.Once
}

func (c *countingConn) Close() error {
	c.once.Do(func() {
		c.be.mu.Lock()
		c.be.closed++
		c.be.mu.Unlock()
	})
	return c.Conn.Close()
}

type testSession struct {
	be   *testBackend
	conn *smtp.Conn
	user string
	from string
	to   []string
	utf8 bool
}

func (s *testSession) AuthMechanisms() []string {
	if s.be.user == "" {
		return nil
	}
	if s.be.mechs != nil {
		return s.be.mechs
	}
	return []string{sasl.Plain}
}

func (s *testSession) Auth(mech string) (sasl.Server, error) {
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(func(_, user, pass string) error { return s.login(user, pass) }), nil
	case sasl.Login:
		return &loginServer{login: s.login}, nil
	}
	return nil, smtp.ErrAuthUnknownMechanism
}

func (s *testSession) login(user, pass string) error {
	if user != s.be.user || pass != s.be.pass {
		return smtp.ErrAuthFailed
	}
	s.user = user
	return nil
}

func (s *testSession) Mail(from string, opts *smtp.MailOptions) error {
	if s.be.user != "" && s.user == "" {
		return smtp.ErrAuthRequired
	}
	s.from = from
	s.utf8 = opts != nil && opts.UTF8
	return nil
}

func (s *testSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if s.be.rcptErr != nil {
		if err := s.be.rcptErr(to); err != nil {
			return err
		}
	}
	s.to = append(s.to, to)
	return nil
}

func (s *testSession) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if s.be.hold != nil {
		<-s.be.hold
	}
	if s.be.dataErr != nil {
		if err := s.be.dataErr(s.to); err != nil {
			return err
		}
	}
	_, isTLS := s.conn.TLSConnectionState()
	s.be.mu.Lock()
	defer s.be.mu.Unlock()
	if s.be.discard {
		return nil
	}
	s.be.msgs = append(s.be.msgs, received{from: s.from, to: s.to, data: data, tls: isTLS, user: s.user, helo: s.conn.Hostname(), utf8: s.utf8})
	return nil
}

func (s *testSession) Reset() { s.from, s.to, s.utf8 = "", nil, false }

func (s *testSession) Logout() error { return nil }

// loginServer is the server side of AUTH LOGIN, which go-sasl lacks.
type loginServer struct {
	step  int
	user  string
	login func(user, pass string) error
}

func (l *loginServer) Next(resp []byte) ([]byte, bool, error) {
	l.step++
	switch {
	case l.step == 1 && resp == nil:
		return []byte("Username:"), false, nil
	case l.step == 1 || l.step == 2 && l.user == "":
		l.user = string(resp)
		return []byte("Password:"), false, nil
	default:
		return nil, true, l.login(l.user, string(resp))
	}
}

type serverOpts struct {
	startTLS, implicitTLS bool
	allowInsecureAuth     bool
	readTimeout           time.Duration
	listenIP              string // default 127.0.0.1
	smtputf8              bool   // offer SMTPUTF8
}

// startServer runs a go-smtp server for the test's lifetime and returns a
// transport config pointing at it. The server is as strict as smtpsink:
// lines over 998 octets drop the connection.
func startServer(t testing.TB, be *testBackend, o serverOpts) SMTPConfig {
	t.Helper()
	s := smtp.NewServer(be)
	s.Domain = "localhost"
	s.MaxLineLength = 1000
	s.MaxMessageBytes = 1 << 20
	s.AllowInsecureAuth = o.allowInsecureAuth
	s.ReadTimeout = o.readTimeout
	s.EnableSMTPUTF8 = o.smtputf8
	s.ErrorLog = log.New(io.Discard, "", 0)
	ip := o.listenIP
	if ip == "" {
		ip = "127.0.0.1"
	}
	l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := SMTPConfig{Host: ip, Port: l.Addr().(*net.TCPAddr).Port}
	l = countingListener{Listener: l, be: be}
	if o.startTLS || o.implicitTLS {
		serverTLS, roots := testCert(t, ip)
		s.TLSConfig = serverTLS
		cfg.TLSConfig = &tls.Config{RootCAs: roots}
		if o.implicitTLS {
			l = tls.NewListener(l, serverTLS)
			cfg.ImplicitTLS = true
		}
	}
	go s.Serve(l)
	t.Cleanup(func() { s.Close() })
	return cfg
}

// testCert makes a self-signed certificate for ip.
func testCert(t testing.TB, ip string) (*tls.Config, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "herald test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.ParseIP(ip)},
		DNSNames:              []string{"localhost"},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}, roots
}

// testMessages renders n messages, including dot-stuffing material.
func testMessages(t testing.TB, n int) [][]byte {
	t.Helper()
	var msgs [][]byte
	for i := range n {
		m := benchMessage()
		m.Subject = "Message " + strconv.Itoa(i)
		m.Text = ".leading dot\n..two dots\n.\nend " + strconv.Itoa(i)
		p, err := m.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, p)
	}
	return msgs
}

func sendAll(t *testing.T, tr Transport, msgs [][]byte) {
	t.Helper()
	for i, msg := range msgs {
		if err := tr.Send(context.Background(), "bounce@example.com", []string{"r" + strconv.Itoa(i) + "@example.org"}, msg); err != nil {
			t.Fatalf("Send %d: %v", i, err)
		}
	}
}

func checkReceived(t *testing.T, be *testBackend, msgs [][]byte, wantTLS bool, wantUser string) {
	t.Helper()
	got, _, _ := be.stats()
	if len(got) != len(msgs) {
		t.Fatalf("server received %d messages, want %d", len(got), len(msgs))
	}
	for i, r := range got {
		if string(r.data) != string(msgs[i]) {
			t.Errorf("message %d arrived altered", i)
		}
		if r.from != "bounce@example.com" || len(r.to) != 1 || r.to[0] != "r"+strconv.Itoa(i)+"@example.org" {
			t.Errorf("message %d envelope: %q → %q", i, r.from, r.to)
		}
		if r.tls != wantTLS || r.user != wantUser {
			t.Errorf("message %d: tls=%v user=%q, want tls=%v user=%q", i, r.tls, r.user, wantTLS, wantUser)
		}
	}
}

func TestSMTPSend(t *testing.T) {
	tests := []struct {
		name         string
		be           *testBackend
		opts         serverOpts
		user, pass   string
		noPipelining bool
		wantTLS      bool
	}{
		{name: "plain"},
		{name: "plain without pipelining", noPipelining: true},
		{name: "STARTTLS", opts: serverOpts{startTLS: true}, wantTLS: true},
		{name: "implicit TLS", opts: serverOpts{implicitTLS: true}, wantTLS: true},
		{name: "AUTH PLAIN over STARTTLS", be: &testBackend{user: "u@example.com", pass: "p:ss wörd"}, user: "u@example.com", pass: "p:ss wörd", opts: serverOpts{startTLS: true}, wantTLS: true},
		{name: "AUTH LOGIN over implicit TLS", be: &testBackend{user: "u", pass: "p", mechs: []string{sasl.Login}}, user: "u", pass: "p", opts: serverOpts{implicitTLS: true}, wantTLS: true},
		{name: "PLAIN preferred", be: &testBackend{user: "u", pass: "p", mechs: []string{sasl.Login, sasl.Plain}}, user: "u", pass: "p", opts: serverOpts{startTLS: true}, wantTLS: true},
		{name: "AUTH over plaintext to loopback", be: &testBackend{user: "u", pass: "p"}, user: "u", pass: "p", opts: serverOpts{allowInsecureAuth: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			be := tt.be
			if be == nil {
				be = &testBackend{}
			}
			cfg := startServer(t, be, tt.opts)
			cfg.Username, cfg.Password = tt.user, tt.pass
			cfg.HelloName = "herald.example.com"
			tr := NewSMTP(cfg)
			tr.noPipelining = tt.noPipelining
			defer tr.Close()
			msgs := testMessages(t, 3)
			sendAll(t, tr, msgs)
			checkReceived(t, be, msgs, tt.wantTLS, be.user)
			if _, sessions, _ := be.stats(); sessions != 1 {
				t.Errorf("%d connections for 3 sequential messages, want 1", sessions)
			}
		})
	}
}

func TestSMTPPoolReuse(t *testing.T) {
	be := &testBackend{}
	cfg := startServer(t, be, serverOpts{startTLS: true})
	cfg.PoolSize = 3
	tr := NewSMTP(cfg)
	msgs := testMessages(t, 1)
	const n, workers = 60, 8
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += workers {
				errs <- tr.Send(context.Background(), "b@example.com", []string{"r@example.org"}, msgs[0])
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	got, sessions, _ := be.stats()
	if len(got) != n {
		t.Errorf("received %d messages, want %d", len(got), n)
	}
	if sessions > cfg.PoolSize || sessions < 1 {
		t.Errorf("%d connections, want 1..%d", sessions, cfg.PoolSize)
	}
	if idle := tr.idleConns(); idle != sessions {
		t.Errorf("%d idle connections after the burst, want %d", idle, sessions)
	}
	tr.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, _, closed := be.stats(); closed == sessions {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Close did not end the idle connections")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := tr.Send(context.Background(), "b@example.com", []string{"r@example.org"}, msgs[0]); err == nil {
		t.Error("Send after Close succeeded")
	}
}

func TestSMTPRefusals(t *testing.T) {
	tests := []struct {
		name     string
		rcptErr  *smtp.SMTPError
		to       []string
		wantCode int
		wantEnh  string
		wantTemp bool
	}{
		{"550 user unknown", &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such user"}, []string{"reject@example.org"}, 550, "5.1.1", false},
		{"451 try later", &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 7, 1}, Message: "Greylisted, try again"}, []string{"reject@example.org"}, 451, "4.7.1", true},
		{"552 mailbox full", &smtp.SMTPError{Code: 552, EnhancedCode: smtp.EnhancedCode{5, 2, 2}, Message: "Mailbox full"}, []string{"reject@example.org"}, 552, "5.2.2", false},
		{"one of two refused: nothing delivered", &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such user"}, []string{"ok@example.org", "reject@example.org"}, 550, "5.1.1", false},
	}
	for _, pipelined := range []bool{true, false} {
		for _, tt := range tests {
			t.Run(fmt.Sprintf("%s/pipelining=%v", tt.name, pipelined), func(t *testing.T) {
				be := &testBackend{rcptErr: func(to string) error {
					if strings.HasPrefix(to, "reject") {
						return tt.rcptErr
					}
					return nil
				}}
				tr := NewSMTP(startServer(t, be, serverOpts{}))
				tr.noPipelining = !pipelined
				defer tr.Close()
				msg := testMessages(t, 1)[0]
				err := tr.Send(context.Background(), "b@example.com", tt.to, msg)
				var se *SendError
				if !errors.As(err, &se) {
					t.Fatalf("Send = %v, want *SendError", err)
				}
				if se.Code != tt.wantCode || se.EnhancedCode != tt.wantEnh || se.Temporary != tt.wantTemp || se.Command != "RCPT" {
					t.Errorf("SendError = %+v", se)
				}
				if IsTemporary(err) != tt.wantTemp {
					t.Errorf("IsTemporary(%v) = %v", err, !tt.wantTemp)
				}
				if !strings.Contains(err.Error(), strconv.Itoa(tt.wantCode)) || !strings.Contains(err.Error(), tt.rcptErr.Message) {
					t.Errorf("Error() = %q", err)
				}
				// The connection (or a fresh one) still delivers.
				if err := tr.Send(context.Background(), "b@example.com", []string{"ok@example.org"}, msg); err != nil {
					t.Fatalf("Send after refusal: %v", err)
				}
				got, sessions, _ := be.stats()
				if len(got) != 1 || len(got[0].to) != 1 {
					t.Errorf("delivered %v, want exactly the second message", got)
				}
				if len(tt.to) == 1 && sessions != 1 {
					t.Errorf("%d connections, want the first one reused after RSET", sessions)
				}
			})
		}
	}
}

func TestSMTPConnectionRefused(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	tr := NewSMTP(SMTPConfig{Host: "127.0.0.1", Port: port})
	defer tr.Close()
	err = tr.Send(context.Background(), "b@example.com", []string{"r@example.org"}, []byte("Subject: x\r\n\r\nx\r\n"))
	var se *SendError
	if !errors.As(err, &se) || se.Command != "dial" || !se.Temporary || !IsTemporary(err) || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("Send = %#v, want temporary dial error wrapping ECONNREFUSED", err)
	}
}

func TestSMTPRedialAfterIdleClose(t *testing.T) {
	be := &testBackend{}
	cfg := startServer(t, be, serverOpts{readTimeout: 200 * time.Millisecond})
	tr := NewSMTP(cfg)
	defer tr.Close()
	msgs := testMessages(t, 2)
	sendAll(t, tr, msgs[:1])
	time.Sleep(600 * time.Millisecond) // the server says 421 and hangs up
	if tr.idleConns() != 1 {
		t.Fatalf("pool holds %d connections, want the stale one", tr.idleConns())
	}
	if err := tr.Send(context.Background(), "bounce@example.com", []string{"r1@example.org"}, msgs[1]); err != nil {
		t.Fatalf("Send on a connection the server closed: %v", err)
	}
	checkReceived(t, be, msgs, false, "")
	if _, sessions, _ := be.stats(); sessions != 2 {
		t.Errorf("%d connections, want 2", sessions)
	}
}

func TestSMTPRedialAfterSilentClose(t *testing.T) {
	for _, pipelined := range []bool{true, false} {
		t.Run(fmt.Sprintf("pipelining=%v", pipelined), func(t *testing.T) {
			be := &testBackend{}
			tr := NewSMTP(startServer(t, be, serverOpts{startTLS: true}))
			tr.noPipelining = !pipelined
			defer tr.Close()
			msgs := testMessages(t, 2)
			sendAll(t, tr, msgs[:1])
			be.dropAll()
			time.Sleep(50 * time.Millisecond)
			if err := tr.Send(context.Background(), "bounce@example.com", []string{"r1@example.org"}, msgs[1]); err != nil {
				t.Fatalf("Send on a connection the server dropped: %v", err)
			}
			checkReceived(t, be, msgs, true, "")
			if _, conns, _ := be.stats(); conns != 2 {
				t.Errorf("%d connections, want 2", conns)
			}
		})
	}
}

func TestSMTPIdleTimeout(t *testing.T) {
	be := &testBackend{}
	cfg := startServer(t, be, serverOpts{})
	cfg.IdleTimeout = 100 * time.Millisecond
	tr := NewSMTP(cfg)
	defer tr.Close()
	sendAll(t, tr, testMessages(t, 1))
	deadline := time.Now().Add(5 * time.Second)
	for tr.idleConns() != 0 || func() bool { _, _, l := be.stats(); return l != 1 }() {
		if time.Now().After(deadline) {
			t.Fatal("idle connection not closed")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestSMTPAuthProblems(t *testing.T) {
	t.Run("wrong password", func(t *testing.T) {
		be := &testBackend{user: "u", pass: "right"}
		cfg := startServer(t, be, serverOpts{startTLS: true})
		cfg.Username, cfg.Password = "u", "wrong"
		tr := NewSMTP(cfg)
		defer tr.Close()
		err := tr.Send(context.Background(), "b@example.com", []string{"r@example.org"}, testMessages(t, 1)[0])
		var se *SendError
		if !errors.As(err, &se) || se.Command != "AUTH" || se.Code != 535 || !IsTemporary(err) {
			t.Fatalf("Send = %v, want AUTH 535, temporary (a relay problem must not drop mail)", err)
		}
		if strings.Contains(err.Error(), "wrong") {
			t.Errorf("error leaks the password: %v", err)
		}
	})
	t.Run("credentials but no AUTH offered", func(t *testing.T) {
		cfg := startServer(t, &testBackend{}, serverOpts{startTLS: true})
		cfg.Username, cfg.Password = "u", "p"
		tr := NewSMTP(cfg)
		defer tr.Close()
		err := tr.Send(context.Background(), "b@example.com", []string{"r@example.org"}, testMessages(t, 1)[0])
		if err == nil || !strings.Contains(err.Error(), "no AUTH") {
			t.Fatalf("Send = %v", err)
		}
	})
	t.Run("no AUTH over plaintext to a remote host", func(t *testing.T) {
		ip := nonLoopbackIP(t)
		be := &testBackend{user: "u", pass: "p"}
		cfg := startServer(t, be, serverOpts{allowInsecureAuth: true, listenIP: ip})
		cfg.Username, cfg.Password = "u", "p"
		tr := NewSMTP(cfg)
		defer tr.Close()
		err := tr.Send(context.Background(), "b@example.com", []string{"r@example.org"}, testMessages(t, 1)[0])
		var se *SendError
		if !errors.As(err, &se) || se.Command != "AUTH" || se.Code != 0 || !strings.Contains(err.Error(), "unencrypted") {
			t.Fatalf("Send = %v, want refusal to AUTH without TLS", err)
		}
	})
}

func nonLoopbackIP(t *testing.T) string {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Skip(err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil {
			return n.IP.String()
		}
	}
	t.Skip("no non-loopback IPv4 address to listen on")
	return ""
}

func TestSMTPContextAndTimeouts(t *testing.T) {
	msg := testMessages(t, 1)[0]
	t.Run("context deadline during DATA", func(t *testing.T) {
		be := &testBackend{hold: make(chan struct{})}
		defer close(be.hold)
		tr := NewSMTP(startServer(t, be, serverOpts{}))
		defer tr.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		start := time.Now()
		err := tr.Send(ctx, "b@example.com", []string{"r@example.org"}, msg)
		if !errors.Is(err, context.DeadlineExceeded) || !IsTemporary(err) {
			t.Fatalf("Send = %v, want temporary deadline error", err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("Send returned after %v", d)
		}
	})
	t.Run("cancel while waiting for DATA reply", func(t *testing.T) {
		be := &testBackend{hold: make(chan struct{})}
		defer close(be.hold)
		tr := NewSMTP(startServer(t, be, serverOpts{}))
		defer tr.Close()
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(100*time.Millisecond, cancel)
		err := tr.Send(ctx, "b@example.com", []string{"r@example.org"}, msg)
		if !errors.Is(err, context.Canceled) || !IsTemporary(err) {
			t.Fatalf("Send = %v, want temporary cancellation", err)
		}
		if tr.idleConns() != 0 {
			t.Error("a connection in an unknown state went back to the pool")
		}
	})
	t.Run("command timeout", func(t *testing.T) {
		be := &testBackend{hold: make(chan struct{})}
		defer close(be.hold)
		cfg := startServer(t, be, serverOpts{})
		cfg.CommandTimeout = 200 * time.Millisecond
		tr := NewSMTP(cfg)
		defer tr.Close()
		err := tr.Send(context.Background(), "b@example.com", []string{"r@example.org"}, msg)
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() || !IsTemporary(err) {
			t.Fatalf("Send = %v, want temporary timeout", err)
		}
	})
	t.Run("waiting for a pool slot", func(t *testing.T) {
		be := &testBackend{hold: make(chan struct{})}
		cfg := startServer(t, be, serverOpts{})
		cfg.PoolSize = 1
		tr := NewSMTP(cfg)
		defer tr.Close()
		done := make(chan error)
		go func() { done <- tr.Send(context.Background(), "b@example.com", []string{"r@example.org"}, msg) }()
		time.Sleep(100 * time.Millisecond) // the first Send holds the only connection
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		err := tr.Send(ctx, "b@example.com", []string{"r@example.org"}, msg)
		if !errors.Is(err, context.DeadlineExceeded) || !IsTemporary(err) {
			t.Errorf("Send = %v, want deadline while waiting", err)
		}
		close(be.hold)
		if err := <-done; err != nil {
			t.Errorf("first Send: %v", err)
		}
	})
}

func TestSMTPRefusesBadInput(t *testing.T) {
	be := &testBackend{}
	tr := NewSMTP(startServer(t, be, serverOpts{}))
	defer tr.Close()
	good := testMessages(t, 1)[0]
	tests := []struct {
		name     string
		from     string
		to       []string
		msg      []byte
		wantText string
	}{
		{"bare LF", "b@example.com", []string{"r@example.org"}, []byte("Subject: x\r\n\r\nline\nnext\r\n"), "bare LF"},
		{"bare CR", "b@example.com", []string{"r@example.org"}, []byte("Subject: x\r\n\r\nline\rnext\r\n"), "bare CR"},
		{"long line", "b@example.com", []string{"r@example.org"}, []byte("Subject: x\r\n\r\n" + strings.Repeat("x", 999) + "\r\n"), "999 octets"},
		{"empty", "b@example.com", []string{"r@example.org"}, nil, "empty"},
		{"no recipients", "b@example.com", nil, good, "no recipients"},
		{"injection in RCPT", "b@example.com", []string{"r@example.org>\r\nRCPT TO:<x@example.net"}, good, "invalid envelope"},
		{"injection in MAIL", "b@example.com> SIZE=1", []string{"r@example.org"}, good, "invalid envelope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tr.Send(context.Background(), tt.from, tt.to, tt.msg)
			var se *SendError
			if !errors.As(err, &se) || se.Command != "message" || IsTemporary(err) || !strings.Contains(err.Error(), tt.wantText) {
				t.Fatalf("Send = %v, want permanent message error mentioning %q", err, tt.wantText)
			}
		})
	}
	// A 998-octet line is fine, and the connection survived all of the above.
	ok := []byte("Subject: x\r\n\r\n" + strings.Repeat("y", 998) + "\r\n.\r\nno final CRLF")
	if err := tr.Send(context.Background(), "b@example.com", []string{"r@example.org"}, ok); err != nil {
		t.Fatal(err)
	}
	got, sessions, _ := be.stats()
	if len(got) != 1 || string(got[0].data) != string(ok)+"\r\n" || sessions != 1 {
		t.Errorf("got %d messages over %d connections", len(got), sessions)
	}
}

func TestParseSMTPURL(t *testing.T) {
	tests := []struct {
		raw     string
		want    SMTPConfig
		wantErr string
	}{
		{raw: "smtp://relay.example.com", want: SMTPConfig{Host: "relay.example.com", Port: 587}},
		{raw: "smtp://relay.example.com:25", want: SMTPConfig{Host: "relay.example.com", Port: 25}},
		{raw: "smtp://user%40example.com:p%40ss%3Aw%2Frd@relay.example.com:2525", want: SMTPConfig{Host: "relay.example.com", Port: 2525, Username: "user@example.com", Password: "p@ss:w/rd"}},
		{raw: "smtps://u:p@relay.example.com", want: SMTPConfig{Host: "relay.example.com", Port: 465, Username: "u", Password: "p", ImplicitTLS: true}},
		{raw: "smtps://relay.example.com:2465/", want: SMTPConfig{Host: "relay.example.com", Port: 2465, ImplicitTLS: true}},
		{raw: "smtp://[::1]:25", want: SMTPConfig{Host: "::1", Port: 25}},
		{raw: "smtp://apikey@relay.example.com", want: SMTPConfig{Host: "relay.example.com", Port: 587, Username: "apikey"}},
		{raw: "http://relay.example.com", wantErr: `unsupported scheme "http"`},
		{raw: "relay.example.com:25", wantErr: "unsupported scheme"},
		{raw: "relay.example.com", wantErr: "want smtp://"},
		{raw: "smtp://", wantErr: "missing host"},
		{raw: "smtp://:25", wantErr: "missing host"},
		{raw: "smtp://relay.example.com:0", wantErr: "bad port"},
		{raw: "smtp://relay.example.com:70000", wantErr: "bad port"},
		{raw: "smtp://relay.example.com:x", wantErr: "invalid SMTP URL"},
		{raw: "smtp://relay.example.com:", wantErr: "empty port"},
		{raw: "smtp://relay.example.com?insecure_skip_verify=1", wantErr: `unknown option "insecure_skip_verify"`},
		{raw: "smtp://relay.example.com/x", wantErr: "unexpected path"},
		{raw: "smtp://u:secret@relay.example.com:x", wantErr: "invalid SMTP URL"},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			got, err := ParseSMTPURL(tt.raw)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseSMTPURL(%q) = %+v, %v; want error with %q", tt.raw, got, err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "secret") {
					t.Errorf("error leaks the password: %v", err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseSMTPURL(%q) = %+v, %v; want %+v", tt.raw, got, err, tt.want)
			}
		})
	}
}

func TestIsTemporary(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{nil, false},
		{errors.New("other"), false},
		{&SendError{Code: 550, Temporary: false}, false},
		{&SendError{Code: 421, Temporary: true}, true},
		{fmt.Errorf("wrapped: %w", &SendError{Code: 451, Temporary: true}), true},
		{&SendError{Code: 554, Err: io.EOF}, false},
		{context.DeadlineExceeded, true},
		{&net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}, true},
		{io.ErrUnexpectedEOF, true},
		{fmt.Errorf("x: %w", syscall.ECONNRESET), true},
	}
	for _, tt := range tests {
		if got := IsTemporary(tt.err); got != tt.want {
			t.Errorf("IsTemporary(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

type fakeOutbox struct {
	from string
	to   []string
	raw  []byte
	err  error
}

func (f *fakeOutbox) WriteOutbox(_ context.Context, from string, to []string, raw []byte) error {
	f.from, f.to, f.raw = from, to, raw
	return f.err
}

func TestOutbox(t *testing.T) {
	f := &fakeOutbox{}
	tr := NewOutbox(f)
	msg := testMessages(t, 1)[0]
	if err := tr.Send(context.Background(), "b@example.com", []string{"r@example.org"}, msg); err != nil {
		t.Fatal(err)
	}
	if f.from != "b@example.com" || len(f.to) != 1 || string(f.raw) != string(msg) {
		t.Errorf("outbox got %q %q", f.from, f.to)
	}
	if err := tr.Send(context.Background(), "b@example.com", []string{"r@example.org"}, []byte("bare\nLF")); err == nil {
		t.Error("outbox accepted a bare LF")
	}
	f.err = errors.New("disk full")
	if err := tr.Send(context.Background(), "b@example.com", []string{"r@example.org"}, msg); !errors.Is(err, f.err) {
		t.Errorf("Send = %v, want the store's error", err)
	}
	if err := tr.Close(); err != nil {
		t.Error(err)
	}
}

// BenchmarkSMTPSend measures the transport into an in-process go-smtp
// server on loopback (which shares the CPU), 10 connections, pipelined.
func BenchmarkSMTPSend(b *testing.B) {
	be := &testBackend{discard: true}
	tr := NewSMTP(startServer(b, be, serverOpts{}))
	defer tr.Close()
	msg, err := func() ([]byte, error) { m := benchMessage(); return m.Bytes() }()
	if err != nil {
		b.Fatal(err)
	}
	// At least PoolSize senders, as a campaign runs them.
	b.SetParallelism((tr.cfg.PoolSize + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := tr.Send(context.Background(), "b@example.com", []string{"r@example.org"}, msg); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}
