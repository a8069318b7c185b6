package sqlstore_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/service"
	"github.com/heraldhq/herald/internal/sqlstore"
	"github.com/heraldhq/herald/internal/sqlstore/storetest"
)

func mustSubscriber(t *testing.T, db *sqlstore.DB, email string, status string, lists ...string) int64 {
	t.Helper()
	s, err := service.New(db).AddSubscriber(context.Background(), service.Caller{}, service.NewSubscriber{Email: email, Lists: lists, Status: status}, opt)
	if err != nil {
		t.Fatal(err)
	}
	return s.ID
}

func mustCampaign(t *testing.T, db *sqlstore.DB, lists ...string) *herald.Campaign {
	t.Helper()
	c := &herald.Campaign{Name: "Issue 1", Subject: "Hello", Body: "Hi {{.Reader.Name}}", Lists: lists}
	if err := db.CreateCampaign(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	return c
}

// claimAll claims every fresh range and returns the recipients by id.
func claimAll(t *testing.T, db *sqlstore.DB, id int64, size int) (map[int64]sqlstore.Recipient, []*sqlstore.Batch) {
	t.Helper()
	ctx := context.Background()
	out := map[int64]sqlstore.Recipient{}
	var batches []*sqlstore.Batch
	for i := 0; ; i++ {
		b, err := db.ClaimBatch(ctx, id, listIDs(t, db, id), size, time.Minute, fmt.Sprint("tok", i))
		if err != nil {
			t.Fatal(err)
		}
		if b == nil {
			return out, batches
		}
		batches = append(batches, b)
		again, err := db.BatchRecipients(ctx, b, listIDs(t, db, id), nil)
		if err != nil || len(again) != len(b.Recipients) {
			t.Fatalf("BatchRecipients: %d, %v; the claim loaded %d", len(again), err, len(b.Recipients))
		}
		for _, r := range b.Recipients {
			if _, dup := out[r.SubscriberID]; dup {
				t.Fatalf("recipient %d claimed twice", r.SubscriberID)
			}
			out[r.SubscriberID] = r
		}
	}
}

func TestCampaignRecipientSet(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		mustList(t, db, "a", "single", "public")
		mustList(t, db, "b", "double", "public")
		mustList(t, db, "c", "single", "private")
		both := mustSubscriber(t, db, "both@example.com", "confirmed", "a", "b")
		onlyA := mustSubscriber(t, db, "a@example.com", "confirmed", "a")
		onlyB := mustSubscriber(t, db, "b@example.com", "confirmed", "b")
		mustSubscriber(t, db, "pending@example.com", "pending", "b")
		unsub := mustSubscriber(t, db, "gone@example.com", "confirmed", "a")
		if _, err := db.Unsubscribe(ctx, unsub, nil, sqlstore.Meta{}); err != nil {
			t.Fatal(err)
		}
		mustSubscriber(t, db, "other@example.com", "confirmed", "c")
		erased := mustSubscriber(t, db, "erased@example.com", "confirmed", "a")
		if err := service.New(db).Erase(ctx, service.Caller{}, erased, "test"); err != nil {
			t.Fatal(err)
		}
		bounced := mustSubscriber(t, db, "bounced@example.com", "confirmed", "b")
		if err := db.Suppress(ctx, "Bounced@example.com", "bounce"); err != nil {
			t.Fatal(err)
		}
		// An erased address that signs up again is pending (and suppressed)
		// until it confirms.
		if _, err := service.New(db).Signup(ctx, service.Caller{}, herald.SignupRequest{Email: "erased@example.com", Lists: []string{"a"}}, opt); err != nil {
			t.Fatal(err)
		}

		c := mustCampaign(t, db, "a", "b")
		res, err := db.StartCampaign(ctx, c.ID, nil)
		if err != nil {
			t.Fatal(err)
		}
		if res.Campaign.Status != herald.CampaignRunning || res.Campaign.Stats.Recipients != 3 || res.Campaign.Stats.Pending != 3 {
			t.Fatalf("started: status %s, stats %+v", res.Campaign.Status, res.Campaign.Stats)
		}
		got, batches := claimAll(t, db, c.ID, 2)
		var ids []int64
		for id := range got {
			ids = append(ids, id)
		}
		sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
		want := []int64{both, onlyA, onlyB}
		if fmt.Sprint(ids) != fmt.Sprint(want) {
			t.Fatalf("recipients %v, want %v (bounced %d)", ids, want, bounced)
		}
		if len(batches) != 2 || batches[0].Lo != 1 || batches[0].Hi != onlyA || batches[1].Lo != onlyA+1 {
			t.Errorf("batches %+v %+v", batches[0], batches[1])
		}
		if _, err := db.StartCampaign(ctx, c.ID, nil); herald.ErrorCode(err) != herald.ECONFLICT {
			t.Errorf("second start: %v", err)
		}
	})
}

func TestCampaignClaimSkipsAndCounts(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		mustList(t, db, "a", "single", "public")
		var ids []int64
		for i := range 6 {
			ids = append(ids, mustSubscriber(t, db, fmt.Sprintf("r%d@example.com", i), "confirmed", "a"))
		}
		c := mustCampaign(t, db, "a")
		if _, err := db.StartCampaign(ctx, c.ID, nil); err != nil {
			t.Fatal(err)
		}
		// After the set is fixed: one unsubscribes, one is erased, one suppressed.
		if _, err := db.Unsubscribe(ctx, ids[1], nil, sqlstore.Meta{}); err != nil {
			t.Fatal(err)
		}
		if err := service.New(db).Erase(ctx, service.Caller{}, ids[2], "test"); err != nil {
			t.Fatal(err)
		}
		if err := db.Suppress(ctx, "r3@example.com", "complaint"); err != nil {
			t.Fatal(err)
		}
		got, batches := claimAll(t, db, c.ID, 100)
		skip := map[int64]string{}
		for id, r := range got {
			skip[id] = r.Skip
		}
		if skip[ids[0]] != "" || skip[ids[1]] != "unsubscribed" || skip[ids[2]] != "erased" || skip[ids[3]] != "suppressed" || skip[ids[4]] != "" {
			t.Fatalf("skips %v", skip)
		}
		if got[ids[0]].Email != "r0@example.com" {
			t.Errorf("recipient %+v", got[ids[0]])
		}
		next := time.Now().Add(-time.Second)
		outs := []sqlstore.Outcome{
			{CampaignID: c.ID, SubscriberID: ids[0], Status: herald.DeliverySent, Attempted: true, Reply: "250 ok"},
			{CampaignID: c.ID, SubscriberID: ids[1], Status: herald.DeliverySkipped, Reply: "unsubscribed"},
			{CampaignID: c.ID, SubscriberID: ids[2], Status: herald.DeliverySkipped, Reply: "erased"},
			{CampaignID: c.ID, SubscriberID: ids[3], Status: herald.DeliverySkipped, Reply: "suppressed"},
			{CampaignID: c.ID, SubscriberID: ids[4], Status: herald.DeliveryFailed, Attempted: true, Reply: "550 no"},
			{CampaignID: c.ID, SubscriberID: ids[5], Status: herald.DeliveryRetry, Attempted: true, Reply: "451 later", NextAttemptAt: next},
			// Reported twice: counted once.
			{CampaignID: c.ID, SubscriberID: ids[0], Status: herald.DeliverySent, Attempted: true, Reply: "250 ok"},
		}
		ends := []sqlstore.BatchEnd{{ID: batches[0].ID, LeaseToken: batches[0].LeaseToken}}
		counts, err := db.RecordOutcomes(ctx, outs, ends)
		if err != nil {
			t.Fatal(err)
		}
		if cc := counts[c.ID]; cc.Sent != 1 || cc.Failed != 1 || cc.Skipped != 3 || cc.Retry != 1 {
			t.Fatalf("counts %+v", cc)
		}
		cur, _ := db.GetCampaign(ctx, c.ID)
		if st := cur.Stats; st.Sent != 1 || st.Failed != 1 || st.Skipped != 3 || st.Pending != 1 {
			t.Fatalf("stats %+v", st)
		}
		if done, err := db.FinishIfDone(ctx, c.ID); err != nil || done {
			t.Fatalf("finished with a retry due: %v %v", done, err)
		}
		// The retry is due: claimed alone, then delivered.
		rs, until, err := db.ClaimRetries(ctx, c.ID, c.ListIDs, 10, time.Minute)
		if err != nil || len(rs) != 1 || rs[0].SubscriberID != ids[5] || rs[0].Attempts != 1 || until.Before(time.Now()) {
			t.Fatalf("retries %+v %v %v", rs, until, err)
		}
		if again, _, _ := db.ClaimRetries(ctx, c.ID, c.ListIDs, 10, time.Minute); len(again) != 0 {
			t.Fatalf("a leased retry was claimed again: %+v", again)
		}
		if _, err := db.RecordOutcomes(ctx, []sqlstore.Outcome{{CampaignID: c.ID, SubscriberID: ids[5], Status: herald.DeliverySent, Attempted: true}}, nil); err != nil {
			t.Fatal(err)
		}
		if done, err := db.FinishIfDone(ctx, c.ID); err != nil || !done {
			t.Fatalf("not finished: %v %v", done, err)
		}
		cur, _ = db.GetCampaign(ctx, c.ID)
		if cur.Status != herald.CampaignFinished || cur.FinishedAt == nil {
			t.Fatalf("campaign %+v", cur)
		}
		ds, err := db.Deliveries(ctx, c.ID, sqlstore.DeliveryFilter{})
		if err != nil || len(ds) != 6 || ds[5].Attempts != 2 || ds[5].Status != "sent" || ds[0].LastReply != "250 accepted" || ds[4].LastReply != "550 no" {
			t.Fatalf("ledger %+v %v", ds, err)
		}
		// Resend to the failed one: running again, failed back to pending.
		n, cur, err := db.ResendFailed(ctx, c.ID)
		if err != nil || n != 1 || cur.Status != herald.CampaignRunning || cur.Stats.Failed != 0 || cur.Stats.Pending != 1 {
			t.Fatalf("resend: %d %+v %v", n, cur, err)
		}
		if rs, _, _ := db.ClaimRetries(ctx, c.ID, c.ListIDs, 10, time.Minute); len(rs) != 1 || rs[0].SubscriberID != ids[4] || rs[0].Attempts != 0 {
			t.Fatalf("resend claim %+v", rs)
		}
	})
}

func TestCampaignLeases(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		mustList(t, db, "a", "single", "public")
		for i := range 5 {
			mustSubscriber(t, db, fmt.Sprintf("r%d@example.com", i), "confirmed", "a")
		}
		c := mustCampaign(t, db, "a")
		if _, err := db.StartCampaign(ctx, c.ID, nil); err != nil {
			t.Fatal(err)
		}
		b1, err := db.ClaimBatch(ctx, c.ID, c.ListIDs, 3, 50*time.Millisecond, "first")
		if err != nil || b1 == nil || b1.Reclaimed {
			t.Fatalf("%+v %v", b1, err)
		}
		held, err := db.RenewBatches(ctx, []sqlstore.BatchEnd{{ID: b1.ID, LeaseToken: "first"}}, 50*time.Millisecond)
		if err != nil || len(held) != 1 {
			t.Fatalf("renew: %v %v", held, err)
		}
		time.Sleep(120 * time.Millisecond)
		// The lease ran out: the next claimer takes the range over.
		b2, err := db.ClaimBatch(ctx, c.ID, c.ListIDs, 3, time.Minute, "second")
		if err != nil || b2 == nil || !b2.Reclaimed || b2.ID != b1.ID || b2.Lo != b1.Lo || b2.Hi != b1.Hi {
			t.Fatalf("reclaim: %+v %v", b2, err)
		}
		if held, _ := db.RenewBatches(ctx, []sqlstore.BatchEnd{{ID: b1.ID, LeaseToken: "first"}}, time.Minute); len(held) != 0 {
			t.Fatal("the first holder renewed a range taken over")
		}
		// Released ranges come back at once; paused campaigns hand out nothing.
		if _, err := db.RecordOutcomes(ctx, nil, []sqlstore.BatchEnd{{ID: b2.ID, LeaseToken: "second", Release: true}}); err != nil {
			t.Fatal(err)
		}
		if _, err := db.PauseCampaign(ctx, c.ID); err != nil {
			t.Fatal(err)
		}
		if b, err := db.ClaimBatch(ctx, c.ID, c.ListIDs, 3, time.Minute, "third"); err != nil || b != nil {
			t.Fatalf("claimed from a paused campaign: %+v %v", b, err)
		}
		if _, err := db.ResumeCampaign(ctx, c.ID); err != nil {
			t.Fatal(err)
		}
		b3, err := db.ClaimBatch(ctx, c.ID, c.ListIDs, 3, time.Minute, "third")
		if err != nil || b3 == nil || b3.ID != b1.ID {
			t.Fatalf("released range not reclaimed: %+v %v", b3, err)
		}
		rs, _ := db.BatchRecipients(ctx, b3, listIDs(t, db, c.ID), nil)
		if len(rs) != 3 {
			t.Fatalf("%d recipients in the released range", len(rs))
		}
	})
}

// TestCampaignConcurrentClaims: claimers racing on one campaign never get
// the same recipient (on PostgreSQL they run in parallel).
func TestCampaignConcurrentClaims(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		mustList(t, db, "a", "single", "public")
		if err := db.SeedSubscribers(ctx, "a", 600, "seed"); err != nil {
			t.Fatal(err)
		}
		c := mustCampaign(t, db, "a")
		if _, err := db.StartCampaign(ctx, c.ID, nil); err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		seen := map[int64]int{}
		var wg sync.WaitGroup
		for w := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ; i++ {
					b, err := db.ClaimBatch(ctx, c.ID, c.ListIDs, 25, time.Minute, fmt.Sprint(w, "-", i))
					if err != nil {
						t.Error(err)
						return
					}
					if b == nil {
						return
					}
					rs, err := db.BatchRecipients(ctx, b, c.ListIDs, nil)
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					for _, r := range rs {
						seen[r.SubscriberID]++
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if len(seen) != 600 {
			t.Fatalf("%d distinct recipients claimed, want 600", len(seen))
		}
		for id, n := range seen {
			if n != 1 {
				t.Fatalf("recipient %d claimed %d times", id, n)
			}
		}
	})
}

func TestReserveSends(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		db.Now = func() time.Time { return now }
		interval := 10 * time.Millisecond // 100/s
		var last time.Time
		total := 0
		// Ask for far more than the rate allows: the grants line up one
		// interval apart, never overlapping, whoever asks.
		for i := range 50 {
			start, n, _, err := db.ReserveSends(ctx, 20, interval, 5, 0)
			if err != nil || n != 20 {
				t.Fatal(n, err)
			}
			if i == 0 && !start.Equal(now.Add(-5*interval)) {
				t.Fatalf("first grant at %v, want the burst before now", start)
			}
			if i > 0 && !start.Equal(last) {
				t.Fatalf("grant %d starts at %v, want %v", i, start, last)
			}
			last = start.Add(20 * interval)
			total += n
		}
		// 1000 messages at 100/s: the last may go 9.95 s after the first.
		if got := last.Sub(now.Add(-5 * interval)); got != 10*time.Second {
			t.Fatalf("1000 messages span %v", got)
		}
		// An hourly cap of 30.
		start, n, _, err := db.ReserveSends(ctx, 20, 0, 0, 30)
		if err != nil || n != 20 || !start.Equal(now) {
			t.Fatal(start, n, err)
		}
		_, n, _, _ = db.ReserveSends(ctx, 20, 0, 0, 30)
		_, n2, retry, _ := db.ReserveSends(ctx, 20, 0, 0, 30)
		if n != 10 || n2 != 0 || !retry.After(now.Add(59*time.Minute)) {
			t.Fatalf("hourly cap: granted %d then %d, retry at %v", n, n2, retry)
		}
		now = now.Add(63 * time.Minute)
		if _, n, _, _ := db.ReserveSends(ctx, 20, 0, 0, 30); n != 20 {
			t.Fatalf("an hour later: granted %d", n)
		}
	})
}

func TestMessageIDs(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ids := db.MessageIDs()
		a := ids.Make(7, 123456, "planet.example")
		if a != ids.Make(7, 123456, "planet.example") || a == ids.Make(7, 123457, "planet.example") || a == ids.Make(8, 123456, "planet.example") {
			t.Fatal("Message-IDs are not stable and distinct")
		}
		if len(a) != 26+len("@planet.example") || strings.Contains(a, "123456") {
			t.Fatalf("Message-ID %q", a)
		}
		if c, s, ok := ids.Parse("<" + a + ">"); !ok || c != 7 || s != 123456 {
			t.Fatalf("Parse(%q) = %d %d %v", a, c, s, ok)
		}
		for _, bad := range []string{"", "x@y", "aaaaaaaaaaaaaaaaaaaaaaaaaa@planet.example", a[:25] + "@planet.example"} {
			if _, _, ok := ids.Parse(bad); ok {
				t.Errorf("Parse(%q) accepted", bad)
			}
		}
	})
}

func listIDs(t *testing.T, db *sqlstore.DB, id int64) []int64 {
	t.Helper()
	c, err := db.GetCampaign(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return c.ListIDs
}
