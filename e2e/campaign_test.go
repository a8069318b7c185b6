package e2e_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/heraldhq/herald/internal/apptest"
	"github.com/heraldhq/herald/internal/sender"
	"github.com/heraldhq/herald/internal/sqlstore/storetest"
)

// campaignView is what these tests read of a campaign.
type campaignView struct {
	ID     int64  `json:"id"`
	Status string `json:"status"`
	Stats  struct {
		Recipients, Sent, Failed, Skipped, Pending int64
		Rate                                       float64
	} `json:"stats"`
	LastError string `json:"last_error"`
}

func getCampaign(t *testing.T, in *apptest.Instance, id int64) campaignView {
	t.Helper()
	var c campaignView
	in.MustAPI(t, 200, "GET", fmt.Sprintf("/campaigns/%d", id), nil, &c)
	return c
}

// waitCampaign polls until the campaign has the status, or fails after d.
func waitCampaign(t *testing.T, in *apptest.Instance, id int64, status string, d time.Duration) campaignView {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		c := getCampaign(t, in, id)
		if c.Status == status {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("campaign %d is %s %+v (%s), want %s", id, c.Status, c.Stats, c.LastError, status)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func addConfirmed(t *testing.T, in *apptest.Instance, email, name string, lists ...string) int64 {
	t.Helper()
	var s struct{ ID int64 }
	in.MustAPI(t, 201, "POST", "/subscribers", map[string]any{"email": email, "name": name, "lists": lists, "status": "confirmed"}, &s)
	return s.ID
}

// countPerRecipient counts the campaign messages (those with a List-Id)
// each address received.
func countPerRecipient(s *apptest.SMTPServer) map[string]int {
	m := map[string]int{}
	for _, msg := range s.Messages() {
		if !bytes.Contains(msg.Raw, []byte("\r\nList-Id: ")) {
			continue
		}
		for _, to := range msg.To {
			m[strings.ToLower(to)]++
		}
	}
	return m
}

// TestCampaignJourney: an editor writes, previews, tests and sends a
// campaign to the union of two lists; readers get it once, with the
// headers mailbox providers want and a valid DKIM signature (checked by an
// independent verifier); one clicks the one-click unsubscribe link in it,
// and a later send skips them.
func TestCampaignJourney(t *testing.T) {
	for name, dbURL := range storetest.URLs(t) {
		t.Run(name, func(t *testing.T) {
			smtpSrv := apptest.StartSMTP(t)
			in := apptest.Start(t, apptest.Options{DatabaseURL: dbURL, Args: []string{"--smtp-url", smtpSrv.URL(),
				"--from", "The Daily Planet <news@planet.example>", "--send-retry-backoff", "700ms", "--feedback-id", "planet"}})
			ctx := context.Background()
			rsa, err := sender.GenerateDKIMKey(ctx, in.App.DB, "planet.example", "rsa2026", "rsa")
			if err != nil {
				t.Fatal(err)
			}
			ed, err := sender.GenerateDKIMKey(ctx, in.App.DB, "planet.example", "ed2026", "ed25519")
			if err != nil {
				t.Fatal(err)
			}
			in.MustAPI(t, 201, "POST", "/lists", map[string]any{"slug": "daily", "name": "The Daily Briefing"}, nil)
			in.MustAPI(t, 201, "POST", "/lists", map[string]any{"slug": "sport", "name": "Sport", "optin": "single"}, nil)
			in.MustAPI(t, 201, "POST", "/lists", map[string]any{"slug": "weekly", "name": "Weekly", "optin": "single"}, nil)
			both := addConfirmed(t, in, "both@example.com", "Bo Th", "daily", "sport")
			addConfirmed(t, in, "daily@example.com", "Dai Ly", "daily")
			addConfirmed(t, in, "sport@example.com", "Jörg Spört", "sport")
			addConfirmed(t, in, "weekly@example.com", "Wee Kly", "weekly")
			// Not recipients: pending, unsubscribed, erased.
			in.MustAPI(t, 201, "POST", "/subscribers", map[string]any{"email": "pending@example.com", "lists": []string{"daily"}}, nil)
			gone := addConfirmed(t, in, "gone@example.com", "", "daily")
			in.MustAPI(t, 200, "PATCH", fmt.Sprintf("/subscribers/%d", gone), map[string]any{"subscriptions": []map[string]any{{"list": "daily", "status": "unsubscribed"}}}, nil)
			erased := addConfirmed(t, in, "erased@example.com", "", "sport")
			in.MustAPI(t, 200, "POST", fmt.Sprintf("/subscribers/%d/erase", erased), nil, nil)

			// Confirmation mail from the domain is signed too.
			apptest.Eventually(t, "the confirmation mail", func() bool { return len(smtpSrv.To("pending@example.com")) == 1 })
			verifyDKIM(t, smtpSrv.To("pending@example.com")[0].Raw, map[string]string{rsa.Name: rsa.Value, ed.Name: ed.Value})

			var c campaignView
			in.MustAPI(t, 201, "POST", "/campaigns", map[string]any{"name": "Issue 1", "subject": "Nöws of the day: “quotes” & more",
				"lists": []string{"daily", "sport"}, "body": "# Hello {{.Reader.FirstName | default \"reader\"}}\n\nThe news.\n"}, &c)
			var pv struct{ HTML, Text, Subject string }
			in.MustAPI(t, 200, "GET", fmt.Sprintf("/campaigns/%d/preview?subscriber=%d", c.ID, both), nil, &pv)
			if !strings.Contains(pv.HTML, "Hello Bo") || !strings.Contains(pv.Text, "1 Planet Square") {
				t.Fatalf("preview: %+v", pv)
			}
			in.MustAPI(t, 202, "POST", fmt.Sprintf("/campaigns/%d/test", c.ID), map[string]any{"emails": []string{"editor@example.com"}}, nil)
			apptest.Eventually(t, "the test message", func() bool { return len(smtpSrv.To("editor@example.com")) == 1 })
			if subj := smtpSrv.To("editor@example.com")[0].Header("Subject"); !strings.HasPrefix(subj, "[Test] Nöws") {
				t.Errorf("test subject %q", subj)
			}

			in.MustAPI(t, 200, "POST", fmt.Sprintf("/campaigns/%d/start", c.ID), nil, &c)
			if c.Stats.Recipients != 3 {
				t.Fatalf("recipients %d, want 3 (union of daily and sport, each once, confirmed only)", c.Stats.Recipients)
			}
			c = waitCampaign(t, in, c.ID, "finished", 30*time.Second)
			if c.Stats.Sent != 3 || c.Stats.Failed != 0 {
				t.Fatalf("stats %+v", c.Stats)
			}
			got := countPerRecipient(smtpSrv)
			for _, r := range []string{"both@example.com", "daily@example.com", "sport@example.com"} {
				if got[r] != 1 {
					t.Errorf("%s got %d messages", r, got[r])
				}
			}
			for _, r := range []string{"weekly@example.com", "pending@example.com", "gone@example.com", "erased@example.com"} {
				if got[r] != 0 {
					t.Errorf("%s got the campaign", r)
				}
			}

			msg := smtpSrv.To("sport@example.com")[0]
			if s := msg.Header("Subject"); s != "Nöws of the day: “quotes” & more" {
				t.Errorf("Subject %q", s)
			}
			if to := msg.Header("To"); !strings.Contains(to, "Jörg Spört") {
				t.Errorf("To %q", to)
			}
			unsub := strings.Trim(msg.Header("List-Unsubscribe"), "<>")
			for h, want := range map[string]string{
				"List-Id":               `"The Daily Briefing, Sport" <daily.sport.planet.example>`,
				"List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
				"Feedback-Id":           fmt.Sprintf("c%d:daily:newsletter:planet", c.ID),
			} {
				if got := msg.Header(h); got != want {
					t.Errorf("%s = %q, want %q", h, got, want)
				}
			}
			if !strings.HasPrefix(unsub, in.URL+"/unsubscribe/") || !strings.Contains(msg.Text(), unsub) {
				t.Errorf("List-Unsubscribe %q not the footer's link", unsub)
			}
			if id := msg.Header("Message-Id"); !strings.HasSuffix(id, "@planet.example>") {
				t.Errorf("Message-ID %q", id)
			}
			verifyDKIM(t, msg.Raw, map[string]string{rsa.Name: rsa.Value, ed.Name: ed.Value})

			// One click in the mail client: 200, no redirect, and the
			// reader is off the lists of that message.
			res, err := http.PostForm(unsub, url.Values{"List-Unsubscribe": {"One-Click"}})
			if err != nil || res.StatusCode != 200 {
				t.Fatalf("one-click unsubscribe: %v %v", err, res)
			}
			res.Body.Close()

			// A later campaign to sport: the reader who left is skipped. The
			// server defers daily@ with 451, who unsubscribes meanwhile (from
			// the footer of the first campaign): the retry skips them.
			var dailyMsg = smtpSrv.To("daily@example.com")[0]
			smtpSrv.SetFail(func(rcpt string) error {
				if rcpt == "daily@example.com" {
					return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 7, 1}, Message: "greylisted, try later"}
				}
				return nil
			})
			var c2 campaignView
			in.MustAPI(t, 201, "POST", "/campaigns", map[string]any{"name": "Issue 2", "subject": "Again", "lists": []string{"daily", "sport"}, "body": "Again."}, &c2)
			in.MustAPI(t, 200, "POST", fmt.Sprintf("/campaigns/%d/start", c2.ID), nil, &c2)
			if c2.Stats.Recipients != 2 {
				t.Fatalf("second campaign: %d recipients, want 2 (sport@ left)", c2.Stats.Recipients)
			}
			apptest.Eventually(t, "the 451", func() bool {
				var ds struct{ Data []struct{ Status string } }
				in.MustAPI(t, 200, "GET", fmt.Sprintf("/campaigns/%d/deliveries?status=retry", c2.ID), nil, &ds)
				return len(ds.Data) == 1
			})
			u2 := strings.Trim(dailyMsg.Header("List-Unsubscribe"), "<>")
			if res, err := http.PostForm(u2, url.Values{"List-Unsubscribe": {"One-Click"}}); err != nil || res.StatusCode != 200 {
				t.Fatalf("one-click unsubscribe: %v %v", err, res)
			}
			smtpSrv.SetFail(nil)
			c2 = waitCampaign(t, in, c2.ID, "finished", 30*time.Second)
			if c2.Stats.Sent != 1 || c2.Stats.Skipped != 1 {
				t.Errorf("second campaign: %+v", c2.Stats)
			}
			if n := countPerRecipient(smtpSrv)["daily@example.com"]; n != 1 {
				t.Errorf("daily@ got %d campaign messages, want only the first campaign's", n)
			}
			var ds struct {
				Data []struct {
					SubscriberID int64  `json:"subscriber_id"`
					Status       string `json:"status"`
					LastReply    string `json:"last_reply"`
					Attempts     int    `json:"attempts"`
				}
			}
			in.MustAPI(t, 200, "GET", fmt.Sprintf("/campaigns/%d/deliveries?status=skipped", c2.ID), nil, &ds)
			if len(ds.Data) != 1 || ds.Data[0].LastReply != "unsubscribed" || ds.Data[0].Attempts < 1 {
				t.Errorf("ledger of the skipped reader: %+v", ds.Data)
			}
		})
	}
}

// verifyDKIM checks every DKIM-Signature of raw with Debian's python3-dkim,
// given the TXT records (name → value) instead of DNS.
func verifyDKIM(t *testing.T, raw []byte, records map[string]string) {
	t.Helper()
	const python = "/usr/bin/python3"
	if out, err := exec.Command(python, "-c", "import dkim, nacl").CombinedOutput(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("python3-dkim is needed in CI: %s", out)
		}
		t.Logf("independent DKIM verifier unavailable (apt install python3-dkim python3-nacl): %s", out)
		return
	}
	file := filepath.Join(t.TempDir(), "msg.eml")
	if err := os.WriteFile(file, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	script := `
import sys, dkim
records = {}
for arg in sys.argv[2:]:
    name, value = arg.split("=", 1)
    records[(name.rstrip(".") + ".").encode()] = value.encode()
def dnsfunc(name, timeout=5):
    if isinstance(name, str):
        name = name.encode()
    if not name.endswith(b"."):
        name += b"."
    return records.get(name)
msg = open(sys.argv[1], "rb").read()
d = dkim.DKIM(msg)
n = msg.count(b"DKIM-Signature:")
print(n, " ".join(str(d.verify(idx=i, dnsfunc=dnsfunc)) for i in range(n)))
`
	args := []string{"-c", script, file}
	for name, value := range records {
		args = append(args, name+"="+value)
	}
	out, err := exec.Command(python, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, out)
	}
	if got := strings.TrimSpace(string(out)); got != "2 True True" {
		t.Errorf("python dkim.verify: %q, want two valid signatures (rsa-sha256 and ed25519-sha256)", got)
	}
}

// TestCampaignKill9Resumes: Herald is killed with SIGKILL in the middle of
// a campaign; restarted, it resumes by itself, and every reader gets the
// campaign once — except at most the messages in flight at the kill,
// which carry the same Message-ID as their first copy.
func TestCampaignKill9Resumes(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	const n = 3000
	bin := buildHerald(t)
	dir := t.TempDir()
	smtpSrv := apptest.StartSMTP(t)
	httpAddr := freeAddr(t)
	dbURL := "sqlite:" + filepath.Join(dir, "herald.db")
	env := append(os.Environ(), "HERALD_DATABASE_URL="+dbURL, "HERALD_LISTEN="+httpAddr, "HERALD_SMTP_URL="+smtpSrv.URL(),
		"HERALD_POSTAL_ADDRESS=1 Planet Square", "HERALD_SEND_RATE=1000", "HERALD_FROM=Planet <news@planet.example>")
	var tok strings.Builder
	tc := exec.Command(bin, "token", "create", "kill", "--create") // a new database
	tc.Env, tc.Stdout = env, &tok
	if err := tc.Run(); err != nil {
		t.Fatal(err)
	}
	db := storetest.Open(t, dbURL)
	ctx := context.Background()
	in := &apptest.Instance{URL: "http://" + httpAddr, Token: strings.TrimSpace(tok.String())}
	start := func() *exec.Cmd {
		cmd := exec.Command(bin, "serve")
		cmd.Env = env
		if testing.Verbose() {
			cmd.Stderr = os.Stderr
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() })
		// A loaded machine may take a while to start the binary.
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			res, err := http.Get(in.URL + "/healthz")
			if err == nil {
				res.Body.Close()
				if res.StatusCode == 200 {
					break
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("herald does not answer: %v", err)
			}
		}
		return cmd
	}
	first := start()
	in.MustAPI(t, 201, "POST", "/lists", map[string]any{"slug": "daily", "name": "Daily", "optin": "single"}, nil)
	if err := db.SeedSubscribers(ctx, "daily", n, "reader"); err != nil {
		t.Fatal(err)
	}
	var c campaignView
	in.MustAPI(t, 201, "POST", "/campaigns", map[string]any{"name": "Crash test", "subject": "Hello", "lists": "daily", "body": "Hello {{.Reader.Name}}."}, &c)
	in.MustAPI(t, 200, "POST", fmt.Sprintf("/campaigns/%d/start", c.ID), nil, nil)
	deadline := time.Now().Add(30 * time.Second)
	for len(smtpSrv.Messages()) < n/3 {
		if time.Now().After(deadline) {
			t.Fatalf("only %d messages after 30 s", len(smtpSrv.Messages()))
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_, _ = first.Process.Wait()
	atKill := len(smtpSrv.Messages())
	start()
	// The dead process's claims are leased for 15 s; then the new one
	// takes them over.
	c = waitCampaign(t, in, c.ID, "finished", 90*time.Second)
	got := countPerRecipient(smtpSrv)
	dups := 0
	for i := 1; i <= n; i++ {
		r := fmt.Sprintf("reader-%07d@bench.example.com", i)
		switch got[r] {
		case 0:
			t.Errorf("%s never got the campaign", r)
		case 1:
		default:
			dups += got[r] - 1
			ids := map[string]bool{}
			for _, m := range smtpSrv.To(r) {
				ids[m.Header("Message-Id")] = true
			}
			if len(ids) != 1 {
				t.Errorf("%s got %d copies with different Message-IDs %v", r, got[r], ids)
			}
		}
	}
	t.Logf("killed after %d of %d messages; %d duplicates (in flight at the kill); campaign %+v", atKill, n, dups, c.Stats)
	// In flight: a group of messages per connection (10 connections; at
	// 1000/s a group is 5 messages, 5 ms of the rate), and the outcomes of
	// the last 10 ms not yet written (about 10 at 1000/s, twice that while
	// a commit is slow).
	if dups > 10*5+20 {
		t.Errorf("%d duplicates: more than the messages in flight", dups)
	}
	if c.Stats.Sent != n {
		t.Errorf("sent %d, want %d", c.Stats.Sent, n)
	}
}

// TestCampaignTwoProcesses: two Herald processes on one PostgreSQL
// database share one campaign; every reader gets it exactly once, and both
// processes send.
func TestCampaignTwoProcesses(t *testing.T) {
	pg := os.Getenv("HERALD_TEST_POSTGRES_URL")
	if pg == "" {
		t.Skip("HERALD_TEST_POSTGRES_URL not set: .ci/run sets it")
	}
	const n = 4000
	dbURL := storetest.PostgresSchema(t, pg)
	smtpSrv := apptest.StartSMTP(t)
	args := []string{"--smtp-url", smtpSrv.URL(), "--send-rate", "2000"}
	a := apptest.Start(t, apptest.Options{DatabaseURL: dbURL, Args: args})
	b := apptest.Start(t, apptest.Options{DatabaseURL: dbURL, Args: args})
	a.MustAPI(t, 201, "POST", "/lists", map[string]any{"slug": "daily", "name": "Daily", "optin": "single"}, nil)
	if err := a.App.DB.SeedSubscribers(context.Background(), "daily", n, "reader"); err != nil {
		t.Fatal(err)
	}
	var c campaignView
	a.MustAPI(t, 201, "POST", "/campaigns", map[string]any{"name": "Shared", "subject": "Hello", "lists": "daily", "body": "Hello."}, &c)
	a.MustAPI(t, 200, "POST", fmt.Sprintf("/campaigns/%d/start", c.ID), nil, nil)
	c = waitCampaign(t, b, c.ID, "finished", 60*time.Second)
	got := countPerRecipient(smtpSrv)
	if len(got) != n || c.Stats.Sent != n {
		t.Fatalf("%d readers got mail, campaign %+v; want %d", len(got), c.Stats, n)
	}
	for r, k := range got {
		if k != 1 {
			t.Fatalf("%s got %d messages", r, k)
		}
	}
	sa, sb := a.App.Sender.Stats.Sent.Load(), b.App.Sender.Stats.Sent.Load()
	t.Logf("process A sent %d, process B %d", sa, sb)
	if sa+sb != n || sa == 0 || sb == 0 {
		t.Errorf("the processes sent %d and %d of %d: both should have shared the work", sa, sb, n)
	}
}

// TestCampaignRateLimit: HERALD_SEND_RATE holds the campaign to the rate:
// N messages at R per second cannot be out sooner than (N - burst) / R.
// Exactness over longer windows is tested with a simulated clock in
// internal/sender and internal/sqlstore; this checks the wiring without
// timing assertions that a busy machine could break (only a lower bound).
func TestCampaignRateLimit(t *testing.T) {
	const n, rate = 300, 150
	smtpSrv := apptest.StartSMTP(t)
	var mu sync.Mutex
	var times []time.Time
	smtpSrv.SetFail(func(string) error {
		mu.Lock()
		times = append(times, time.Now())
		mu.Unlock()
		return nil
	})
	in := apptest.Start(t, apptest.Options{Args: []string{"--smtp-url", smtpSrv.URL(), "--send-rate", strconv.Itoa(rate)}})
	in.MustAPI(t, 201, "POST", "/lists", map[string]any{"slug": "daily", "name": "Daily", "optin": "single"}, nil)
	if err := in.App.DB.SeedSubscribers(context.Background(), "daily", n, "reader"); err != nil {
		t.Fatal(err)
	}
	var c campaignView
	in.MustAPI(t, 201, "POST", "/campaigns", map[string]any{"name": "Paced", "subject": "Hello", "lists": "daily", "body": "Hello."}, &c)
	in.MustAPI(t, 200, "POST", fmt.Sprintf("/campaigns/%d/start", c.ID), nil, nil)
	c = waitCampaign(t, in, c.ID, "finished", 60*time.Second)
	mu.Lock()
	defer mu.Unlock()
	if len(times) != n || c.Stats.Sent != n {
		t.Fatalf("%d messages, stats %+v", len(times), c.Stats)
	}
	burst := rate / 10 // one reservation: a tenth of a second's worth
	span := times[n-1].Sub(times[0])
	// Less 100 ms: the first message's own latency (a new connection) may
	// shorten the span measured at the server.
	min := time.Duration(float64(n-1-burst)/rate*float64(time.Second)) - 100*time.Millisecond
	t.Logf("%d messages in %v at %d/s (at least %v)", n, span.Round(time.Millisecond), rate, min.Round(time.Millisecond))
	if span < min {
		t.Errorf("%d messages went out in %v: faster than %d/s allows (%v)", n, span, rate, min)
	}
	// The rate in the middle second, generously: the sender keeps up.
	mid := 0
	for _, at := range times {
		if d := at.Sub(times[0]); d >= 500*time.Millisecond && d < 1500*time.Millisecond {
			mid++
		}
	}
	if mid > rate+burst+2 {
		t.Errorf("%d messages in one second at %d/s", mid, rate)
	}
}
