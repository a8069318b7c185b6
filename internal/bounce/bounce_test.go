package bounce

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

type want struct {
	Recipient     string `json:"recipient"`
	Kind          Kind   `json:"kind"`
	Status        string `json:"status"`
	Reason        Reason `json:"reason"`
	SenderProblem bool   `json:"sender_problem"`
}

// corpus returns the samples of testdata/bounces and what each must give.
func corpus(tb testing.TB) (map[string][]want, []string) {
	tb.Helper()
	raw, err := os.ReadFile("testdata/bounces/expected.json")
	if err != nil {
		tb.Fatal(err)
	}
	exp := map[string][]want{}
	if err := json.Unmarshal(raw, &exp); err != nil {
		tb.Fatal(err)
	}
	files, err := filepath.Glob("testdata/bounces/*.eml")
	if err != nil {
		tb.Fatal(err)
	}
	sort.Strings(files)
	return exp, files
}

// TestCorpus: every sample gives exactly the recipients, kinds, status
// codes and reasons of expected.json, and every sample has a row.
func TestCorpus(t *testing.T) {
	exp, files := corpus(t)
	if len(files) < 40 {
		t.Fatalf("only %d samples", len(files))
	}
	seen := map[string]bool{}
	for _, f := range files {
		name := filepath.Base(f)
		seen[name] = true
		t.Run(strings.TrimSuffix(name, ".eml"), func(t *testing.T) {
			w, ok := exp[name]
			if !ok {
				t.Fatalf("%s has no row in expected.json", name)
			}
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			rep, err := Parse(bytes.NewReader(raw))
			if err != nil {
				t.Fatal(err)
			}
			got := results(rep)
			if len(got) != len(w) {
				t.Fatalf("got %d results %+v, want %d %+v", len(got), got, len(w), w)
			}
			for i := range w {
				if got[i] != w[i] {
					t.Errorf("result %d:\n got  %+v\n want %+v\n diagnostic %q", i, got[i], w[i], diag(rep, i))
				}
			}
		})
	}
	for name := range exp {
		if !seen[name] {
			t.Errorf("expected.json names %s, which is not in testdata/bounces", name)
		}
	}
}

// results flattens a report as the CLI prints it.
func results(rep *Report) []want {
	if len(rep.Recipients) == 0 {
		return []want{{Kind: rep.Kind, Reason: rep.Reason}}
	}
	var out []want
	for _, r := range rep.Recipients {
		out = append(out, want{r.Address, r.Kind, r.Status, r.Reason, r.SenderProblem})
	}
	return out
}

func diag(rep *Report, i int) string {
	if i < len(rep.Recipients) {
		return rep.Recipients[i].Diagnostic
	}
	return ""
}

// TestCorpusCoverage: the corpus holds every kind, sender problems and
// text-only bounces, in the numbers the issue asks for.
func TestCorpusCoverage(t *testing.T) {
	exp, _ := corpus(t)
	kinds := map[Kind]int{}
	sender := 0
	for _, ws := range exp {
		for _, w := range ws {
			kinds[w.Kind]++
			if w.SenderProblem {
				sender++
			}
		}
	}
	for _, k := range []Kind{Hard, Soft, Complaint, Ignore} {
		if kinds[k] < 4 {
			t.Errorf("only %d samples of kind %s", kinds[k], k)
		}
	}
	if sender < 5 {
		t.Errorf("only %d sender-problem samples", sender)
	}
	text := 0
	_, files := corpus(t)
	for _, f := range files {
		raw, _ := os.ReadFile(f)
		if rep := ParseBytes(raw); rep.Format == "text" {
			text++
		}
	}
	if text < 8 {
		t.Errorf("only %d samples are read from their text alone", text)
	}
}

// TestSenderProblemNeverHard: over the corpus, a refusal about the
// sender is never a hard bounce (it must not suppress a reader).
func TestSenderProblemNeverHard(t *testing.T) {
	_, files := corpus(t)
	for _, f := range files {
		raw, _ := os.ReadFile(f)
		for _, r := range ParseBytes(raw).Recipients {
			if r.SenderProblem && r.Kind == Hard {
				t.Errorf("%s: %s is a sender problem and hard", f, r.Address)
			}
		}
	}
}

// TestClassify pins the rows of the table that are easy to get wrong.
func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		status, diag string
		reason       Reason
		kind         Kind
		sender       bool
	}{
		{"5.7.1", "550 5.7.1 <a@example.org>: Recipient address rejected: User unknown", ReasonUserUnknown, Hard, false},
		{"5.7.1", "550 5.7.1 Recipient rejected", ReasonUserUnknown, Hard, false},
		{"5.4.1", "550 5.4.1 Recipient address rejected: Access denied. AS(201806281)", ReasonUserUnknown, Hard, false},
		{"5.7.1", "550 5.7.1 Sender address rejected: Domain not found", ReasonSenderBlocked, Soft, true},
		{"5.7.1", "554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using bl.spamcop.net", ReasonSenderBlocked, Soft, true},
		{"5.7.26", "550 5.7.26 DMARC policy of example.com is reject", ReasonPolicy, Soft, true},
		{"5.7.1", "550 5.7.1 SPF check failed", ReasonPolicy, Soft, true},
		{"5.7.1", "550 5.7.1 Message rejected as spam by Content Filtering", ReasonSpam, Soft, true},
		{"5.7.1", "", ReasonPolicy, Soft, true},
		{"4.1.1", "450 4.1.1 <a@example.org>: Recipient address rejected: unverified address", ReasonUserUnknown, Soft, false},
		{"5.1.1", "", ReasonUserUnknown, Hard, false},
		{"5.0.0", "", ReasonPermanent, Hard, false},
		{"4.0.0", "", ReasonTemporary, Soft, false},
		{"", "", ReasonUnknown, Soft, false},
		{"5.2.2", "552 5.2.2 Mailbox full", ReasonMailboxFull, Soft, false},
		{"5.2.2", "cannot update mailbox /var/mail/a for user a. error writing message: File too large", ReasonMailboxFull, Soft, false},
		{"5.4.7", "Message expired, connection refused", ReasonExpired, Soft, false},
		{"5.1.2", "550 Host unknown", ReasonHostUnknown, Hard, false},
		{"4.4.3", "Host or domain name not found. Name service error: Host not found, try again", ReasonHostUnknown, Soft, false},
		{"5.7.1", "550 5.7.1 Helo command rejected: Host not found", ReasonPolicy, Soft, true},
		{"5.7.1", "550 5.7.1 Client host rejected: cannot find your hostname, [192.0.2.1]", ReasonPolicy, Soft, true},
		{"5.1.7", "553 5.1.7 Invalid sender address", ReasonSenderBlocked, Soft, true},
		{"5.4.6", "554 5.4.6 Too many hops", ReasonSystemError, Soft, false},
		{"5.0.0", "554 Message rejected: Daily message quota exceeded", ReasonRateLimited, Soft, true},
		{"5.1.1", "550 5.1.1 Mailbox does not exist", ReasonUserUnknown, Hard, false},
		{"5.1.2", "550 5.1.2 Recipient address rejected: Domain not found", ReasonHostUnknown, Hard, false},
		{"4.2.0", "450 4.2.0 <a@example.org>: Recipient address rejected: Greylisted, see https://greylist.example/", ReasonTemporary, Soft, false},
		{"5.7.1", "553 sorry, that domain isn't in my list of allowed rcpthosts (#5.7.1)", ReasonRelayDenied, Soft, true},
		{"5.0.0", "554 IP=192.0.2.34 - A problem occurred. (BL)", ReasonSenderBlocked, Soft, true},
		{"5.0.0", "554 Transaction failed", ReasonPermanent, Hard, false},
		{"5.0.0", "554 Message not allowed - [299]", ReasonSpam, Soft, true},
	} {
		reason, kind, sender := classify(tc.status, tc.diag)
		if reason != tc.reason || kind != tc.kind || sender != tc.sender {
			t.Errorf("classify(%q, %q) = %s %s %v, want %s %s %v", tc.status, tc.diag, reason, kind, sender, tc.reason, tc.kind, tc.sender)
		}
	}
}

// TestOurHeaders: what the VERP and header lookups of later layers need.
func TestOurHeaders(t *testing.T) {
	raw, err := os.ReadFile("testdata/bounces/postfix-user-unknown.eml")
	if err != nil {
		t.Fatal(err)
	}
	rep := ParseBytes(raw)
	o := rep.Original
	if o.MessageID != "20261204101500.7f3a9c@news.example.com" || o.ListID != "The Morning Brief <morning.news.example.com>" ||
		o.Herald["X-Herald-Campaign"] != "42" || o.ReturnPath != "bounces+k3J9xQ2pLm@news.example.com" || o.To != "ann.reader@example.org" {
		t.Errorf("original headers: %+v", o)
	}
	if got := rep.Envelope.Addresses(); len(got) != 1 || got[0] != "bounces+k3J9xQ2pLm@news.example.com" {
		t.Errorf("envelope addresses: %v", got)
	}
	if rep.ReportingMTA != "mx.news.example.com" || rep.Format != "dsn" {
		t.Errorf("reporting MTA %q, format %q", rep.ReportingMTA, rep.Format)
	}

	// A redacted complaint keeps the original's identity.
	raw, _ = os.ReadFile("testdata/bounces/arf-redacted.eml")
	rep = ParseBytes(raw)
	if rep.Original.MessageID == "" || rep.Original.Herald["X-Herald-Campaign"] != "42" || rep.FeedbackType != "abuse" {
		t.Errorf("redacted ARF: %+v", rep)
	}
	// Text bounces too (the copy after qmail's marker).
	raw, _ = os.ReadFile("testdata/bounces/qmail-no-mailbox.eml")
	if rep = ParseBytes(raw); rep.Original.MessageID != "20261204101500.7f3a9c@news.example.com" {
		t.Errorf("qmail original: %+v", rep.Original)
	}
	// An auto-reply names what it answers.
	raw, _ = os.ReadFile("testdata/bounces/autoreply-rfc3834.eml")
	if rep = ParseBytes(raw); rep.Original.InReplyTo != "20261204101500.7f3a9c@news.example.com" {
		t.Errorf("auto-reply: %+v", rep.Original)
	}
}

// TestHugeMessage: a 20 MB bounce (the original attached whole) is read
// only up to MaxRead, and its report is still found.
func TestHugeMessage(t *testing.T) {
	raw, err := os.ReadFile("testdata/bounces/postfix-user-unknown.eml")
	if err != nil {
		t.Fatal(err)
	}
	big := append(bytes.Clone(raw), bytes.Repeat([]byte("QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB\r\n"), 20<<20/78)...)
	r := &countingReader{r: bytes.NewReader(big)}
	rep, err := Parse(r)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Truncated || len(rep.Recipients) != 1 || rep.Recipients[0].Kind != Hard {
		t.Fatalf("huge message: truncated %v, %+v", rep.Truncated, rep.Recipients)
	}
	if r.n > MaxRead+1 {
		t.Errorf("read %d bytes, more than MaxRead", r.n)
	}
}

type countingReader struct {
	r interface{ Read([]byte) (int, error) }
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// TestDeepNesting: multiparts nested far deeper than maxDepth, and many
// parts, end quickly with no report rather than a stack overflow.
func TestDeepNesting(t *testing.T) {
	var b strings.Builder
	b.WriteString("From: MAILER-DAEMON@example.org\nContent-Type: multipart/mixed; boundary=b0\n\n")
	for i := 1; i < 20000; i++ {
		b.WriteString("--b" + itoa(i-1) + "\nContent-Type: multipart/mixed; boundary=b" + itoa(i) + "\n\n")
	}
	rep := ParseBytes([]byte(b.String()))
	if len(rep.Recipients) != 0 {
		t.Errorf("deep nesting gave %+v", rep.Recipients)
	}

	b.Reset()
	b.WriteString("Content-Type: multipart/mixed; boundary=x\n\n")
	for i := 0; i < 100000; i++ {
		b.WriteString("--x\n\nhello\n")
	}
	ParseBytes([]byte(b.String()))
}

func itoa(i int) string { return strconv.Itoa(i) }

// TestParseErrorIsTheReaders: Parse fails only when reading fails.
func TestParseErrorIsTheReaders(t *testing.T) {
	if _, err := Parse(failingReader{}); err == nil || !strings.Contains(err.Error(), "reading the message") {
		t.Errorf("a failing reader gave %v", err)
	}
	rep, err := Parse(strings.NewReader(""))
	if err != nil || rep.Kind != Ignore || rep.Reason != ReasonNotBounce {
		t.Errorf("empty input: %+v, %v", rep, err)
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, os.ErrClosed }

// TestAdversarialShapes: inputs shaped to make a careless reader do
// quadratic work (many style tags, many recipients without diagnostic
// beside a long notice, many multiparts with one boundary, a header of
// one endless field) are read in one pass. No timing is asserted: a
// regression shows as a test that takes minutes.
func TestAdversarialShapes(t *testing.T) {
	html := "From: MAILER-DAEMON@x.example\nContent-Type: text/html\n\n" + strings.Repeat("<style>", 200000)
	ParseBytes([]byte(html))

	var dsn strings.Builder
	dsn.WriteString("From: MAILER-DAEMON@x.example\nContent-Type: multipart/report; boundary=b\n\n--b\nContent-Type: text/plain\n\n")
	dsn.WriteString(strings.Repeat("The mail system could not deliver the message. ", 20000))
	dsn.WriteString("\n--b\nContent-Type: message/delivery-status\n\n")
	for i := 0; i < 5000; i++ {
		dsn.WriteString("Final-Recipient: rfc822; r" + itoa(i) + "@x.example\nAction: failed\nStatus: 5.0.0\n\n")
	}
	rep := ParseBytes([]byte(dsn.String()))
	if len(rep.Recipients) != maxRecipients {
		t.Errorf("%d recipients, want the cap %d", len(rep.Recipients), maxRecipients)
	}

	same := "Content-Type: multipart/mixed; boundary=s\n\n" + strings.Repeat("--s\nContent-Type: multipart/mixed; boundary=s\n\n", 50000)
	ParseBytes([]byte(same))

	long := "From: MAILER-DAEMON@x.example\nTo: " + strings.Repeat("a@b.example, ", 150000) + "\n\nx"
	ParseBytes([]byte(long))
}

// TestStatusCode: an enhanced status code, not a piece of an IP address.
func TestStatusCode(t *testing.T) {
	for in, want := range map[string]string{
		"550-5.7.1 [192.0.2.10] Our system":       "5.7.1",
		"554 IP=192.0.2.34 - A problem occurred":  "",
		"from [10.2.0.5] said: 550 5.1.1 unknown": "5.1.1",
		"Sorry, no mailbox here. (#5.1.1)":        "5.1.1",
		"Status: 4.4.7 (delivery time expired)":   "4.4.7",
		"version 2.4.6.1 of the filter":           "",
		"host 5.1.1.1 said: 550 5.2.2 full":       "5.2.2",
	} {
		if got := statusCode(in); got != want {
			t.Errorf("statusCode(%q) = %q, want %q", in, got, want)
		}
	}
}
