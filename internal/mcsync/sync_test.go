package mcsync_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/events"
	"github.com/heraldhq/herald/internal/mailchimp/mailchimptest"
	"github.com/heraldhq/herald/internal/mcsync"
	"github.com/heraldhq/herald/internal/mcsync/mcstore"
	"github.com/heraldhq/herald/internal/netguard"
	"github.com/heraldhq/herald/internal/queue"
	"github.com/heraldhq/herald/internal/service"
	"github.com/heraldhq/herald/internal/sqlstore"
	"github.com/heraldhq/herald/internal/sqlstore/storetest"
)

var signupOpt = sqlstore.SignupOptions{ConfirmWindow: time.Minute, ConfirmTTL: time.Hour}

// env is a store, a fake Mailchimp, and a worker running the sync jobs.
type env struct {
	t    *testing.T
	db   *sqlstore.DB
	fake *mailchimptest.Server
	svc  *mcsync.Service
}

func newEnv(t *testing.T, db *sqlstore.DB) *env {
	t.Helper()
	fake := mailchimptest.NewServer(t)
	fake.AddList("aud1", "Audience one")
	fake.AddInterest("aud1", "cat1", "Topics", "int1", "Sport")
	// Herald's web server, as far as Mailchimp's webhook check goes.
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(web.Close)
	svc := startProcess(t, db, web.URL)
	key, base := fake.APIKey(), fake.URL()
	if _, err := mcstore.New(db).SetMailchimpConnection(context.Background(), &key, &base); err != nil {
		t.Fatal(err)
	}
	return &env{t: t, db: db, fake: fake, svc: svc}
}

// startProcess runs a Mailchimp service and a job worker on db, as one
// Herald process does; tests start a second one for several processes.
func startProcess(t *testing.T, db *sqlstore.DB, webURL string) *mcsync.Service {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	svc := mcsync.New(db, log, webURL, "The Daily Planet", 10)
	// The fake Mailchimp listens on loopback: allowed as HERALD_FETCH_ALLOW would.
	svc.Guard = netguard.New([]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")})
	svc.Timeout = 2 * time.Second
	svc.Backoff = 100 * time.Millisecond
	w := &queue.Worker{DB: db, Log: log, Concurrency: 10, Poll: 20 * time.Millisecond, BaseBackoff: 50 * time.Millisecond, MaxBackoff: 100 * time.Millisecond}
	svc.Register(w)
	w.Handle(sqlstore.JobConfirmMail, func(context.Context, herald.Job) error { return nil })
	d := &events.Dispatcher{DB: db, Log: log, Poll: 20 * time.Millisecond}
	svc.Subscribe(d)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{}, 2)
	go func() { _ = w.Run(ctx); done <- struct{}{} }()
	go func() { _ = d.Run(ctx); done <- struct{}{} }()
	t.Cleanup(func() { cancel(); <-done; <-done })
	return svc
}

func (e *env) list(slug string, optin string) *herald.List {
	e.t.Helper()
	l := &herald.List{Slug: slug, Name: "List " + slug, OptIn: optin}
	if err := e.db.CreateList(context.Background(), l); err != nil {
		e.t.Fatal(err)
	}
	return l
}

func (e *env) connect(slug, audience, interest string) {
	e.t.Helper()
	ctx := context.Background()
	name, cat, iname, err := e.svc.CheckLink(ctx, audience, interest)
	if err != nil {
		e.t.Fatal(err)
	}
	if _, _, err := mcstore.New(e.db).PutMailchimpLink(ctx, slug, mcstore.MailchimpLinkInput{AudienceID: audience, AudienceName: name,
		InterestID: interest, CategoryID: cat, InterestName: iname, DisclosureText: mcsync.DisclosureText("The Daily Planet", slug)}); err != nil {
		e.t.Fatal(err)
	}
}

// signup subscribes and confirms a reader.
func (e *env) signup(email, name string, lists ...string) int64 {
	e.t.Helper()
	ctx := context.Background()
	res, err := service.New(e.db).Signup(ctx, service.Caller{}, herald.SignupRequest{Email: email, Name: name, Lists: lists, IP: "198.51.100.7", SourceURL: "https://news.example/a"}, signupOpt)
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := service.New(e.db).Confirm(ctx, service.Caller{Meta: sqlstore.Meta{IP: "198.51.100.8"}}, res.SubscriberID, 0); err != nil && herald.ErrorCode(err) != herald.EGONE {
		e.t.Fatal(err) // EGONE: single opt-in, nothing to confirm
	}
	return res.SubscriberID
}

// idle waits until every event has been handed to the Mailchimp sync
// and no Mailchimp job is left but those that failed.
func (e *env) idle() {
	e.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if !caughtUp(e.t, e.db) {
			if time.Now().After(deadline) {
				e.t.Fatal("the Mailchimp sync did not catch up with the events")
			}
			time.Sleep(10 * time.Millisecond)
			continue
		}
		jobs, _, err := e.db.Jobs(context.Background(), sqlstore.JobFilter{Limit: 1000})
		if err != nil {
			e.t.Fatal(err)
		}
		busy := 0
		for _, j := range jobs {
			if strings.HasPrefix(j.Kind, "mailchimp_") && j.Status != herald.JobFailed {
				busy++
			}
		}
		if busy == 0 {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("%d Mailchimp jobs still pending: %+v", busy, jobs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (e *env) failed() []herald.Job {
	e.t.Helper()
	jobs, _, err := e.db.Jobs(context.Background(), sqlstore.JobFilter{Status: herald.JobFailed})
	if err != nil {
		e.t.Fatal(err)
	}
	return jobs
}

// succeeded counts the 2xx answers of the fake to method on path.
func succeeded(fake *mailchimptest.Server, method, path string) (ok, all int) {
	for _, r := range fake.Requests() {
		if r.Method == method && r.Path == path {
			all++
			if r.Status >= 200 && r.Status < 300 {
				ok++
			}
		}
	}
	return ok, all
}

func memberPath(audience, email string) string {
	return "/lists/" + audience + "/members/" + mailchimptest.Hash(email)
}

// TestSyncReachesMailchimpOnceThroughFaults: a confirmation, an unsubscribe
// and an erasure each reach Mailchimp exactly once, through 429 with and
// without Retry-After, 5xx and a slow answer, with the body Mailchimp
// documents; the erasure's job holds no readable address.
func TestSyncReachesMailchimpOnceThroughFaults(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		e := newEnv(t, db)
		e.list("daily", herald.Double)
		e.connect("daily", "aud1", "")
		e.idle() // webhook registration job (fails to reach Herald: no server) is not our concern
		e.fake.ResetRequests()
		path := memberPath("aud1", "Urist.McVankab@freddiesjokes.com")
		if path != "/lists/aud1/members/62eeb292278cc15f5817cb78f7790b08" {
			t.Fatalf("subscriber hash: %s", path)
		}
		e.fake.Inject(mailchimptest.Fault{Method: "PUT", Path: path, Status: 429})
		e.fake.Inject(mailchimptest.Fault{Method: "PUT", Path: path, Status: 429, RetryAfter: "1"})
		e.fake.Inject(mailchimptest.Fault{Method: "PUT", Path: path, Status: 503})
		e.fake.Inject(mailchimptest.Fault{Method: "PUT", Path: path, Delay: 300 * time.Millisecond})
		id := e.signup("Urist.McVankab@freddiesjokes.com", "Urist McVankab", "daily")
		e.idle()
		if ok, all := succeeded(e.fake, "PUT", path); ok != 1 || all != 4 {
			t.Fatalf("upsert: %d successful of %d requests, want 1 of 4", ok, all)
		}
		m, found := e.fake.Member("aud1", "urist.mcvankab@freddiesjokes.com")
		if !found || m.Status != "subscribed" || m.MergeFields["FNAME"] != "Urist" || m.MergeFields["LNAME"] != "McVankab" ||
			m.IPSignup != "198.51.100.7" || m.IPOpt != "198.51.100.8" || m.TimestampSignup == "" || m.TimestampOpt == "" {
			t.Fatalf("member at Mailchimp: %+v", m)
		}
		var body map[string]any
		for _, r := range e.fake.Requests() {
			if r.Method == "PUT" && r.Status == 200 {
				_ = json.Unmarshal(r.Body, &body)
			}
		}
		if body["status_if_new"] != "subscribed" || body["status"] != "subscribed" || body["email_address"] != "Urist.McVankab@freddiesjokes.com" {
			t.Fatalf("PUT body: %v", body)
		}

		e.fake.Inject(mailchimptest.Fault{Method: "PATCH", Path: path, Status: 500})
		if _, err := db.Unsubscribe(context.Background(), id, nil, sqlstore.Meta{}); err != nil {
			t.Fatal(err)
		}
		e.idle()
		if ok, all := succeeded(e.fake, "PATCH", path); ok != 1 || all != 2 {
			t.Fatalf("unsubscribe: %d successful of %d", ok, all)
		}
		if m, _ := e.fake.Member("aud1", "urist.mcvankab@freddiesjokes.com"); m.Status != "unsubscribed" {
			t.Fatalf("after unsubscribe: %s", m.Status)
		}

		del := path + "/actions/delete-permanent"
		e.fake.Inject(mailchimptest.Fault{Method: "POST", Path: del, Status: 503, RetryAfter: "1"})
		if err := service.New(db).Erase(context.Background(), service.Caller{}, id, ""); err != nil {
			t.Fatal(err)
		}
		jobs, _, _ := db.Jobs(context.Background(), sqlstore.JobFilter{})
		for _, j := range jobs {
			if strings.Contains(strings.ToLower(string(j.Payload)), "urist") || strings.Contains(strings.ToLower(j.LastError), "urist") {
				t.Errorf("job %d keeps the erased address: %s %s", j.ID, j.Payload, j.LastError)
			}
		}
		e.idle()
		if ok, all := succeeded(e.fake, "POST", del); ok != 1 || all != 2 {
			t.Fatalf("erasure: %d successful of %d", ok, all)
		}
		if !e.fake.Forgotten("aud1", "urist.mcvankab@freddiesjokes.com") {
			t.Fatal("not deleted permanently")
		}
		if f := e.failed(); len(f) != 0 {
			t.Fatalf("failed jobs: %+v", f)
		}
	})
}

// TestSyncRefusals: Mailchimp's documented refusals are understood and not
// retried for ever.
func TestSyncRefusals(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		e := newEnv(t, db)
		e.list("daily", herald.Double)
		e.connect("daily", "aud1", "")
		e.idle()

		// Member In Compliance State: pending here, pending there (so
		// Mailchimp mails its own confirmation), and the ledger says why.
		e.fake.SetComplianceState("carla@example.com")
		carla := e.signup("carla@example.com", "Carla", "daily")
		e.idle()
		s, _ := db.GetSubscriber(ctx, carla)
		if s.Subscriptions[0].Status != herald.StatusPending {
			t.Fatalf("compliance state: subscription %s", s.Subscriptions[0].Status)
		}
		if m, _ := e.fake.Member("aud1", "carla@example.com"); m.Status != "pending" {
			t.Fatalf("compliance state: member %q at Mailchimp", m.Status)
		}
		ev, _ := db.Consents(ctx, carla)
		if last := ev[len(ev)-1]; last.Kind != herald.ConsentResubscribed || last.Actor != herald.ActorMailchimp || !strings.Contains(last.Detail, "Compliance State") {
			t.Fatalf("ledger: %+v", last)
		}

		// An invalid or fake address: failed for good, with a clear message.
		e.fake.SetFake("fake@example.com")
		e.signup("fake@example.com", "", "daily")
		// Forgotten Email Not Subscribed: erased, then signed up again.
		dan := e.signup("dan@example.com", "Dan", "daily")
		e.idle()
		if err := service.New(db).Erase(ctx, service.Caller{}, dan, ""); err != nil {
			t.Fatal(err)
		}
		e.idle()
		e.signup("dan@example.com", "Dan", "daily")
		e.idle()
		failed := e.failed()
		if len(failed) != 2 {
			t.Fatalf("failed jobs %d, want 2: %+v", len(failed), failed)
		}
		msgs := failed[0].LastError + "\n" + failed[1].LastError
		for _, want := range []string{"invalid or fake", "fake@example.com", "Forgotten Email Not Subscribed", "dan@example.com"} {
			if !strings.Contains(msgs, want) {
				t.Errorf("failed jobs' messages lack %q:\n%s", want, msgs)
			}
		}
		for _, j := range failed {
			if j.Attempts != 1 {
				t.Errorf("job %d was tried %d times: a refusal is not retried", j.ID, j.Attempts)
			}
		}
	})
}

// TestNothingForUnconnectedLists: Mailchimp hears nothing about lists that
// are not connected.
func TestNothingForUnconnectedLists(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		e := newEnv(t, db)
		e.list("local", herald.Double)
		e.list("flash", herald.Single)
		id := e.signup("eve@example.com", "Eve", "local", "flash")
		if _, err := db.Unsubscribe(context.Background(), id, nil, sqlstore.Meta{}); err != nil {
			t.Fatal(err)
		}
		if err := service.New(db).Erase(context.Background(), service.Caller{}, id, ""); err != nil {
			t.Fatal(err)
		}
		time.Sleep(300 * time.Millisecond)
		e.idle()
		if n := len(e.fake.Requests()); n != 0 {
			t.Fatalf("%d requests to Mailchimp for unconnected lists: %+v", n, e.fake.Requests())
		}
	})
}

// TestInterestListsAndConnectionLimit: lists sharing an audience through
// interests set and clear their interest, and many jobs at once in two
// processes never open more than Mailchimp's 10 connections.
func TestInterestListsAndConnectionLimit(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		e := newEnv(t, db)
		e.list("sport", herald.Single)
		e.connect("sport", "aud1", "int1")
		e.idle()
		// A second process on the same database: each alone would run 8
		// calls at once; together they keep to Mailchimp's 10.
		startProcess(t, db, e.svc.BaseURL)
		e.fake.Inject(mailchimptest.Fault{Method: "PUT", Delay: 150 * time.Millisecond, Times: -1})
		for i := 0; i < 30; i++ {
			e.signup("reader"+string(rune('a'+i))+"@example.com", "", "sport")
		}
		e.idle()
		if n := e.fake.MaxInFlight(); n > 10 || n < 2 {
			t.Fatalf("%d requests in flight at once, Mailchimp allows 10", n)
		}
		if n := len(e.fake.Members("aud1")); n != 30 {
			t.Fatalf("%d members, want 30", n)
		}
		for _, r := range e.fake.Requests() {
			if r.Status == http.StatusTooManyRequests {
				t.Fatalf("the connection limit was hit: %+v", r)
			}
		}
		m, _ := e.fake.Member("aud1", "readera@example.com")
		if !m.Interests["int1"] {
			t.Fatalf("interest not set: %+v", m)
		}
		e.fake.ClearFaults()
		subs, _, _ := db.FindSubscribers(context.Background(), sqlstore.SubscriberFilter{Email: "readera@example.com"})
		if _, err := db.Unsubscribe(context.Background(), subs[0].ID, nil, sqlstore.Meta{}); err != nil {
			t.Fatal(err)
		}
		e.idle()
		m, _ = e.fake.Member("aud1", "readera@example.com")
		if m.Interests["int1"] || m.Status != "subscribed" {
			t.Fatalf("leaving an interest list: %+v (the member stays subscribed to the audience, without the interest)", m)
		}
	})
}

// TestBulkSync: "sync now" reconciles a whole list through the batch
// endpoint, 500 members per call.
func TestBulkSync(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		e := newEnv(t, db)
		l := e.list("daily", herald.Double)
		var rows []sqlstore.ImportRow
		for i := 0; i < 1203; i++ {
			email := strings.Replace(mcsync.GenEmail(i), "member", "bulk", 1)
			st := herald.StatusConfirmed
			if i%10 == 9 {
				st = herald.StatusUnsubscribed
			}
			rows = append(rows, sqlstore.ImportRow{File: "x", Line: i + 2, Email: email, Key: email, Status: st, Lists: []int64{l.ID},
				OptinAt: mcsync.GenOptinTime(i), OptinIP: "192.0.2.1"})
		}
		if _, _, err := db.ImportBatch(ctx, []*herald.List{l}, rows); err != nil {
			t.Fatal(err)
		}
		e.connect("daily", "aud1", "")
		e.idle()
		e.fake.ResetRequests()
		e.fake.SetFake(rows[5].Email)
		if _, err := mcstore.New(db).StartMailchimpSync(ctx, "daily"); err != nil {
			t.Fatal(err)
		}
		e.idle()
		if n := e.fake.Count("POST", "/lists/aud1"); n != 3 {
			t.Fatalf("%d batch calls, want 3 (500 + 500 + 203)", n)
		}
		members := e.fake.Members("aud1")
		subscribed := 0
		for _, m := range members {
			if m.Status == "subscribed" {
				subscribed++
			}
		}
		if len(members) != 1202 || subscribed != 1082 {
			t.Fatalf("%d members, %d subscribed; want 1202 and 1082", len(members), subscribed)
		}
		k, _ := mcstore.New(db).MailchimpLink(ctx, "daily")
		if k.Sync.State != "done" || k.Sync.Members != 1203 || k.Sync.Errors != 1 || !strings.Contains(k.Sync.LastError, "invalid or fake") {
			t.Fatalf("sync state: %+v", k.Sync)
		}
	})
}

// caughtUp reports whether the Mailchimp sync has handled every event.
func caughtUp(t *testing.T, db *sqlstore.DB) bool {
	t.Helper()
	cur, err := db.EventCursors(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cur {
		if c.Consumer == mcsync.Consumer {
			return c.Behind == 0
		}
	}
	return false
}
