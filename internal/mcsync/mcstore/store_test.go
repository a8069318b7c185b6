package mcstore_test

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/mcsync/mcstore"
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

const testKey = "0123456789abcdef0123456789abcdef-us6"

func connect(t *testing.T, db *sqlstore.DB, slug, audience, interest string) *mcstore.MailchimpLink {
	t.Helper()
	ctx := context.Background()
	if _, err := mcstore.New(db).MailchimpConnection(ctx); err != nil {
		key := testKey
		if _, err := mcstore.New(db).SetMailchimpConnection(ctx, &key, nil); err != nil {
			t.Fatal(err)
		}
	}
	k, _, err := mcstore.New(db).PutMailchimpLink(ctx, slug, mcstore.MailchimpLinkInput{AudienceID: audience, InterestID: interest,
		CategoryID: "cat1", InterestName: "Group " + interest,
		DisclosureText: "Your details for " + slug + " are transferred to Mailchimp, which processes them for us."})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// memberJobs returns the queued Mailchimp member jobs (payloads decoded).
func memberJobs(t *testing.T, db *sqlstore.DB) []*mcstore.MailchimpMemberJob {
	t.Helper()
	// Hand the events committed so far to the Mailchimp sync's consumer.
	ctx := context.Background()
	if err := db.RegisterConsumer(ctx, "mailchimp"); err != nil {
		t.Fatal(err)
	}
	for {
		n, err := db.ConsumeEvents(ctx, "mailchimp", 100, mcstore.New(db).HandleEvents, mcstore.New(db).Unconnected)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
	}
	jobs, _, err := db.Jobs(context.Background(), sqlstore.JobFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var out []*mcstore.MailchimpMemberJob
	for _, j := range jobs {
		if j.Kind != mcstore.JobMailchimpMember {
			continue
		}
		if strings.Contains(string(j.Payload), "@") {
			t.Errorf("job %d holds a readable address: %s", j.ID, j.Payload)
		}
		op, err := mcstore.New(db).MailchimpMemberOp(j)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, op)
	}
	return out
}

func md5hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

func ops(jobs []*mcstore.MailchimpMemberJob) string {
	var s []string
	for _, j := range jobs {
		who := j.Email
		if who == "" {
			who = "#" + j.MemberHash
		}
		s = append(s, j.Op+" "+who+" "+j.AudienceID)
	}
	return strings.Join(s, "; ")
}

func TestMailchimpConnectionAndLinks(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		if _, err := mcstore.New(db).MailchimpConnection(ctx); herald.ErrorCode(err) != herald.ENOTFOUND {
			t.Fatalf("no connection yet: %v", err)
		}
		if _, err := mcstore.New(db).SetMailchimpConnection(ctx, nil, nil); herald.ErrorCode(err) != herald.EINVALID {
			t.Fatalf("connection without a key: %v", err)
		}
		mustList(t, db, "daily", herald.Double, herald.Public)
		mustList(t, db, "sport", herald.Double, herald.Public)
		mustList(t, db, "tech", herald.Double, herald.Public)
		if _, _, err := mcstore.New(db).PutMailchimpLink(ctx, "daily", mcstore.MailchimpLinkInput{AudienceID: "aud1", DisclosureText: "x"}); herald.ErrorCode(err) != herald.ECONFLICT {
			t.Fatalf("link before connection: %v", err)
		}
		key := testKey
		c, err := mcstore.New(db).SetMailchimpConnection(ctx, &key, nil)
		if err != nil || c.APIKey != testKey || c.WebhookSecret == "" || strings.Contains(c.KeyHint, "0123456789abcdef0123") {
			t.Fatalf("connection: %v %+v", err, c)
		}
		base := "http://127.0.0.1:9/3.0"
		c2, err := mcstore.New(db).SetMailchimpConnection(ctx, nil, &base)
		if err != nil || c2.APIKey != testKey || c2.BaseURL != base || c2.WebhookSecret != c.WebhookSecret {
			t.Fatalf("update keeps key and secret: %v %+v", err, c2)
		}

		d0, _ := db.CurrentDisclosure(ctx)
		k := connect(t, db, "daily", "aud1", "")
		if k.Delivery != mcstore.DeliveryMailchimp || k.Disclosure == nil || k.Disclosure.Version <= d0.Version || k.Disclosure.Current {
			t.Fatalf("link: %+v %+v", k, k.Disclosure)
		}
		if cur, _ := db.CurrentDisclosure(ctx); cur.Version != d0.Version {
			t.Fatalf("the installation's disclosure changed: %d → %d", d0.Version, cur.Version)
		}
		// Sharing an audience needs interests on both sides.
		if _, _, err := mcstore.New(db).PutMailchimpLink(ctx, "sport", mcstore.MailchimpLinkInput{AudienceID: "aud1", InterestID: "i1", DisclosureText: "x"}); herald.ErrorCode(err) != herald.ECONFLICT {
			t.Fatalf("second list on a whole audience: %v", err)
		}
		connect(t, db, "sport", "aud2", "i1")
		connect(t, db, "tech", "aud2", "i2")
		if _, _, err := mcstore.New(db).PutMailchimpLink(ctx, "tech", mcstore.MailchimpLinkInput{AudienceID: "aud2", InterestID: "i1", DisclosureText: "x"}); herald.ErrorCode(err) != herald.ECONFLICT {
			t.Fatalf("same interest twice: %v", err)
		}
		// Re-putting the same link keeps its disclosure version.
		again := connect(t, db, "daily", "aud1", "")
		if again.Disclosure.Version != k.Disclosure.Version {
			t.Fatalf("unchanged link got a new disclosure: %d → %d", k.Disclosure.Version, again.Disclosure.Version)
		}
		jobs, _, _ := db.Jobs(ctx, sqlstore.JobFilter{Limit: 100})
		webhooks := 0
		for _, j := range jobs {
			if j.Kind == mcstore.JobMailchimpWebhook {
				webhooks++
			}
		}
		if webhooks != 3 {
			t.Fatalf("%d webhook registration jobs, want 3", webhooks)
		}
		daily, _ := db.GetList(ctx, "daily")
		if d, err := mcstore.New(db).ListDelivery(ctx, daily.ID); err != nil || d != mcstore.DeliveryMailchimp {
			t.Fatalf("delivery: %v %q", err, d)
		}
		err = db.CheckHeraldDelivers(ctx, []int64{daily.ID})
		if herald.ErrorCode(err) != herald.ECONFLICT || !strings.Contains(herald.ErrorMessage(err), "delivered by Mailchimp") {
			t.Fatalf("campaign check: %v", err)
		}
		h := mcstore.DeliveryHerald
		if _, _, err := mcstore.New(db).PutMailchimpLink(ctx, "daily", mcstore.MailchimpLinkInput{AudienceID: "aud1", Delivery: h, DisclosureText: again.Disclosure.Text}); err != nil {
			t.Fatal(err)
		}
		if err := db.CheckHeraldDelivers(ctx, []int64{daily.ID}); err != nil {
			t.Fatalf("herald delivery: %v", err)
		}
		if err := mcstore.New(db).DeleteMailchimpConnection(ctx); herald.ErrorCode(err) != herald.ECONFLICT {
			t.Fatalf("delete connection with lists: %v", err)
		}
		for _, s := range []string{"daily", "sport", "tech"} {
			if err := mcstore.New(db).DeleteMailchimpLink(ctx, s); err != nil {
				t.Fatal(err)
			}
		}
		if d, _ := mcstore.New(db).ListDelivery(ctx, daily.ID); d != mcstore.DeliveryHerald {
			t.Fatalf("disconnected list delivery %q", d)
		}
		if err := mcstore.New(db).DeleteMailchimpConnection(ctx); err != nil {
			t.Fatal(err)
		}
	})
}

func TestMailchimpSyncJobsFollowChanges(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		mustList(t, db, "daily", herald.Double, herald.Public)
		mustList(t, db, "local", herald.Double, herald.Public) // not connected
		mustList(t, db, "flash", herald.Single, herald.Public)
		k := connect(t, db, "daily", "aud1", "")
		connect(t, db, "flash", "aud2", "")
		global, _ := db.CurrentDisclosure(ctx)

		res, err := service.New(db).Signup(ctx, service.Caller{}, herald.SignupRequest{Email: "Ann@Example.com", Name: "Ann Lee", Lists: []string{"daily", "local", "flash"}, IP: "192.0.2.1"}, opt)
		if err != nil {
			t.Fatal(err)
		}
		ev, _ := db.Consents(ctx, res.SubscriberID)
		seen := map[string]int{}
		for _, e := range ev {
			if e.Kind == herald.ConsentSignup {
				seen[strings.Join(e.Lists, ",")] = e.DisclosureVersion
			}
		}
		if seen["local"] != global.Version || seen["daily"] != k.Disclosure.Version || len(seen) != 3 {
			t.Fatalf("signup events by list → disclosure version: %v (global %d, daily %d)", seen, global.Version, k.Disclosure.Version)
		}
		// The single opt-in list connected to Mailchimp is upserted at once.
		if got := ops(memberJobs(t, db)); got != "upsert Ann@Example.com aud2" {
			t.Fatalf("after signup: %s", got)
		}
		if _, err := service.New(db).Confirm(ctx, service.Caller{Meta: sqlstore.Meta{IP: "192.0.2.2"}}, res.SubscriberID, 0); err != nil {
			t.Fatal(err)
		}
		if got := ops(memberJobs(t, db)); got != "upsert Ann@Example.com aud2; upsert Ann@Example.com aud1" {
			t.Fatalf("after confirmation: %s", got)
		}
		data, err := mcstore.New(db).MailchimpMemberData(ctx, res.SubscriberID, k.ListID)
		if err != nil || data.Name != "Ann Lee" || data.SignupIP != "192.0.2.1" || data.OptIP != "192.0.2.2" || data.SignupAt.IsZero() || data.OptAt.IsZero() {
			t.Fatalf("member data: %v %+v", err, data)
		}
		// Jobs for one member run in order.
		jobs, _, _ := db.Jobs(ctx, sqlstore.JobFilter{Limit: 100})
		var mine []herald.Job
		for _, j := range jobs {
			if j.Kind == mcstore.JobMailchimpMember {
				mine = append(mine, j)
			}
		}
		local, _ := db.GetList(ctx, "local")
		if _, err := db.Unsubscribe(ctx, res.SubscriberID, []int64{local.ID}, sqlstore.Meta{}); err != nil {
			t.Fatal(err)
		}
		if n := len(memberJobs(t, db)); n != 2 {
			t.Fatalf("leaving an unconnected list queued Mailchimp jobs: %d", n)
		}
		if _, err := db.Unsubscribe(ctx, res.SubscriberID, []int64{k.ListID}, sqlstore.Meta{}); err != nil {
			t.Fatal(err)
		}
		all := memberJobs(t, db)
		last := all[len(all)-1]
		if last.Op != mcstore.MailchimpUnsubscribe || last.AudienceID != "aud1" {
			t.Fatalf("unsubscribe: %s", ops(all))
		}
		jobs, _, _ = db.Jobs(ctx, sqlstore.JobFilter{Limit: 100})
		unsubJob := jobs[len(jobs)-1]
		if wait, _, err := mcstore.New(db).MailchimpJobWait(ctx, unsubJob.ID, last.MemberKey); err != nil || !wait {
			t.Fatalf("the unsubscribe does not wait for the upsert: %v %v", wait, err)
		}
		if wait, _, _ := mcstore.New(db).MailchimpJobWait(ctx, mine[0].ID, memberJobs(t, db)[0].MemberKey); wait {
			t.Fatal("the first job waits")
		}
		// Changes made by Mailchimp queue nothing.
		if _, err := db.Unsubscribe(ctx, res.SubscriberID, nil, sqlstore.Meta{Actor: herald.ActorMailchimp}); err != nil {
			t.Fatal(err)
		}
		if n := len(memberJobs(t, db)); n != 3 {
			t.Fatalf("a change from Mailchimp queued a job back: %d jobs", n)
		}
		// Erasure: the queued jobs go (they hold the address), one
		// delete-permanent per audience is queued.
		if err := service.New(db).Erase(ctx, service.Caller{}, res.SubscriberID, ""); err != nil {
			t.Fatal(err)
		}
		h := "#" + md5hex("ann@example.com")
		if got := ops(memberJobs(t, db)); got != "delete "+h+" aud1; delete "+h+" aud2" {
			t.Fatalf("after erasure: %s", got)
		}
		if _, err := mcstore.New(db).MailchimpMemberData(ctx, res.SubscriberID, k.ListID); herald.ErrorCode(err) != herald.ENOTFOUND {
			t.Fatalf("member data after erasure: %v", err)
		}
	})
}

func TestMailchimpWebhookEvents(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		mustList(t, db, "daily", herald.Double, herald.Public)
		connect(t, db, "daily", "aud1", "")
		t0 := time.Now().UTC().Truncate(time.Second).Add(-time.Hour)
		n := 0
		ev := func(change, email string, at time.Time) mcstore.MailchimpEvent {
			n++
			typ := map[string]string{"subscribed": "subscribe", "unsubscribed": "unsubscribe", "bounced": "cleaned", "profile": "profile"}[change]
			return mcstore.MailchimpEvent{Key: "k" + string(rune('a'+n)), Type: typ, Change: change, FiredAt: at, AudienceID: "aud1", Email: email,
				FirstName: "Bo", LastName: "Berg", HasName: true, Reason: "hard"}
		}
		apply := func(e mcstore.MailchimpEvent) *mcstore.MailchimpEventResult {
			t.Helper()
			r, err := mcstore.New(db).ApplyMailchimpEvent(ctx, e)
			if err != nil {
				t.Fatal(err)
			}
			return r
		}
		status := func(email string) string {
			subs, _, _ := db.FindSubscribers(ctx, sqlstore.SubscriberFilter{Email: email})
			if len(subs) == 0 {
				return "none"
			}
			for _, x := range subs[0].Subscriptions {
				if x.List == "daily" {
					return x.Status
				}
			}
			return ""
		}
		sub := ev("subscribed", "bo@example.com", t0)
		if r := apply(sub); len(r.Changed) != 1 || status("bo@example.com") != herald.StatusConfirmed {
			t.Fatalf("subscribe: %+v %s", r, status("bo@example.com"))
		}
		if r := apply(sub); !r.Replay {
			t.Fatalf("replay: %+v", r)
		}
		unsub := ev("unsubscribed", "bo@example.com", t0.Add(2*time.Minute))
		resub := ev("subscribed", "bo@example.com", t0.Add(time.Minute))
		apply(unsub)
		if r := apply(resub); !r.Stale || status("bo@example.com") != herald.StatusUnsubscribed {
			t.Fatalf("an older subscribe after a newer unsubscribe: %+v %s", r, status("bo@example.com"))
		}
		apply(unsub)
		subs, _, _ := db.FindSubscribers(ctx, sqlstore.SubscriberFilter{Email: "bo@example.com"})
		cs, _ := db.Consents(ctx, subs[0].ID)
		if len(cs) != 3 {
			t.Fatalf("ledger has %d events, want 3 (subscribe, unsubscribe, stale subscribe)", len(cs))
		}
		for _, c := range cs {
			if c.Actor != herald.ActorMailchimp {
				t.Errorf("event %+v: actor %q", c, c.Actor)
			}
		}
		if !strings.Contains(cs[2].Detail, "not applied") {
			t.Errorf("stale event detail: %q", cs[2].Detail)
		}
		// Cleaned: suppressed, and a subscribe fired before the cleaning does
		// not bring the address back.
		apply(ev("subscribed", "cy@example.com", t0))
		apply(ev("bounced", "cy@example.com", t0.Add(time.Minute)))
		if sup, _ := db.IsSuppressed(ctx, "cy@example.com"); !sup || status("cy@example.com") != herald.StatusUnsubscribed {
			t.Fatalf("cleaned: suppressed %v, status %s", sup, status("cy@example.com"))
		}
		// An unsubscribe for a reader Herald does not know suppresses
		// nothing and creates nobody.
		if r := apply(ev("unsubscribed", "ghost@example.com", t0)); status("ghost@example.com") != "none" || r.Ignored == "" {
			t.Fatalf("unknown reader: %+v", r)
		}
		// A Herald change after the event wins over a subscribe event.
		res, _ := service.New(db).Signup(ctx, service.Caller{}, herald.SignupRequest{Email: "di@example.com", Lists: []string{"daily"}}, opt)
		if _, err := db.Unsubscribe(ctx, res.SubscriberID, nil, sqlstore.Meta{}); err != nil {
			t.Fatal(err)
		}
		if r := apply(ev("subscribed", "di@example.com", time.Now().UTC().Add(-10*time.Second))); len(r.Changed) != 0 || status("di@example.com") != herald.StatusUnsubscribed {
			t.Fatalf("echo after a Herald unsubscribe: %+v %s", r, status("di@example.com"))
		}
		// No sync job goes back to Mailchimp for webhook changes.
		for _, j := range memberJobs(t, db) {
			if j.Op != mcstore.MailchimpUnsubscribe {
				t.Errorf("webhook change queued %s", j.Op)
			}
		}
		var p map[string]any
		_ = json.Unmarshal([]byte("{}"), &p)
	})
}

func TestImportBatchIdempotent(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		l := mustList(t, db, "daily", herald.Double, herald.Public)
		at := time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC)
		rows := []sqlstore.ImportRow{
			{File: "s.csv", Line: 2, Email: "a@example.com", Key: "a@example.com", Name: "A A", Attributes: map[string]string{"CITY": "Oslo"},
				Status: herald.StatusConfirmed, Lists: []int64{l.ID}, OptinAt: at, OptinIP: "192.0.2.9", ConfirmAt: at.Add(time.Minute), ConfirmIP: "192.0.2.10"},
			{File: "u.csv", Line: 2, Email: "b@example.com", Key: "b@example.com", Status: herald.StatusUnsubscribed, Lists: []int64{l.ID}, StatusAt: at},
			{File: "c.csv", Line: 2, Email: "c@example.com", Key: "c@example.com", Status: herald.StatusUnsubscribed, Suppress: true, Lists: []int64{l.ID}, StatusAt: at},
		}
		lists := []*herald.List{l}
		c, notes, err := db.ImportBatch(ctx, lists, rows)
		if err != nil || c.Added != 3 || c.Unsubscribed != 2 || c.Suppressed != 1 || len(notes) != 0 {
			t.Fatalf("first import: %v %+v %v", err, c, notes)
		}
		c, _, err = db.ImportBatch(ctx, lists, rows)
		if err != nil || c.Unchanged != 3 || c.Added+c.Updated+c.Unsubscribed+c.Suppressed != 0 {
			t.Fatalf("second import: %v %+v", err, c)
		}
		subs, _, _ := db.FindSubscribers(ctx, sqlstore.SubscriberFilter{Email: "a@example.com"})
		ev, _ := db.Consents(ctx, subs[0].ID)
		if len(ev) != 2 || !ev[0].CreatedAt.Equal(at) || ev[0].IP != "192.0.2.9" || ev[1].IP != "192.0.2.10" {
			t.Fatalf("imported consent events: %+v", ev)
		}
		if subs[0].Attributes["CITY"] != "Oslo" || subs[0].Name != "A A" || subs[0].Subscriptions[0].Status != herald.StatusConfirmed {
			t.Fatalf("imported subscriber: %+v", subs[0])
		}
		// A suppressed address is not subscribed by an import.
		c, notes, _ = db.ImportBatch(ctx, lists, []sqlstore.ImportRow{{File: "s.csv", Line: 9, Email: "c@example.com", Key: "c@example.com",
			Status: herald.StatusConfirmed, Lists: []int64{l.ID}, OptinAt: at}})
		if c.Refused != 1 || len(notes) != 1 || notes[0].Line != 9 {
			t.Fatalf("suppressed address: %+v %v", c, notes)
		}
	})
}

// An import's batches go in whole while checkpoints run beside the writer,
// readers read meanwhile, and at the end the WAL is copied back and
// truncated (SQLite).
func TestImporterCheckpointsBesideTheWriter(t *testing.T) {
	path := filepath.Join(t.TempDir(), "herald.db")
	db := storetest.Open(t, "sqlite:"+path)
	ctx := context.Background()
	l := mustList(t, db, "daily", herald.Double, herald.Public)
	im, err := db.BeginImport(ctx, 8)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC)
	const batches, per = 10, 300
	for b := 0; b < batches; b++ {
		rows := make([]sqlstore.ImportRow, per)
		for i := range rows {
			email := fmt.Sprintf("reader-%d-%d@example.com", i, b)
			rows[i] = sqlstore.ImportRow{File: "s.csv", Line: b*per + i + 2, Email: email, Key: email, Status: herald.StatusConfirmed,
				Lists: []int64{l.ID}, OptinAt: at, OptinIP: "192.0.2.9", ConfirmAt: at.Add(time.Minute)}
		}
		if b%2 == 0 {
			rows = db.PrepareImport(rows) // as the reader of mcsync does; odd batches are prepared by the writer
		}
		c, _, err := im.Batch(ctx, []*herald.List{l}, rows)
		if err != nil || c.Added != per {
			t.Fatalf("batch %d: %+v %v", b, c, err)
		}
		if _, total, err := db.FindSubscribers(ctx, sqlstore.SubscriberFilter{Limit: 1}); err != nil || total != (b+1)*per {
			t.Fatalf("after batch %d readers see %d subscribers (%v)", b, total, err)
		}
	}
	im.End()
	if st, err := os.Stat(path + "-wal"); err != nil || st.Size() != 0 {
		t.Fatalf("WAL after the import: %v %v, want it truncated", st, err)
	}
	subs, _, err := db.FindSubscribers(ctx, sqlstore.SubscriberFilter{Email: "reader-7-9@example.com"})
	if err != nil || len(subs) != 1 {
		t.Fatalf("%v %v", subs, err)
	}
	ev, _ := db.Consents(ctx, subs[0].ID)
	if len(ev) != 2 || !ev[0].CreatedAt.Equal(at) || ev[0].IP != "192.0.2.9" || !strings.Contains(ev[1].Detail, "s.csv line 2709") {
		t.Fatalf("consent events: %+v", ev)
	}
}

// Mailchimp's 10 connections are leased in the database: no eleventh, a
// release by another holder changes nothing, and a lease ends by itself.
func TestMailchimpSlots(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		now := time.Now().UTC()
		db.Now = func() time.Time { return now }
		seen := map[int]bool{}
		for i := 0; i < 10; i++ {
			slot, ok, err := mcstore.New(db).AcquireMailchimpSlot(ctx, fmt.Sprintf("p/%d", i), time.Minute)
			if err != nil || !ok || seen[slot] {
				t.Fatalf("lease %d: slot %d %v %v", i, slot, ok, err)
			}
			seen[slot] = true
		}
		if _, ok, err := mcstore.New(db).AcquireMailchimpSlot(ctx, "p/10", time.Minute); ok || err != nil {
			t.Fatalf("an eleventh connection: %v %v", ok, err)
		}
		if err := mcstore.New(db).ReleaseMailchimpSlot(ctx, 3, "someone else"); err != nil {
			t.Fatal(err)
		}
		if _, ok, _ := mcstore.New(db).AcquireMailchimpSlot(ctx, "p/11", time.Minute); ok {
			t.Fatal("released by a holder that did not hold it")
		}
		if err := mcstore.New(db).ReleaseMailchimpSlot(ctx, 3, "p/3"); err != nil {
			t.Fatal(err)
		}
		if slot, ok, _ := mcstore.New(db).AcquireMailchimpSlot(ctx, "p/12", time.Minute); !ok || slot != 3 {
			t.Fatalf("after a release: slot %d %v", slot, ok)
		}
		now = now.Add(time.Minute + time.Second) // a dead process's leases end
		if _, ok, _ := mcstore.New(db).AcquireMailchimpSlot(ctx, "p/13", time.Minute); !ok {
			t.Fatal("leases did not end")
		}
	})
}

// A row naming one list twice (an interest group mapped to the list the
// import is for) subscribes once.
func TestImportBatchListNamedTwice(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		l := mustList(t, db, "daily", herald.Double, herald.Public)
		rows := []sqlstore.ImportRow{{File: "s.csv", Line: 2, Email: "a@example.com", Key: "a@example.com", Status: herald.StatusConfirmed,
			Lists: []int64{l.ID, l.ID}, OptinAt: time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC)}}
		c, _, err := db.ImportBatch(ctx, []*herald.List{l}, rows)
		if err != nil || c.Added != 1 {
			t.Fatalf("%+v %v", c, err)
		}
		subs, _, _ := db.FindSubscribers(ctx, sqlstore.SubscriberFilter{Email: "a@example.com"})
		if len(subs) != 1 || len(subs[0].Subscriptions) != 1 {
			t.Fatalf("%+v", subs)
		}
	})
}
