package mail

import (
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/emersion/go-smtp"
)

// startTLSServer runs a go-smtp server offering STARTTLS with a fresh
// self-signed certificate and returns its port and the certificate as a
// PEM file.
func startTLSServer(t *testing.T, be *testBackend, smtputf8 bool) (port int, certFile string) {
	t.Helper()
	s := smtp.NewServer(be)
	s.Domain = "relay.test"
	s.MaxLineLength = 1000
	s.MaxMessageBytes = 1 << 20
	s.EnableSMTPUTF8 = smtputf8
	s.ErrorLog = log.New(io.Discard, "", 0)
	serverTLS, _ := testCert(t, "127.0.0.1")
	s.TLSConfig = serverTLS
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(countingListener{Listener: l, be: be})
	t.Cleanup(func() { s.Close() })
	certFile = filepath.Join(t.TempDir(), "relay.pem")
	p := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: serverTLS.Certificates[0].Certificate[0]})
	if err := os.WriteFile(certFile, p, 0o600); err != nil {
		t.Fatal(err)
	}
	return l.Addr().(*net.TCPAddr).Port, certFile
}

func mustTransport(t *testing.T, raw string) *SMTPTransport {
	t.Helper()
	cfg, err := ParseSMTPURL(raw)
	if err != nil {
		t.Fatalf("ParseSMTPURL(%q): %v", raw, err)
	}
	tr := NewSMTP(cfg)
	t.Cleanup(func() { tr.Close() })
	return tr
}

func TestParseSMTPURLOptions(t *testing.T) {
	dir := t.TempDir()
	_, certFile := startTLSServer(t, &testBackend{}, false)
	notPEM := filepath.Join(dir, "not.pem")
	os.WriteFile(notPEM, []byte("hello"), 0o600)
	tests := []struct {
		raw     string
		check   func(SMTPConfig) bool
		wantErr string
	}{
		{raw: "smtp://h?tls=starttls", check: func(c SMTPConfig) bool { return c.RequireTLS && !c.ImplicitTLS && !c.NoTLS && c.Port == 587 }},
		{raw: "smtp://h?tls=implicit", check: func(c SMTPConfig) bool { return c.ImplicitTLS && c.Port == 465 }},
		{raw: "smtp://h:2465?tls=implicit", check: func(c SMTPConfig) bool { return c.ImplicitTLS && c.Port == 2465 }},
		{raw: "smtp://h:25?tls=none", check: func(c SMTPConfig) bool { return c.NoTLS && c.Port == 25 }},
		{raw: "smtps://h?tls=implicit", check: func(c SMTPConfig) bool { return c.ImplicitTLS }},
		{raw: "smtp://h?tls_skip_verify=true", check: func(c SMTPConfig) bool { return c.TLSSkipVerify && c.TLSConfig.InsecureSkipVerify }},
		{raw: "smtp://h?tls_skip_verify=false", check: func(c SMTPConfig) bool { return !c.TLSSkipVerify && c.TLSConfig == nil }},
		{raw: "smtp://h?tls_ca=" + certFile, check: func(c SMTPConfig) bool { return c.TLSCAFile == certFile && c.TLSConfig.RootCAs != nil }},
		{raw: "smtp://h?helo=mail.example.com", check: func(c SMTPConfig) bool { return c.HelloName == "mail.example.com" }},
		{raw: "smtp://h?helo=%5B192.0.2.1%5D", check: func(c SMTPConfig) bool { return c.HelloName == "[192.0.2.1]" }},
		{raw: "smtp://h?max_per_conn=100", check: func(c SMTPConfig) bool { return c.MaxPerConn == 100 }},
		{raw: "smtp://u:p@h:25?tls=starttls&tls_ca=" + certFile + "&helo=news.example.com&max_per_conn=5", check: func(c SMTPConfig) bool {
			return c.RequireTLS && c.TLSConfig.RootCAs != nil && c.HelloName == "news.example.com" && c.MaxPerConn == 5 && c.Username == "u" && c.Port == 25
		}},

		{raw: "smtp://h?tls=yes", wantErr: `tls="yes": want tls=starttls, tls=implicit or tls=none`},
		{raw: "smtp://h?tls=", wantErr: `tls="": want`},
		{raw: "smtps://h?tls=none", wantErr: "contradicts smtps://"},
		{raw: "smtps://h?tls=starttls", wantErr: "contradicts smtps://"},
		{raw: "smtp://h?tls_skip_verify=maybe", wantErr: `tls_skip_verify="maybe": want true or false`},
		{raw: "smtp://h?tls_ca=" + filepath.Join(dir, "missing.pem"), wantErr: "tls_ca: cannot read " + filepath.Join(dir, "missing.pem") + ": no such file"},
		{raw: "smtp://h?tls_ca=" + notPEM, wantErr: "holds no PEM certificate"},
		{raw: "smtp://h?tls_ca=", wantErr: "tls_ca is empty"},
		{raw: "smtp://h?tls_ca=" + certFile + "&tls_skip_verify=true", wantErr: "contradict"},
		{raw: "smtp://h?tls=none&tls_skip_verify=true", wantErr: "tls=none leaves no certificate"},
		{raw: "smtp://h?helo=localhost", wantErr: "forgery"},
		{raw: "smtp://h?helo=bad%20name", wantErr: "not a domain name"},
		{raw: "smtp://h?helo=", wantErr: "empty"},
		{raw: "smtp://h?helo=%5Bnot-an-ip%5D", wantErr: "address literal"},
		{raw: "smtp://h?max_per_conn=0", wantErr: "max_per_conn=\"0\": want a whole number"},
		{raw: "smtp://h?max_per_conn=x", wantErr: "max_per_conn=\"x\""},
		{raw: "smtp://h?tls=none&tls=starttls", wantErr: "option tls is given 2 times"},
		{raw: "smtp://h?verify=false", wantErr: `unknown option "verify" (known: tls, tls_skip_verify, tls_ca, helo, max_per_conn)`},
		{raw: "smtp://u:secret@h?x=%zz", wantErr: "bad query"},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			got, err := ParseSMTPURL(tt.raw)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseSMTPURL(%q) = %v; want error with %q", tt.raw, err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "secret") {
					t.Errorf("error leaks the password: %v", err)
				}
				return
			}
			if err != nil || !tt.check(got) {
				t.Fatalf("ParseSMTPURL(%q) = %+v, %v", tt.raw, got, err)
			}
		})
	}
}

func TestParseSMTPURLs(t *testing.T) {
	cfgs, err := ParseSMTPURLs(" smtp://a.example.com:25?tls=none , smtps://u:p,w@b.example.com,smtp://c.example.com ")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range cfgs {
		names = append(names, c.Name())
	}
	if got := strings.Join(names, " "); got != "smtp://a.example.com:25 smtps://b.example.com:465 smtp://c.example.com:587" {
		t.Fatalf("relays = %s", got)
	}
	if cfgs[1].Password != "p,w" || !cfgs[0].NoTLS {
		t.Errorf("options or password lost: %+v", cfgs)
	}
	for raw, want := range map[string]string{
		"smtp://a.example.com,":                           "an empty entry",
		"smtp://a.example.com,smtp://b.example.com?tls=x": "relay 2 of 2: mail: invalid SMTP URL: tls=\"x\"",
		"": "empty",
	} {
		if _, err := ParseSMTPURLs(raw); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseSMTPURLs(%q) = %v, want an error with %q", raw, err, want)
		}
	}
}

func TestDefaultHelloName(t *testing.T) {
	tests := []struct{ host, from, want string }{
		{"mail.example.com", "news@example.org", "mail.example.com"},
		{"mail.example.com.", "news@example.org", "mail.example.com"},
		{"buildbox", "news@example.org", "example.org"},
		{"localhost", "news@example.org", "example.org"},
		{"localhost.localdomain", "news@example.org", "example.org"},
		{"buildbox", "newsletter@localhost", ""},
		{"", "", ""},
	}
	for _, tt := range tests {
		if got := DefaultHelloName(tt.host, tt.from); got != tt.want {
			t.Errorf("DefaultHelloName(%q, %q) = %q, want %q", tt.host, tt.from, got, tt.want)
		}
	}
}

// TestSMTPTLSOptions sends through a relay with a self-signed certificate
// with each TLS setting, and checks what fails says why and what to set.
func TestSMTPTLSOptions(t *testing.T) {
	be := &testBackend{}
	port, certFile := startTLSServer(t, be, false)
	plainBE := &testBackend{}
	plain := startServer(t, plainBE, serverOpts{})
	base := "smtp://127.0.0.1:" + strconv.Itoa(port)
	msg := testMessages(t, 1)[0]
	tests := []struct {
		url       string
		wantTLS   bool
		wantCause string
		wantText  []string
	}{
		{url: base + "?helo=client.example.com", wantCause: CauseCertificate, wantText: []string{"x509", "signed by an authority this machine does not trust", "tls_ca=", "tls_skip_verify=true"}},
		{url: base + "?tls=starttls&helo=client.example.com", wantCause: CauseCertificate},
		{url: base + "?tls_skip_verify=true", wantTLS: true},
		{url: base + "?tls_ca=" + certFile, wantTLS: true},
		{url: base + "?tls=starttls&tls_ca=" + certFile, wantTLS: true},
		{url: base + "?tls=none", wantTLS: false},
		// A name the certificate does not carry.
		{url: "smtp://localhost:" + strconv.Itoa(port) + "?tls_ca=" + certFile, wantTLS: true}, // the test certificate names localhost too
		{url: fmt.Sprintf("smtp://127.0.0.1:%d?tls=starttls", plain.Port), wantCause: CauseTLSNotOffered, wantText: []string{"does not offer STARTTLS", "tls=implicit", "tls=none"}},
		{url: fmt.Sprintf("smtp://127.0.0.1:%d?tls=implicit", plain.Port), wantCause: CauseTLS, wantText: []string{"does not speak TLS from the first byte"}},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			tr := mustTransport(t, tt.url)
			before, _, _ := be.stats()
			err := tr.Send(context.Background(), "bounce@example.com", []string{"r@example.org"}, msg)
			if tt.wantCause != "" {
				cause, fix := Diagnosis(err)
				if err == nil || cause != tt.wantCause || fix == "" {
					t.Fatalf("Send = %v; want cause %q with a fix", err, tt.wantCause)
				}
				if !IsTemporary(err) {
					t.Errorf("a relay set-up failure must be temporary (the mail waits): %v", err)
				}
				for _, w := range tt.wantText {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not mention %q", err, w)
					}
				}
				st := tr.Relays()[0]
				if st.State != "failing" || st.Error == nil || st.Error.Cause != tt.wantCause || st.Error.Fix != fix {
					t.Errorf("relay state = %+v", st)
				}
				return
			}
			if err != nil {
				t.Fatalf("Send: %v", err)
			}
			got, _, _ := be.stats()
			if len(got) != len(before)+1 || got[len(got)-1].tls != tt.wantTLS {
				t.Fatalf("received %d (before %d); want one more with tls=%v", len(got), len(before), tt.wantTLS)
			}
			if st := tr.Relays()[0]; st.State != "ok" || st.Error != nil || !st.Active {
				t.Errorf("relay state = %+v", st)
			}
		})
	}
}

func TestSMTPDiagnosis(t *testing.T) {
	msg := testMessages(t, 1)[0]
	send := func(cfg SMTPConfig) error {
		tr := NewSMTP(cfg)
		defer tr.Close()
		return tr.Send(context.Background(), "bounce@example.com", []string{"r@example.org"}, msg)
	}
	t.Run("refused", func(t *testing.T) {
		l, _ := net.Listen("tcp", "127.0.0.1:0")
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		err := send(SMTPConfig{Host: "127.0.0.1", Port: port})
		if cause, fix := Diagnosis(err); cause != CauseRefused || !strings.Contains(fix, "host and port") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("authentication", func(t *testing.T) {
		cfg := startServer(t, &testBackend{user: "u", pass: "right"}, serverOpts{startTLS: true})
		cfg.Username, cfg.Password = "u", "wrong"
		err := send(cfg)
		if cause, fix := Diagnosis(err); cause != CauseAuth || !strings.Contains(fix, "user:password@") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("credentials but no AUTH", func(t *testing.T) {
		cfg := startServer(t, &testBackend{}, serverOpts{startTLS: true})
		cfg.Username, cfg.Password = "u", "p"
		err := send(cfg)
		if cause, fix := Diagnosis(err); cause != CauseAuth || !strings.Contains(fix, "remove user:password@") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		// A listener that accepts and never greets.
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				defer c.Close()
			}
		}()
		cfg := SMTPConfig{Host: "127.0.0.1", Port: l.Addr().(*net.TCPAddr).Port, CommandTimeout: 200e6, DialTimeout: 200e6}
		err = send(cfg)
		if cause, _ := Diagnosis(err); cause != CauseTimeout {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("message refusals have no cause", func(t *testing.T) {
		cfg := startServer(t, &testBackend{rcptErr: func(string) error {
			return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
		}}, serverOpts{})
		err := send(cfg)
		if cause, _ := Diagnosis(err); err == nil || cause != "" {
			t.Fatalf("err = %v, cause %q", err, cause)
		}
	})
}

func TestSMTPHelloName(t *testing.T) {
	be := &testBackend{}
	cfg := startServer(t, be, serverOpts{})
	msgs := testMessages(t, 2)
	sendAll(t, NewSMTP(cfg), msgs[:1])
	cfg.HelloName = "news.example.com"
	sendAll(t, NewSMTP(cfg), msgs[1:])
	got, _, _ := be.stats()
	if got[0].helo != "[127.0.0.1]" || got[1].helo != "news.example.com" {
		t.Fatalf("EHLO names = %q, %q; want [127.0.0.1] (no name configured) and news.example.com", got[0].helo, got[1].helo)
	}
}

func TestSMTPMaxPerConn(t *testing.T) {
	be := &testBackend{}
	cfg := startServer(t, be, serverOpts{})
	cfg.MaxPerConn = 3
	tr := NewSMTP(cfg)
	defer tr.Close()
	msgs := testMessages(t, 10)
	envs := make([]Envelope, len(msgs))
	for i, m := range msgs {
		envs[i] = Envelope{From: "bounce@example.com", To: "r" + strconv.Itoa(i) + "@example.org", Msg: m}
	}
	errs := make([]error, len(envs))
	tr.SendBatch(context.Background(), envs, errs)
	for i, err := range errs {
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
	}
	// 3+3+3+1, then one by one: 2 more on the fourth connection, 2 on a
	// fifth.
	sendAll(t, tr, msgs[:4])
	got, conns, _ := be.stats()
	if len(got) != 14 || conns != 5 {
		t.Fatalf("received %d messages over %d connections; want 14 over 5 (at most 3 per connection)", len(got), conns)
	}
}

// TestSMTPUTF8 sends to an internationalised address: with SMTPUTF8 on
// MAIL FROM when the relay offers it, and not at all — a permanent,
// explained failure — when it does not.
func TestSMTPUTF8(t *testing.T) {
	msg := testMessages(t, 1)[0]
	for _, offered := range []bool{true, false} {
		t.Run(fmt.Sprintf("offered=%v", offered), func(t *testing.T) {
			be := &testBackend{}
			cfg := startServer(t, be, serverOpts{smtputf8: offered})
			tr := NewSMTP(cfg)
			defer tr.Close()
			const to = "jürgen@bücher.example"
			errSend := tr.Send(context.Background(), "bounce@example.com", []string{to}, msg)
			envs := []Envelope{{From: "bounce@example.com", To: to, Msg: msg}, {From: "bounce@example.com", To: "ascii@example.org", Msg: msg}}
			errs := make([]error, 2)
			tr.SendBatch(context.Background(), envs, errs)
			got, _, _ := be.stats()
			if offered {
				if errSend != nil || errs[0] != nil || errs[1] != nil || len(got) != 3 {
					t.Fatalf("Send = %v, SendBatch = %v; received %d", errSend, errs, len(got))
				}
				if !got[0].utf8 || got[0].to[0] != to || !got[1].utf8 || got[2].utf8 {
					t.Errorf("SMTPUTF8 on MAIL FROM: %v %v %v", got[0].utf8, got[1].utf8, got[2].utf8)
				}
				return
			}
			for _, err := range []error{errSend, errs[0]} {
				var se *SendError
				if !errors.As(err, &se) || IsTemporary(err) || se.Code/100 != 5 || !strings.Contains(err.Error(), "does not offer SMTPUTF8") {
					t.Errorf("err = %v; want a permanent failure naming SMTPUTF8", err)
				}
			}
			if errs[1] != nil || len(got) != 1 {
				t.Fatalf("the ASCII address: %v; received %d", errs[1], len(got))
			}
		})
	}
}

func TestFailover(t *testing.T) {
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	deadPort := l.Addr().(*net.TCPAddr).Port
	l.Close()
	be := &testBackend{}
	good := startServer(t, be, serverOpts{})
	cfgs, err := ParseSMTPURLs(fmt.Sprintf("smtp://127.0.0.1:%d,smtp://127.0.0.1:%d", deadPort, good.Port))
	if err != nil {
		t.Fatal(err)
	}
	var logs strings.Builder
	tr := NewTransport(cfgs, newTestLogger(&logs)).(*Failover)
	defer tr.Close()
	msgs := testMessages(t, 3)
	sendAll(t, tr, msgs[:1])
	errs := make([]error, 2)
	tr.SendBatch(context.Background(), []Envelope{{From: "bounce@example.com", To: "r1@example.org", Msg: msgs[1]}, {From: "bounce@example.com", To: "r2@example.org", Msg: msgs[2]}}, errs)
	if errs[0] != nil || errs[1] != nil {
		t.Fatal(errs)
	}
	checkReceived(t, be, msgs, false, "")
	st := tr.Relays()
	if st[0].Active || st[0].State != "failing" || st[0].Error.Cause != CauseRefused || !st[1].Active || st[1].State != "ok" {
		t.Fatalf("states = %+v %+v", st[0], st[1])
	}
	if tr.Active() != good.Name() {
		t.Errorf("active = %s", tr.Active())
	}
	if !strings.Contains(logs.String(), "switched to the next one") || !strings.Contains(logs.String(), "cause=refused") {
		t.Errorf("log = %s", logs.String())
	}

	// The first relay comes back: it is tried again (PrimaryRetry) and
	// taken back.
	tr.PrimaryRetry = 0
	l, err = net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", deadPort))
	if err != nil {
		t.Skipf("the first relay's port was taken meanwhile: %v", err)
	}
	be1 := &testBackend{}
	s := smtp.NewServer(be1)
	s.ErrorLog = log.New(io.Discard, "", 0)
	go s.Serve(l)
	defer s.Close()
	sendAll(t, tr, msgs[:1])
	if got, _, _ := be1.stats(); len(got) != 1 || tr.Active() != cfgs[0].Name() {
		t.Fatalf("after the first relay came back: it received %d, active %s", len(got), tr.Active())
	}
	if !strings.Contains(logs.String(), "switched back") {
		t.Errorf("log = %s", logs.String())
	}
}

func newTestLogger(w io.Writer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }
