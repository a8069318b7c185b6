package sender_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/apptest"
	hmail "github.com/heraldhq/herald/internal/mail"
	"github.com/heraldhq/herald/internal/sender"
	"github.com/heraldhq/herald/internal/sqlstore"
	"github.com/heraldhq/herald/internal/sqlstore/storetest"
	"github.com/heraldhq/herald/internal/token"
)

var testOpt = sqlstore.SignupOptions{ConfirmWindow: time.Minute, ConfirmTTL: time.Hour}

func testConfig() *sender.Config {
	return &sender.Config{
		From:          mail.Address{Name: "The Daily Planet", Address: "news@planet.example"},
		Publisher:     "The Daily Planet",
		PostalAddress: "1 Planet Square, Metropolis",
		BaseURL:       "https://news.planet.example",
		Tokens:        token.NewSigner([]byte("test secret, at least 32 bytes long")),
	}
}

func testLog(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// fixture is a database with a list of n confirmed subscribers and a
// campaign to it, started.
type fixture struct {
	db   *sqlstore.DB
	c    *herald.Campaign
	smtp *apptest.SMTPServer
	e    *sender.Engine
	stop func()
}

func newFixture(t *testing.T, db *sqlstore.DB, n int, tune func(e *sender.Engine)) *fixture {
	t.Helper()
	ctx := context.Background()
	if err := db.CreateList(ctx, &herald.List{Slug: "daily", Name: "The Daily Briefing", OptIn: herald.Single}); err != nil {
		t.Fatal(err)
	}
	if err := db.SeedSubscribers(ctx, "daily", n, "reader"); err != nil {
		t.Fatal(err)
	}
	c := &herald.Campaign{Name: "Issue 1", Subject: "Today: ünïcode and news", Lists: []string{"daily"},
		Body: "# Hello {{.Reader.FirstName | default \"reader\"}}\n\nThe news of the day."}
	if err := db.CreateCampaign(ctx, c); err != nil {
		t.Fatal(err)
	}
	f := &fixture{db: db, c: c, smtp: apptest.StartSMTP(t)}
	sc, _ := hmail.ParseSMTPURL(f.smtp.URL())
	tr := hmail.NewSMTP(sc)
	t.Cleanup(func() { tr.Close() })
	f.e = &sender.Engine{DB: db, Transport: tr, Config: testConfig(), Log: testLog(t), Poll: 20 * time.Millisecond, RetryBackoff: 50 * time.Millisecond}
	if tune != nil {
		tune(f.e)
	}
	return f
}

func (f *fixture) start(t *testing.T) {
	t.Helper()
	if _, err := f.db.StartCampaign(context.Background(), f.c.ID, sender.Check(context.Background(), f.db, testConfig())); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) run(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { f.e.Run(ctx); close(done) }()
	f.stop = func() { cancel(); <-done }
	t.Cleanup(func() { f.stop() })
}

func (f *fixture) waitStatus(t *testing.T, status string, within time.Duration) *herald.Campaign {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		c, err := f.db.GetCampaign(context.Background(), f.c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if c.Status == status {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("campaign is %s (%+v), want %s", c.Status, c.Stats, status)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// perRecipient counts messages per recipient.
func perRecipient(s *apptest.SMTPServer) map[string]int {
	m := map[string]int{}
	for _, msg := range s.Messages() {
		for _, to := range msg.To {
			m[to]++
		}
	}
	return m
}

func TestEngineSendsEachRecipientOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		f := newFixture(t, db, 1200, func(e *sender.Engine) { e.BatchSize = 100 })
		f.start(t)
		f.run(t)
		c := f.waitStatus(t, herald.CampaignFinished, 30*time.Second)
		if c.Stats.Sent != 1200 || c.Stats.Pending != 0 || c.Stats.Failed != 0 {
			t.Fatalf("stats %+v", c.Stats)
		}
		got := perRecipient(f.smtp)
		if len(got) != 1200 {
			t.Fatalf("%d recipients got mail, want 1200", len(got))
		}
		for rcpt, n := range got {
			if n != 1 {
				t.Fatalf("%s got %d messages", rcpt, n)
			}
		}
		msg := f.smtp.To("reader-0000007@bench.example.com")[0]
		for _, h := range []string{"List-Id", "List-Unsubscribe", "List-Unsubscribe-Post", "Message-Id", "Date"} {
			if msg.Header(h) == "" {
				t.Errorf("no %s header", h)
			}
		}
		if got := msg.Header("Subject"); got != "Today: ünïcode and news" {
			t.Errorf("Subject %q", got)
		}
		if got := msg.Header("List-Unsubscribe-Post"); got != "List-Unsubscribe=One-Click" {
			t.Errorf("List-Unsubscribe-Post %q", got)
		}
		if got := msg.Header("List-Id"); got != `"The Daily Briefing" <daily.planet.example>` {
			t.Errorf("List-Id %q", got)
		}
		if !strings.Contains(msg.Text(), "Hello Reader") || !strings.Contains(msg.Text(), "1 Planet Square") {
			t.Errorf("text part:\n%s", msg.Text())
		}
		ds, _ := db.Deliveries(context.Background(), f.c.ID, sqlstore.DeliveryFilter{Limit: 10})
		if ds[0].Status != "sent" || ds[0].Attempts != 1 || ds[0].UpdatedAt == nil {
			t.Errorf("ledger row %+v", ds[0])
		}
		if c, sub, ok := db.MessageIDs().Parse(msg.Header("Message-Id")); !ok || c != f.c.ID || sub != 7 || !strings.HasSuffix(msg.Header("Message-Id"), "@planet.example>") {
			t.Errorf("Message-ID %q: campaign %d, subscriber %d, %v", msg.Header("Message-Id"), c, sub, ok)
		}
	})
}

func TestEngineRetriesAndFailures(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		f := newFixture(t, db, 30, func(e *sender.Engine) { e.Retries = 3 })
		var mu sync.Mutex
		tries := map[string]int{}
		f.smtp.SetFail(func(rcpt string) error {
			mu.Lock()
			tries[rcpt]++
			n := tries[rcpt]
			mu.Unlock()
			switch {
			case rcpt == "reader-0000003@bench.example.com" && n <= 2:
				return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try later, " + rcpt}
			case rcpt == "reader-0000005@bench.example.com":
				return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user " + rcpt}
			case rcpt == "reader-0000009@bench.example.com":
				return &smtp.SMTPError{Code: 452, EnhancedCode: smtp.EnhancedCode{4, 2, 2}, Message: "mailbox full"}
			}
			return nil
		})
		f.start(t)
		f.run(t)
		c := f.waitStatus(t, herald.CampaignFinished, 30*time.Second)
		if c.Stats.Sent != 28 || c.Stats.Failed != 2 {
			t.Fatalf("stats %+v", c.Stats)
		}
		ds, _ := db.Deliveries(context.Background(), f.c.ID, sqlstore.DeliveryFilter{})
		byID := map[int64]herald.Delivery{}
		for _, d := range ds {
			byID[d.SubscriberID] = d
		}
		if d := byID[3]; d.Status != "sent" || d.Attempts != 3 {
			t.Errorf("451 twice: %+v", d)
		}
		if d := byID[5]; d.Status != "failed" || d.Attempts != 1 || !strings.Contains(d.LastReply, "550") || strings.Contains(d.LastReply, "reader-0000005") {
			t.Errorf("550: %+v", d)
		}
		if d := byID[9]; d.Status != "failed" || d.Attempts != 4 || !strings.Contains(d.LastReply, "452") {
			t.Errorf("452 always: %+v", d)
		}
		if n := len(f.smtp.To("reader-0000003@bench.example.com")); n != 1 {
			t.Errorf("the retried reader got %d messages", n)
		}
		// Resend to the failed ones once the server takes them.
		f.smtp.SetFail(nil)
		n, _, err := db.ResendFailed(context.Background(), f.c.ID)
		if err != nil || n != 2 {
			t.Fatal(n, err)
		}
		c = f.waitStatus(t, herald.CampaignFinished, 30*time.Second)
		if c.Stats.Sent != 30 || c.Stats.Failed != 0 {
			t.Fatalf("after resend: %+v", c.Stats)
		}
		if len(f.smtp.To("reader-0000005@bench.example.com")) != 1 || len(f.smtp.To("reader-0000009@bench.example.com")) != 1 {
			t.Error("resend did not deliver")
		}
	})
}

func TestEngineWaitsForSMTPServer(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		// Nothing listens at addr until the server comes "back".
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		addr := ln.Addr().String()
		ln.Close()
		f := newFixture(t, db, 200, func(e *sender.Engine) {
			sc, _ := hmail.ParseSMTPURL("smtp://" + addr)
			tr := hmail.NewSMTP(sc)
			t.Cleanup(func() { tr.Close() })
			e.Transport = tr
		})
		f.start(t)
		f.run(t)
		time.Sleep(1500 * time.Millisecond) // the engine finds the server down and probes
		c, _ := db.GetCampaign(context.Background(), f.c.ID)
		if c.Status != herald.CampaignRunning || c.Stats.Failed != 0 || c.Stats.Sent != 0 {
			t.Fatalf("while the server is down: %s %+v", c.Status, c.Stats)
		}
		back := apptest.StartSMTPAt(t, addr)
		c = f.waitStatus(t, herald.CampaignFinished, 60*time.Second)
		if c.Stats.Sent != 200 || c.Stats.Failed != 0 {
			t.Fatalf("stats %+v", c.Stats)
		}
		got := perRecipient(back)
		if len(got) != 200 {
			t.Fatalf("%d recipients", len(got))
		}
		for r, n := range got {
			if n != 1 {
				t.Fatalf("%s got %d", r, n)
			}
		}
	})
}

func TestEnginePauseResume(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		f := newFixture(t, db, 300, func(e *sender.Engine) { e.Rate = 200 })
		f.start(t)
		f.run(t)
		ctx := context.Background()
		deadline := time.Now().Add(20 * time.Second)
		for len(f.smtp.Messages()) < 20 {
			if time.Now().After(deadline) {
				t.Fatal("nothing sent")
			}
			time.Sleep(10 * time.Millisecond)
		}
		if _, err := db.PauseCampaign(ctx, f.c.ID); err != nil {
			t.Fatal(err)
		}
		time.Sleep(500 * time.Millisecond) // the engine notices and lets what is in flight end
		n1 := len(f.smtp.Messages())
		time.Sleep(400 * time.Millisecond)
		if n2 := len(f.smtp.Messages()); n2 != n1 || n1 >= 300 {
			t.Fatalf("still sending while paused: %d then %d", n1, n2)
		}
		if _, err := db.ResumeCampaign(ctx, f.c.ID); err != nil {
			t.Fatal(err)
		}
		c := f.waitStatus(t, herald.CampaignFinished, 30*time.Second)
		got := perRecipient(f.smtp)
		if c.Stats.Sent != 300 || len(got) != 300 {
			t.Fatalf("stats %+v, %d recipients", c.Stats, len(got))
		}
		for r, n := range got {
			if n != 1 {
				t.Fatalf("%s got %d", r, n)
			}
		}
	})
}

func TestEngineScheduled(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		f := newFixture(t, db, 5, nil)
		at := time.Now().Add(700 * time.Millisecond)
		if _, err := db.UpdateCampaign(context.Background(), f.c.ID, sqlstore.CampaignPatch{SendAt: &at}, nil); err != nil {
			t.Fatal(err)
		}
		f.start(t)
		c, _ := db.GetCampaign(context.Background(), f.c.ID)
		if c.Status != herald.CampaignScheduled {
			t.Fatalf("status %s", c.Status)
		}
		f.run(t)
		c = f.waitStatus(t, herald.CampaignFinished, 20*time.Second)
		if c.StartedAt == nil || c.StartedAt.Before(at) {
			t.Errorf("started at %v, scheduled for %v", c.StartedAt, at)
		}
		if len(f.smtp.Messages()) != 5 {
			t.Errorf("%d messages", len(f.smtp.Messages()))
		}
	})
}

// TestEngineSkipsReadersWhoLeaveAfterTheClaim: at a low rate recipients
// wait in memory after their claim; one who unsubscribes meanwhile is
// recorded as skipped and gets nothing.
func TestEngineSkipsReadersWhoLeaveAfterTheClaim(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		f := newFixture(t, db, 12, func(e *sender.Engine) { e.Rate = 4 })
		f.start(t)
		f.run(t)
		apptest.Eventually(t, "the first message", func() bool { return len(f.smtp.Messages()) >= 1 })
		// All twelve are claimed by now; the last goes out after ~3 s.
		if _, err := db.Unsubscribe(context.Background(), 12, nil, sqlstore.Meta{Actor: herald.ActorReader}); err != nil {
			t.Fatal(err)
		}
		c := f.waitStatus(t, herald.CampaignFinished, 30*time.Second)
		if c.Stats.Sent != 11 || c.Stats.Skipped != 1 {
			t.Errorf("stats %+v, want 11 sent and 1 skipped", c.Stats)
		}
		if n := len(f.smtp.To("reader-0000012@bench.example.com")); n != 0 {
			t.Errorf("the reader who left got %d messages", n)
		}
		ds, err := db.Deliveries(context.Background(), f.c.ID, sqlstore.DeliveryFilter{Status: herald.DeliverySkipped})
		if err != nil || len(ds) != 1 || ds[0].SubscriberID != 12 || ds[0].LastReply != "unsubscribed" {
			t.Errorf("skipped in the ledger: %+v %v", ds, err)
		}
	})
}
