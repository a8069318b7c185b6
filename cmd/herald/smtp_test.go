package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// relay is a go-smtp server offering STARTTLS with a self-signed
// certificate; it counts the messages it accepts.
type relay struct {
	mu   sync.Mutex
	rcpt []string
}

func (r *relay) NewSession(*smtp.Conn) (smtp.Session, error) { return &relaySession{r: r}, nil }

type relaySession struct {
	r  *relay
	to []string
}

func (s *relaySession) Mail(string, *smtp.MailOptions) error { return nil }
func (s *relaySession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = append(s.to, to)
	return nil
}
func (s *relaySession) Data(r io.Reader) error {
	io.Copy(io.Discard, r)
	s.r.mu.Lock()
	s.r.rcpt = append(s.r.rcpt, s.to...)
	s.r.mu.Unlock()
	return nil
}
func (s *relaySession) Reset()        { s.to = nil }
func (s *relaySession) Logout() error { return nil }

// startTLSRelay returns the relay, its address and its certificate file.
func startTLSRelay(t *testing.T) (*relay, string, string) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "relay"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	certFile := filepath.Join(t.TempDir(), "relay.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	r := &relay{}
	s := smtp.NewServer(r)
	s.Domain = "relay.test"
	s.ErrorLog = log.New(io.Discard, "", 0)
	s.TLSConfig = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(l)
	t.Cleanup(func() { s.Close() })
	return r, l.Addr().String(), certFile
}

func TestSMTPTestCommand(t *testing.T) {
	r, addr, certFile := startTLSRelay(t)
	db := "sqlite:" + filepath.Join(t.TempDir(), "h.db")
	tests := []struct {
		name    string
		args    []string
		wantErr string
		want    []string
		sent    int
	}{
		{name: "untrusted certificate", args: []string{"--smtp-url", "smtp://" + addr},
			wantErr: "1 of 1 relays failed", want: []string{"ok    connect", "ok    ehlo", "STARTTLS", "FAIL  tls", "cause     certificate", "fix       ", "tls_ca=", "tls_skip_verify=true"}},
		{name: "tls_ca and one message", args: []string{"--to", "reader@example.org", "--smtp-url", "smtp://" + addr + "?tls_ca=" + certFile},
			want: []string{"ok    tls       STARTTLS: TLS 1.3", "verified against tls_ca=" + certFile, "ok    message   accepted", "relay 1 works"}, sent: 1},
		{name: "tls_skip_verify, no message", args: []string{"--smtp-url=smtp://" + addr + "?tls_skip_verify=true&helo=news.example.com"},
			want: []string{"certificate NOT verified (tls_skip_verify=true)", "EHLO news.example.com accepted", "none sent"}},
		{name: "failover", args: []string{"--to=x@example.org", "--smtp-url", "smtp://127.0.0.1:1,smtp://" + addr + "?tls=none"},
			wantErr: "1 of 2 relays failed", want: []string{"relay 1 of 2: smtp://127.0.0.1:1", "cause     refused", "relay 2 works", "not used (tls=none)"}, sent: 1},
		{name: "unknown option", args: []string{"--smtp-url", "smtp://" + addr + "?tls_verify=no"}, wantErr: `invalid HERALD_SMTP_URL: unknown option "tls_verify"`},
		{name: "unreadable CA", args: []string{"--smtp-url", "smtp://" + addr + "?tls_ca=/nonexistent.pem"}, wantErr: "tls_ca: cannot read /nonexistent.pem"},
		{name: "no relay", args: nil, wantErr: "HERALD_SMTP_URL is not set"},
		{name: "bad --to", args: []string{"--to", "Bob <b@example.org>", "--smtp-url", "smtp://" + addr}, wantErr: "not a bare address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r.mu.Lock()
			before := len(r.rcpt)
			r.mu.Unlock()
			args := append([]string{"smtp", "test", "--database-url", db, "--from", "News <news@planet.example>"}, tt.args...)
			res := runCLI(t, nil, args...)
			if tt.wantErr == "" && res.code != 0 || tt.wantErr != "" && (res.code == 0 || !strings.Contains(res.stderr, tt.wantErr)) {
				t.Fatalf("want error %q, got %s", tt.wantErr, res)
			}
			for _, w := range tt.want {
				if !strings.Contains(res.stdout, w) {
					t.Errorf("output lacks %q:\n%s", w, res)
				}
			}
			r.mu.Lock()
			sent := len(r.rcpt) - before
			r.mu.Unlock()
			if sent != tt.sent {
				t.Errorf("the relay received %d messages, want %d", sent, tt.sent)
			}
		})
	}
}
