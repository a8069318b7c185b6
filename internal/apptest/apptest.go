// Package apptest starts whole Herald instances for end-to-end tests —
// the same wiring as `herald serve`, on a real database, listening on a
// loopback port — and a real in-process SMTP server to receive their mail.
package apptest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/http"
	"net/mail"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/heraldhq/herald/internal/app"
	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/internal/sqlstore/storetest"
)

// Options configure an instance; zero values give the embedded defaults
// on a fresh SQLite file.
type Options struct {
	DatabaseURL string       // default: a fresh SQLite file
	Args        []string     // extra flags, e.g. "--smtp-url", "smtp://127.0.0.1:2525"
	Log         *slog.Logger // default: discarded (warnings in the test log with -v)
}

// Instance is a running Herald.
type Instance struct {
	URL   string
	App   *app.App
	Token string // an API token
	stop  context.CancelFunc
	done  chan error
}

// Start runs Herald until the test ends.
func Start(tb testing.TB, o Options) *Instance {
	tb.Helper()
	if o.DatabaseURL == "" {
		o.DatabaseURL = storetest.URLs(tb)["sqlite"]
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	args := append([]string{"--database-url", o.DatabaseURL, "--listen", ln.Addr().String(), "--base-url", base,
		"--signup-limit", "0", "--auth-fail-limit", "0", "--publisher-name", "The Daily Planet", "--postal-address", "1 Planet Square, Metropolis"}, o.Args...)
	cfg, _, err := config.Load("serve", args, nil)
	if err != nil {
		tb.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(testWriter{tb}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	if o.Log != nil {
		log = o.Log
	}
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, cfg, log)
	if err != nil {
		cancel()
		tb.Fatal(err)
	}
	a.Worker.Poll = 50 * time.Millisecond
	a.Worker.BaseBackoff = 100 * time.Millisecond
	in := &Instance{URL: base, App: a, stop: cancel, done: make(chan error, 1)}
	go func() { in.done <- a.Run(ctx, ln) }()
	tb.Cleanup(in.Stop)
	if in.Token, err = a.DB.CreateAPIToken(ctx, "test"); err != nil {
		tb.Fatal(err)
	}
	return in
}

type testWriter struct{ tb testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.tb.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// Stop shuts the instance down gracefully (idempotent).
func (in *Instance) Stop() {
	if in.stop == nil {
		return
	}
	in.stop()
	<-in.done
	in.App.Close()
	in.stop = nil
}

// apiClient fails a stuck request instead of hanging the test run.
var apiClient = &http.Client{Timeout: 30 * time.Second}

// API calls the JSON API and decodes the answer into out (if not nil).
func (in *Instance) API(tb testing.TB, method, path string, body, out any) int {
	tb.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, in.URL+"/api/v1"+path, rd)
	req.Header.Set("Authorization", "Bearer "+in.Token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := apiClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			tb.Fatalf("%s %s: %v in %s", method, path, err, data)
		}
	}
	return res.StatusCode
}

// MustAPI is API that fails the test unless the status is want.
func (in *Instance) MustAPI(tb testing.TB, want int, method, path string, body, out any) {
	tb.Helper()
	var raw json.RawMessage
	if got := in.API(tb, method, path, body, &raw); got != want {
		tb.Fatalf("%s %s: status %d, want %d: %s", method, path, got, want, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			tb.Fatal(err)
		}
	}
}

// Eventually polls cond until it holds or 10 s pass.
func Eventually(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Message is one received mail, decoded.
type Message struct {
	From string
	To   []string
	Raw  []byte
}

// Header returns a decoded header of the message.
func (m Message) Header(name string) string {
	msg, err := mail.ReadMessage(bytes.NewReader(m.Raw))
	if err != nil {
		return ""
	}
	v := msg.Header.Get(name)
	if dec, err := new(mime.WordDecoder).DecodeHeader(v); err == nil {
		return dec
	}
	return v
}

// Text returns the decoded text/plain part.
func (m Message) Text() string { return Part(m.Raw, "text/plain") }

// HTML returns the decoded text/html part.
func (m Message) HTML() string { return Part(m.Raw, "text/html") }

// Part decodes the first part of the given type from a raw message.
func Part(raw []byte, want string) string {
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return ""
	}
	return findPart(msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), msg.Body, want)
}

func findPart(ctype, cte string, body io.Reader, want string) string {
	mt, params, _ := mime.ParseMediaType(ctype)
	if strings.HasPrefix(mt, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextRawPart()
			if err != nil {
				return ""
			}
			if s := findPart(p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p, want); s != "" {
				return s
			}
		}
	}
	if mt != want && !(mt == "" && want == "text/plain") {
		return ""
	}
	if strings.EqualFold(cte, "quoted-printable") {
		body = quotedprintable.NewReader(body)
	}
	b, _ := io.ReadAll(body)
	return string(b)
}

var linkRE = regexp.MustCompile(`https?://[^\s"'<>()]+`)

// Link returns the first link in the message's text that contains substr.
func Link(text, substr string) string {
	for _, l := range linkRE.FindAllString(text, -1) {
		if strings.Contains(l, substr) {
			return l
		}
	}
	return ""
}

// LinkAll returns every distinct link in the text that contains substr.
func LinkAll(text, substr string) []string {
	var out []string
	seen := map[string]bool{}
	for _, l := range linkRE.FindAllString(text, -1) {
		if strings.Contains(l, substr) && !seen[l] {
			seen[l] = true
			out = append(out, l)
		}
	}
	return out
}

// SMTPServer is a real SMTP server (go-smtp) on a loopback port that keeps
// every message it accepts. Fail, when set, decides an SMTP error for a
// recipient (e.g. &smtp.SMTPError{Code: 451}).
type SMTPServer struct {
	Addr string
	mu   sync.Mutex
	msgs []Message
	Fail func(rcpt string) error
	srv  *smtp.Server
}

// StartSMTP starts an SMTP server until the test ends.
func StartSMTP(tb testing.TB) *SMTPServer {
	tb.Helper()
	return StartSMTPAt(tb, "127.0.0.1:0")
}

// StartSMTPAt starts an SMTP server on a given address until the test ends.
func StartSMTPAt(tb testing.TB, addr string) *SMTPServer {
	tb.Helper()
	return startSMTP(tb, addr, false)
}

// StartSMTPUTF8 starts an SMTP server that offers SMTPUTF8 (RFC 6531).
func StartSMTPUTF8(tb testing.TB) *SMTPServer {
	tb.Helper()
	return startSMTP(tb, "127.0.0.1:0", true)
}

func startSMTP(tb testing.TB, addr string, smtputf8 bool) *SMTPServer {
	tb.Helper()
	s := &SMTPServer{}
	s.srv = smtp.NewServer(s)
	s.srv.EnableSMTPUTF8 = smtputf8
	s.srv.Domain = "localhost"
	s.srv.AllowInsecureAuth = true
	s.srv.ReadTimeout = 10 * time.Second
	s.srv.WriteTimeout = 10 * time.Second
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		tb.Fatal(err)
	}
	s.Addr = ln.Addr().String()
	go s.srv.Serve(ln)
	tb.Cleanup(func() { s.srv.Close() })
	return s
}

// URL is the HERALD_SMTP_URL of this server.
func (s *SMTPServer) URL() string { return "smtp://" + s.Addr }

// Messages returns a copy of what arrived so far.
func (s *SMTPServer) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// To returns the messages delivered to rcpt.
func (s *SMTPServer) To(rcpt string) []Message {
	var out []Message
	for _, m := range s.Messages() {
		for _, t := range m.To {
			if strings.EqualFold(t, rcpt) {
				out = append(out, m)
			}
		}
	}
	return out
}

// Stop closes the server (to simulate an outage).
func (s *SMTPServer) Stop() { s.srv.Close() }

// NewSession implements smtp.Backend.
func (s *SMTPServer) NewSession(*smtp.Conn) (smtp.Session, error) { return &session{srv: s}, nil }

type session struct {
	srv  *SMTPServer
	from string
	to   []string
}

func (x *session) AuthMechanisms() []string { return nil }
func (x *session) Mail(from string, _ *smtp.MailOptions) error {
	x.from = from
	return nil
}
func (x *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	x.srv.mu.Lock()
	fail := x.srv.Fail
	x.srv.mu.Unlock()
	if fail != nil {
		if err := fail(to); err != nil {
			return err
		}
	}
	x.to = append(x.to, to)
	return nil
}
func (x *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	x.srv.mu.Lock()
	x.srv.msgs = append(x.srv.msgs, Message{From: x.from, To: x.to, Raw: b})
	x.srv.mu.Unlock()
	return nil
}
func (x *session) Reset()        { x.from, x.to = "", nil }
func (x *session) Logout() error { return nil }

// SetFail sets the failure function under the lock.
func (s *SMTPServer) SetFail(f func(rcpt string) error) {
	s.mu.Lock()
	s.Fail = f
	s.mu.Unlock()
}
