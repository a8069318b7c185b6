package app_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/heraldhq/herald/internal/apptest"
	"github.com/heraldhq/herald/internal/logging"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestLogsKeepReadersAddressesOut runs a reader's signup, confirmation and
// one-click unsubscribe — with the confirmation mail refused once by the
// relay, whose reply quotes the address — with an info-level JSON log, and
// checks that the address never appears in it, that every line is JSON,
// and that every request's lines carry the id its X-Request-Id header gave.
func TestLogsKeepReadersAddressesOut(t *testing.T) {
	var logBuf syncBuffer
	smtpSrv := apptest.StartSMTP(t)
	const email = "zq7.reader+news@example.com"
	refused := false
	var mu sync.Mutex
	smtpSrv.SetFail(func(rcpt string) error {
		mu.Lock()
		defer mu.Unlock()
		if !refused {
			refused = true
			return &smtpError{"451 4.2.0 <" + rcpt + ">: mailbox busy, try later"}
		}
		return nil
	})
	in := apptest.Start(t, apptest.Options{Log: logging.New(&logBuf, "json", nil), // nil: info
		Args: []string{"--smtp-url", smtpSrv.URL(), "--from", "The Daily Planet <news@planet.example>"}})
	in.MustAPI(t, 201, "POST", "/lists", map[string]any{"slug": "daily", "name": "The Daily Briefing"}, nil)

	ids := map[string]bool{}
	do := func(method, u string, form url.Values) string {
		t.Helper()
		var body io.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		}
		req, _ := http.NewRequest(method, u, body)
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode != 200 {
			t.Fatalf("%s %s: %d %s", method, u, res.StatusCode, b)
		}
		id := res.Header.Get("X-Request-Id")
		if id == "" {
			t.Fatalf("%s %s: no X-Request-Id", method, u)
		}
		ids[id] = true
		return string(b)
	}
	do("GET", in.URL+"/subscribe", nil)
	do("POST", in.URL+"/subscribe", url.Values{"email": {email}, "lists": {"daily"}})
	apptest.Eventually(t, "the confirmation mail (after the relay's 451)", func() bool { return len(smtpSrv.To(email)) == 1 })
	confirm := apptest.Link(smtpSrv.To(email)[0].Text(), "/confirm/")
	do("GET", confirm, nil)
	page := do("POST", confirm, url.Values{})
	var sub struct {
		Data []struct {
			UnsubscribeURL string `json:"unsubscribe_url"`
		}
	}
	in.MustAPI(t, 200, "GET", "/subscribers?email="+url.QueryEscape(email), nil, &sub)
	if len(sub.Data) != 1 || !strings.Contains(page, "subscribed") {
		t.Fatalf("after confirming: %+v", sub)
	}
	do("POST", sub.Data[0].UnsubscribeURL, url.Values{"List-Unsubscribe": {"One-Click"}})
	// A client that is not a trusted proxy does not choose its id.
	req, _ := http.NewRequest("GET", in.URL+"/subscribe", nil)
	req.Header.Set("X-Request-Id", "client-chosen")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if id := res.Header.Get("X-Request-Id"); id == "client-chosen" || id == "" {
		t.Errorf("X-Request-Id %q from an untrusted client", id)
	}
	in.Stop()

	logText := logBuf.String()
	for _, needle := range []string{"zq7", strings.ToLower(email), url.QueryEscape(email)} {
		if strings.Contains(strings.ToLower(logText), needle) {
			t.Errorf("the log shows the reader's address (%q):\n%s", needle, logText)
		}
	}
	seen := map[string]int{}
	retried := false
	for _, line := range strings.Split(strings.TrimSpace(logText), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("not a JSON line: %q", line)
		}
		if m["msg"] == "request" {
			id, _ := m["request_id"].(string)
			if id == "" || m["route"] == nil || m["status"] == nil {
				t.Errorf("access line without request id, route or status: %s", line)
			}
			seen[id]++
		}
		if m["msg"] == "job will be retried" && strings.Contains(line, "[redacted]@example.com") {
			retried = true
		}
	}
	for id := range ids {
		if seen[id] != 1 {
			t.Errorf("request %s has %d access lines, want 1", id, seen[id])
		}
	}
	if !retried {
		t.Errorf("no warning about the relay's refusal, with the address redacted:\n%s", logText)
	}
}

type smtpError struct{ s string }

func (e *smtpError) Error() string { return e.s }

// TestRequestIDFromTrustedProxy: a trusted proxy's X-Request-Id is kept
// (so both logs can be joined) when it is a plain token; anything else
// is replaced.
func TestRequestIDFromTrustedProxy(t *testing.T) {
	var logBuf syncBuffer
	in := apptest.Start(t, apptest.Options{Log: logging.New(&logBuf, "json", nil), Args: []string{"--trusted-proxies", "127.0.0.0/8"}})
	for sent, keep := range map[string]bool{
		"3f2c9a6e-proxy_id.1":         true,
		"bad id level=ERROR msg=fake": false,
		strings.Repeat("x", 65):       false,
	} {
		req, _ := http.NewRequest("GET", in.URL+"/subscribe", nil)
		req.Header.Set("X-Request-Id", sent)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		got := res.Header.Get("X-Request-Id")
		if (got == sent) != keep || got == "" {
			t.Errorf("sent X-Request-Id %q, got %q (keep=%v)", sent, got, keep)
		}
	}
	in.Stop()
	if !strings.Contains(logBuf.String(), `"request_id":"3f2c9a6e-proxy_id.1"`) || strings.Contains(logBuf.String(), "fake") {
		t.Errorf("log:\n%s", logBuf.String())
	}
}
