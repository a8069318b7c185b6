package sqlstore_test

import (
	"context"
	"encoding/json"
	"os"
	"reflect"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/service"
	"github.com/heraldhq/herald/internal/sqlstore"
	"github.com/heraldhq/herald/internal/sqlstore/storetest"
)

var opt = sqlstore.SignupOptions{ConfirmWindow: 15 * time.Minute, ConfirmTTL: time.Hour}

func mustList(t *testing.T, db *sqlstore.DB, slug, optin, vis string) *herald.List {
	t.Helper()
	l := &herald.List{Slug: slug, Name: "List " + slug, OptIn: optin, Visibility: vis}
	if err := db.CreateList(context.Background(), l); err != nil {
		t.Fatal(err)
	}
	return l
}

func TestSchemasMatch(t *testing.T) {
	pg := os.Getenv("HERALD_TEST_POSTGRES_URL")
	if pg == "" {
		t.Skip("HERALD_TEST_POSTGRES_URL not set: .ci/run sets it")
	}
	urls := storetest.URLs(t)
	a, err := storetest.Open(t, urls["sqlite"]).Columns(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	b, err := storetest.Open(t, urls["postgres"]).Columns(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(a) < 8 || !reflect.DeepEqual(a, b) {
		t.Fatalf("schemas differ:\nsqlite:   %v\npostgres: %v", a, b)
	}
}

func TestListsCRUD(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		l := mustList(t, db, "daily", "", "")
		if l.OptIn != herald.Double || l.Visibility != herald.Public {
			t.Fatalf("defaults: %+v", l)
		}
		if err := db.CreateList(ctx, &herald.List{Slug: "daily", Name: "x"}); herald.ErrorCode(err) != herald.ECONFLICT {
			t.Fatalf("duplicate slug: %v", err)
		}
		if err := db.CreateList(ctx, &herald.List{Slug: "Bad Slug", Name: "x"}); herald.ErrorCode(err) != herald.EINVALID {
			t.Fatalf("bad slug: %v", err)
		}
		name := "Daily briefing"
		got, err := db.UpdateList(ctx, "daily", sqlstore.ListPatch{Name: &name})
		if err != nil || got.Name != name {
			t.Fatalf("update: %v %+v", err, got)
		}
		if g, err := db.GetList(ctx, "1"); err != nil || g.Slug != "daily" {
			t.Fatalf("get by id: %v %+v", err, g)
		}
		if err := db.DeleteList(ctx, "daily"); err != nil {
			t.Fatal(err)
		}
		if _, err := db.GetList(ctx, "daily"); herald.ErrorCode(err) != herald.ENOTFOUND {
			t.Fatalf("after delete: %v", err)
		}
	})
}

func TestSignupJourney(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		mustList(t, db, "daily", herald.Double, herald.Public)
		mustList(t, db, "sport", herald.Single, herald.Public)
		mustList(t, db, "vip", herald.Double, herald.Private)

		req := herald.SignupRequest{Email: "Reader@Example.com", Name: "Zoë", Lists: []string{"daily", "sport"},
			IP: "203.0.113.9", UserAgent: "test", SourceURL: "https://news.example/article/1"}
		res, err := service.New(db).Signup(ctx, service.Caller{}, req, opt)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(res.Pending, []string{"daily"}) || !reflect.DeepEqual(res.Confirmed, []string{"sport"}) || !res.MailQueued {
			t.Fatalf("signup result %+v", res)
		}
		// Private and unknown lists are refused alike.
		for _, lists := range [][]string{{"vip"}, {"nope"}, {"daily", "vip"}} {
			req2 := req
			req2.Lists = lists
			if _, err := service.New(db).Signup(ctx, service.Caller{}, req2, opt); herald.ErrorField(err) != "lists" {
				t.Fatalf("lists %v: %v", lists, err)
			}
		}
		if _, err := service.New(db).Signup(ctx, service.Caller{}, herald.SignupRequest{Email: "a@b.example", Lists: nil}, opt); herald.ErrorMessage(err) != "Please select at least one mailing list." {
			t.Fatalf("no lists: %v", err)
		}
		// A second signup within the window queues no second mail.
		res2, err := service.New(db).Signup(ctx, service.Caller{}, req, opt)
		if err != nil || res2.MailQueued || res2.SubscriberID != res.SubscriberID {
			t.Fatalf("second signup: %v %+v", err, res2)
		}
		jobs, err := db.ClaimJobs(ctx, 10, time.Minute)
		if err != nil || len(jobs) != 1 || jobs[0].Kind != sqlstore.JobConfirmMail {
			t.Fatalf("jobs: %v %+v", err, jobs)
		}
		var p sqlstore.ConfirmMailJob
		_ = json.Unmarshal(jobs[0].Payload, &p)
		pc, err := db.GetConfirmation(ctx, p.SubscriberID, 12345)
		if herald.ErrorCode(err) != herald.EGONE {
			t.Fatalf("wrong nonce: %v", err)
		}
		// The nonce is internal; find it through a valid lookup path.
		pcs, _, _ := db.FindSubscribers(ctx, sqlstore.SubscriberFilter{Email: "reader@example.com"})
		if len(pcs) != 1 {
			t.Fatalf("find by email: %d", len(pcs))
		}
		nonce, err := db.ConfirmNonce(ctx, p.SubscriberID)
		if err != nil {
			t.Fatal(err)
		}
		if pc, err = db.GetConfirmation(ctx, p.SubscriberID, nonce); err != nil || len(pc.Lists) != 1 {
			t.Fatalf("confirmation: %v %+v", err, pc)
		}
		got, err := service.New(db).Confirm(ctx, service.Caller{Meta: sqlstore.Meta{IP: "203.0.113.9"}}, p.SubscriberID, nonce)
		if err != nil || !reflect.DeepEqual(got, []string{"daily"}) {
			t.Fatalf("confirm: %v %v", err, got)
		}
		if _, err := service.New(db).Confirm(ctx, service.Caller{Meta: sqlstore.Meta{}}, p.SubscriberID, nonce); herald.ErrorCode(err) != herald.EGONE {
			t.Fatalf("second confirm: %v", err)
		}
		s, _ := db.GetSubscriber(ctx, p.SubscriberID)
		for _, x := range s.Subscriptions {
			if x.Status != herald.StatusConfirmed {
				t.Fatalf("subscription %+v", x)
			}
		}
		// Unsubscribe one list, idempotently.
		daily, _ := db.GetList(ctx, "daily")
		ch, err := db.Unsubscribe(ctx, s.ID, []int64{daily.ID}, sqlstore.Meta{Detail: "one-click"})
		if err != nil || !reflect.DeepEqual(ch, []string{"daily"}) {
			t.Fatalf("unsubscribe: %v %v", err, ch)
		}
		if ch, err := db.Unsubscribe(ctx, s.ID, []int64{daily.ID}, sqlstore.Meta{}); err != nil || len(ch) != 0 {
			t.Fatalf("unsubscribe again: %v %v", err, ch)
		}
		// Re-subscribing goes back through double opt-in, even for single opt-in lists.
		if _, err := db.Unsubscribe(ctx, s.ID, nil, sqlstore.Meta{}); err != nil {
			t.Fatal(err)
		}
		res3, err := service.New(db).Signup(ctx, service.Caller{}, req, opt)
		if err != nil || len(res3.Pending) != 2 || !res3.MailQueued {
			t.Fatalf("resubscribe: %v %+v", err, res3)
		}
		ev, err := db.Consents(ctx, s.ID)
		if err != nil {
			t.Fatal(err)
		}
		kinds := []string{}
		for _, e := range ev {
			kinds = append(kinds, e.Kind)
		}
		want := []string{"signup_request", "confirmation", "signup_request", "confirmation", "unsubscribe", "unsubscribe", "signup_request"}
		if !reflect.DeepEqual(kinds, want) {
			t.Fatalf("ledger kinds %v, want %v", kinds, want)
		}
		if ev[0].DisclosureVersion != 1 || ev[0].DisclosureHash == "" || ev[0].SourceURL != req.SourceURL || ev[0].IP != req.IP {
			t.Fatalf("ledger event %+v", ev[0])
		}
	})
}

func TestEraseSuppresses(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		mustList(t, db, "sport", herald.Single, herald.Public)
		res, err := service.New(db).Signup(ctx, service.Caller{}, herald.SignupRequest{Email: "gone@example.com", Lists: []string{"sport"}}, opt)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.WriteOutbox(ctx, "n@example.com", []string{"gone@example.com"}, []byte("Subject: hi\r\n\r\nbody\r\n")); err != nil {
			t.Fatal(err)
		}
		exp, err := db.Export(ctx, res.SubscriberID)
		if err != nil || len(exp.Consents) == 0 || len(exp.Messages) != 1 || exp.Messages[0].Subject != "hi" {
			t.Fatalf("export: %v %+v", err, exp)
		}
		if err := service.New(db).Erase(ctx, service.Caller{}, res.SubscriberID, ""); err != nil {
			t.Fatal(err)
		}
		if _, err := db.GetSubscriber(ctx, res.SubscriberID); herald.ErrorCode(err) != herald.ENOTFOUND {
			t.Fatalf("after erase: %v", err)
		}
		if sup, _ := db.IsSuppressed(ctx, "GONE@example.com"); !sup {
			t.Fatal("erased address is not suppressed")
		}
		if msgs, _, _ := db.Outbox(ctx, sqlstore.OutboxFilter{To: "gone@example.com"}); len(msgs) != 0 {
			t.Fatal("outbox still holds the erased reader's mail")
		}
		// An operator cannot move an erased address onto another subscriber.
		other, err := service.New(db).AddSubscriber(ctx, service.Caller{}, service.NewSubscriber{Email: "moved@example.com", Lists: []string{"sport"}, Status: "confirmed"}, opt)
		if err != nil {
			t.Fatal(err)
		}
		gone := "gone@example.com"
		if _, err := service.New(db).UpdateSubscriber(ctx, service.Caller{}, other.ID, service.SubscriberPatch{Email: &gone}); herald.ErrorCode(err) != herald.ECONFLICT {
			t.Fatalf("email change to an erased address: %v", err)
		}
		// Stored mail follows an email change, so erasure still finds it.
		if err := db.WriteOutbox(ctx, "n@example.com", []string{"moved@example.com"}, []byte("Subject: old\r\n\r\nbody\r\n")); err != nil {
			t.Fatal(err)
		}
		renamed := "renamed@example.com"
		if _, err := service.New(db).UpdateSubscriber(ctx, service.Caller{}, other.ID, service.SubscriberPatch{Email: &renamed}); err != nil {
			t.Fatal(err)
		}
		if err := service.New(db).Erase(ctx, service.Caller{}, other.ID, ""); err != nil {
			t.Fatal(err)
		}
		if msgs, _, _ := db.Outbox(ctx, sqlstore.OutboxFilter{}); len(msgs) != 0 {
			t.Fatalf("erasure left %d stored messages sent to the old address", len(msgs))
		}
		// Signing up again: even a single opt-in list needs confirmation now.
		res2, err := service.New(db).Signup(ctx, service.Caller{}, herald.SignupRequest{Email: "gone@example.com", Lists: []string{"sport"}}, opt)
		if err != nil || len(res2.Pending) != 1 || !res2.MailQueued {
			t.Fatalf("signup after erase: %v %+v", err, res2)
		}
		// An operator cannot vouch for a suppressed address.
		if _, err := service.New(db).AddSubscriber(ctx, service.Caller{}, service.NewSubscriber{Email: "other@example.com", Lists: []string{"sport"}, Status: "confirmed"}, opt); err != nil {
			t.Fatal(err)
		}
		nonce, _ := db.ConfirmNonce(ctx, res2.SubscriberID)
		if _, err := service.New(db).Confirm(ctx, service.Caller{Meta: sqlstore.Meta{}}, res2.SubscriberID, nonce); err != nil {
			t.Fatal(err)
		}
		if sup, _ := db.IsSuppressed(ctx, "gone@example.com"); sup {
			t.Fatal("confirming again should lift the suppression")
		}
	})
}

func TestJobsLeaseAndRetry(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		now := base
		db.Now = func() time.Time { return now }
		if err := db.Enqueue(ctx, "x", map[string]int{"n": 1}, time.Time{}); err != nil {
			t.Fatal(err)
		}
		jobs, _ := db.ClaimJobs(ctx, 5, time.Minute)
		if len(jobs) != 1 || jobs[0].Attempts != 1 {
			t.Fatalf("claim: %+v", jobs)
		}
		if again, _ := db.ClaimJobs(ctx, 5, time.Minute); len(again) != 0 {
			t.Fatalf("claimed a leased job twice")
		}
		// The process dies; once the lease expires another claims it.
		if n, _ := db.ReapExpiredLeases(ctx); n != 0 {
			t.Fatal("reaped a live lease")
		}
		now = base.Add(2 * time.Minute)
		if n, _ := db.ReapExpiredLeases(ctx); n != 1 {
			t.Fatalf("reaped %d expired leases, want 1", n)
		}
		jobs, _ = db.ClaimJobs(ctx, 5, time.Minute)
		if len(jobs) != 1 || jobs[0].Attempts != 2 {
			t.Fatalf("reclaim after lease: %+v", jobs)
		}
		if err := db.RetryJob(ctx, jobs[0].ID, now.Add(time.Hour), "451 try later"); err != nil {
			t.Fatal(err)
		}
		if j, _ := db.ClaimJobs(ctx, 5, time.Minute); len(j) != 0 {
			t.Fatal("claimed before run_at")
		}
		now = now.Add(2 * time.Hour)
		jobs, _ = db.ClaimJobs(ctx, 5, time.Minute)
		if len(jobs) != 1 {
			t.Fatal("not claimed after run_at")
		}
		if err := db.FailJob(ctx, jobs[0].ID, "550 no such user"); err != nil {
			t.Fatal(err)
		}
		failed, n, _ := db.Jobs(ctx, sqlstore.JobFilter{Status: "failed"})
		if n != 1 || failed[0].LastError != "550 no such user" {
			t.Fatalf("failed jobs: %d %+v", n, failed)
		}
	})
}
