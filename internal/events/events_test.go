package events_test

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/events"
	"github.com/heraldhq/herald/internal/service"
	"github.com/heraldhq/herald/internal/sqlstore"
	"github.com/heraldhq/herald/internal/sqlstore/storetest"
)

var opt = sqlstore.SignupOptions{ConfirmWindow: time.Minute, ConfirmTTL: time.Hour}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// recorder is a throwaway consumer: it keeps what it is handed, once the
// batch's transaction has committed.
type recorder struct {
	mu  sync.Mutex
	got []herald.Event
}

func (r *recorder) handle(_ context.Context, tx *sqlstore.Tx, evs []herald.Event) error {
	batch := append([]herald.Event(nil), evs...)
	tx.AfterCommit(func() {
		r.mu.Lock()
		r.got = append(r.got, batch...)
		r.mu.Unlock()
	})
	return nil
}

func (r *recorder) events() []herald.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]herald.Event(nil), r.got...)
}

func list(t *testing.T, db *sqlstore.DB, slug, optin string) *herald.List {
	t.Helper()
	l := &herald.List{Slug: slug, Name: slug, OptIn: optin}
	if err := db.CreateList(context.Background(), l); err != nil {
		t.Fatal(err)
	}
	return l
}

type kindOf struct {
	kind   string
	listID int64
}

func md5hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

// TestThrowawayConsumer adds a consumer without touching any write path
// and checks it sees every event of a reader's life once, in order, with
// what a consumer needs and no personal data.
func TestThrowawayConsumer(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		daily := list(t, db, "daily", herald.Double)
		weekly := list(t, db, "weekly", herald.Single)
		rec := &recorder{}
		d := &events.Dispatcher{DB: db, Log: quiet()}
		d.Register("throwaway", rec.handle)

		res, err := service.New(db).Signup(ctx, service.Caller{}, herald.SignupRequest{Email: "Ada@example.com", Name: "Ada", Lists: []string{"daily", "weekly"}}, opt)
		if err != nil {
			t.Fatal(err)
		}
		id := res.SubscriberID
		if _, err := service.New(db).Confirm(ctx, service.Caller{Meta: sqlstore.Meta{}}, id, 0); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Unsubscribe(ctx, id, []int64{weekly.ID}, sqlstore.Meta{}); err != nil {
			t.Fatal(err)
		}
		newEmail := "lovelace@example.org"
		if _, err := service.New(db).UpdateSubscriber(ctx, service.Caller{}, id, service.SubscriberPatch{Email: &newEmail}); err != nil {
			t.Fatal(err)
		}
		// Handed out halfway: the rest comes after, from the cursor.
		if err := d.Drain(ctx); err != nil {
			t.Fatal(err)
		}
		half := rec.events()
		if err := service.New(db).Erase(ctx, service.Caller{}, id, ""); err != nil {
			t.Fatal(err)
		}
		if err := d.Drain(ctx); err != nil {
			t.Fatal(err)
		}
		if err := d.Drain(ctx); err != nil { // nothing new: nothing again
			t.Fatal(err)
		}
		got := rec.events()
		want := []kindOf{
			{herald.EventCreated, 0},
			{herald.EventSubscriptionChanged, daily.ID}, // pending
			{herald.EventConfirmed, weekly.ID},          // single opt-in
			{herald.EventConfirmed, daily.ID},
			{herald.EventUnsubscribed, weekly.ID},
			{herald.EventProfileChanged, 0},
			{herald.EventSuppressed, 0},
			{herald.EventErased, 0},
		}
		if len(got) != len(want) || len(half) != 6 {
			t.Fatalf("got %d events (%d before the erasure), want %d: %+v", len(got), len(half), len(want), got)
		}
		for i, e := range got {
			if e.Kind != want[i].kind || e.ListID != want[i].listID || e.SubscriberID != id {
				t.Errorf("event %d = %s list %d subscriber %d, want %s list %d subscriber %d", i, e.Kind, e.ListID, e.SubscriberID, want[i].kind, want[i].listID, id)
			}
			if i > 0 && e.ID <= got[i-1].ID {
				t.Errorf("event %d has id %d after %d", i, e.ID, got[i-1].ID)
			}
			for _, pii := range []string{"ada", "lovelace", "example"} {
				if strings.Contains(strings.ToLower(string(e.Data)), pii) {
					t.Errorf("event %s carries personal data: %s", e.Kind, e.Data)
				}
			}
		}
		if d, _ := half[5].Decode(); !d.AddressChanged || d.OldAddressMD5 != md5hex("ada@example.com") || d.Actor != herald.ActorOperator {
			t.Errorf("profile change event = %+v", d)
		}
		if d, _ := got[3].Decode(); d.Actor != herald.ActorReader || d.From != herald.StatusPending || d.To != herald.StatusConfirmed {
			t.Errorf("confirmation event = %+v", d)
		}
		erased, err := got[7].Decode()
		if err != nil {
			t.Fatal(err)
		}
		if erased.AddressMD5 != md5hex("lovelace@example.org") {
			t.Errorf("erased event: address digest %q", erased.AddressMD5)
		}
		if len(erased.Lists) != 2 {
			t.Errorf("erased event lists = %v, want both lists the reader had confirmed", erased.Lists)
		}
		// The profile change named the old address's digest until the
		// erasure emptied it.
		all, err := db.Events(ctx, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range all {
			if e.Kind == herald.EventProfileChanged && string(e.Data) != "{}" {
				t.Errorf("profile change of an erased reader still holds %s", e.Data)
			}
		}
		cur, err := db.EventCursors(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(cur) != 1 || cur[0].Handled != int64(len(want)) || cur[0].Behind != 0 {
			t.Errorf("cursors = %+v", cur)
		}
	})
}

// TestImportedEventPerBatch: an import batch appends one event per list,
// naming its readers.
func TestImportedEventPerBatch(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		l := list(t, db, "daily", herald.Double)
		var rows []sqlstore.ImportRow
		for i := range 5 {
			e := fmt.Sprintf("imp%d@example.com", i)
			st := herald.StatusConfirmed
			if i == 4 {
				st = herald.StatusUnsubscribed
			}
			rows = append(rows, sqlstore.ImportRow{Email: e, Key: e, Status: st, Lists: []int64{l.ID}})
		}
		if _, _, err := db.ImportBatch(ctx, []*herald.List{l}, rows); err != nil {
			t.Fatal(err)
		}
		evs, err := db.Events(ctx, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != 1 || evs[0].Kind != herald.EventImported || evs[0].ListID != l.ID {
			t.Fatalf("events = %+v", evs)
		}
		d, err := evs[0].Decode()
		if err != nil {
			t.Fatal(err)
		}
		if len(d.Subscribers) != 5 || len(d.Confirmed) != 4 {
			t.Errorf("imported event = %+v", d)
		}
	})
}

// TestHandlerErrorRedelivers: a failed batch rolls back with the cursor
// and comes again whole; what the failed attempt wrote is gone.
func TestHandlerErrorRedelivers(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		list(t, db, "daily", herald.Single)
		for i := range 3 {
			if _, err := service.New(db).Signup(ctx, service.Caller{}, herald.SignupRequest{Email: fmt.Sprintf("r%d@example.com", i), Lists: []string{"daily"}}, opt); err != nil {
				t.Fatal(err)
			}
		}
		if err := db.Write(ctx, func(tx *sqlstore.Tx) error {
			_, err := tx.Exec(ctx, `CREATE TABLE evtest_effects (event_id BIGINT PRIMARY KEY)`)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		fail := true
		calls := 0
		h := func(ctx context.Context, tx *sqlstore.Tx, evs []herald.Event) error {
			calls++
			for _, e := range evs {
				if _, err := tx.Exec(ctx, `INSERT INTO evtest_effects (event_id) VALUES (?)`, e.ID); err != nil {
					return err
				}
			}
			if fail {
				fail = false
				return errors.New("boom")
			}
			return nil
		}
		d := &events.Dispatcher{DB: db, Log: quiet()}
		d.Register("flaky", h)
		if err := d.Drain(ctx); err == nil {
			t.Fatal("first drain: want the handler's error")
		}
		if err := d.Drain(ctx); err != nil {
			t.Fatal(err) // a conflict here: the failed attempt's writes stayed
		}
		var n int
		if err := db.Read(ctx, func(tx *sqlstore.Tx) error {
			return tx.QueryRow(ctx, `SELECT COUNT(*) FROM evtest_effects`).Scan(&n)
		}); err != nil {
			t.Fatal(err)
		}
		if n != 6 || calls != 2 { // created + confirmed, three times
			t.Fatalf("%d effects after %d calls, want 6 after 2", n, calls)
		}
	})
}

// TestCursorSurvivesRestart: a new dispatcher on a reopened store goes on
// from the cursor.
func TestCursorSurvivesRestart(t *testing.T) {
	for name, u := range storetest.URLs(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			db := storetest.Open(t, u)
			list(t, db, "daily", herald.Single)
			signup := func(db *sqlstore.DB, i int) {
				if _, err := service.New(db).Signup(ctx, service.Caller{}, herald.SignupRequest{Email: fmt.Sprintf("r%d@example.com", i), Lists: []string{"daily"}}, opt); err != nil {
					t.Fatal(err)
				}
			}
			signup(db, 1)
			r1 := &recorder{}
			d := &events.Dispatcher{DB: db, Log: quiet()}
			d.Register("audit", r1.handle)
			if err := d.Drain(ctx); err != nil {
				t.Fatal(err)
			}
			db.Close()
			db2 := storetest.Open(t, u)
			signup(db2, 2)
			r2 := &recorder{}
			d2 := &events.Dispatcher{DB: db2, Log: quiet()}
			d2.Register("audit", r2.handle)
			if err := d2.Drain(ctx); err != nil {
				t.Fatal(err)
			}
			a, b := r1.events(), r2.events()
			if len(a) != 2 || len(b) != 2 || b[0].ID <= a[1].ID {
				t.Fatalf("before restart %+v, after %+v", a, b)
			}
		})
	}
}

func pgURL(t *testing.T) string {
	t.Helper()
	base := os.Getenv("HERALD_TEST_POSTGRES_URL")
	if base == "" {
		t.Skip("HERALD_TEST_POSTGRES_URL not set")
	}
	return storetest.PostgresSchema(t, base)
}

// waitCaughtUp waits until every consumer has handled every event.
func waitCaughtUp(t *testing.T, db *sqlstore.DB) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		cur, err := db.EventCursors(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(cur) == 1 && cur[0].Behind == 0 && cur[0].Handled > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("consumer did not catch up: %+v", cur)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestConcurrentWritersPostgres: writers commit concurrently while a
// consumer reads; it must see every event exactly once, in id order.
// PostgreSQL hands out identity values at insert and commits transactions
// in any order, so a cursor over ids would skip the events of a
// transaction that took a lower id and committed after a higher one was
// read — unless the store makes ids follow commits, as it does.
func TestConcurrentWritersPostgres(t *testing.T) {
	u := pgURL(t)
	db := storetest.Open(t, u)
	ctx := context.Background()
	list(t, db, "daily", herald.Single)
	rec := &recorder{}
	d := &events.Dispatcher{DB: db, Log: quiet(), Poll: time.Millisecond, Batch: 7}
	d.Register("audit", rec.handle)
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { _ = d.Run(runCtx); close(done) }()

	const writers, each = 8, 60
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				// A signup is a grouped write; an unsubscribe a plain one.
				res, err := service.New(db).Signup(ctx, service.Caller{}, herald.SignupRequest{Email: fmt.Sprintf("w%d-%d@example.com", w, i), Lists: []string{"daily"}}, opt)
				if err != nil {
					t.Error(err)
					return
				}
				if _, err := db.Unsubscribe(ctx, res.SubscriberID, nil, sqlstore.Meta{}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	waitCaughtUp(t, db)
	stop()
	<-done
	all, err := db.Events(ctx, 0, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if want := writers * each * 3; len(all) != want {
		t.Fatalf("%d events in the table, want %d", len(all), want)
	}
	got := rec.events()
	if len(got) != len(all) {
		t.Fatalf("consumer saw %d of %d events", len(got), len(all))
	}
	for i := range got {
		if got[i].ID != all[i].ID {
			t.Fatalf("event %d: consumer saw id %d, table has %d", i, got[i].ID, all[i].ID)
		}
	}
}

// TestTwoProcessesPostgres: two stores ("processes") on one database run
// dispatchers for the same consumer while both take signups; every event is
// handled once in all.
func TestTwoProcessesPostgres(t *testing.T) {
	u := pgURL(t)
	ctx := context.Background()
	dbs := []*sqlstore.DB{storetest.Open(t, u), storetest.Open(t, u)}
	list(t, dbs[0], "daily", herald.Single)
	// Each handled event is a row keyed by the event id: a second hand-out
	// of an event would fail its batch with a conflict.
	if err := dbs[0].Write(ctx, func(tx *sqlstore.Tx) error {
		_, err := tx.Exec(ctx, `CREATE TABLE evtest_handled (event_id BIGINT PRIMARY KEY, process INTEGER NOT NULL)`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	conflicts := 0
	runCtx, stop := context.WithCancel(ctx)
	var running sync.WaitGroup
	for p, db := range dbs {
		d := &events.Dispatcher{DB: db, Log: quiet(), Poll: time.Millisecond, Batch: 5, Backoff: time.Millisecond}
		d.Register("audit", func(ctx context.Context, tx *sqlstore.Tx, evs []herald.Event) error {
			for _, e := range evs {
				if _, err := tx.Exec(ctx, `INSERT INTO evtest_handled (event_id, process) VALUES (?, ?)`, e.ID, p); err != nil {
					mu.Lock()
					conflicts++
					mu.Unlock()
					return err
				}
			}
			return nil
		})
		running.Add(1)
		go func() { defer running.Done(); _ = d.Run(runCtx) }()
	}
	var wg sync.WaitGroup
	for w := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			db := dbs[w%2]
			for i := range 40 {
				if _, err := service.New(db).Signup(ctx, service.Caller{}, herald.SignupRequest{Email: fmt.Sprintf("p%d-%d@example.com", w, i), Lists: []string{"daily"}}, opt); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	waitCaughtUp(t, dbs[0])
	stop()
	running.Wait()
	var handled, total int
	var byProcess [2]int
	if err := dbs[0].Read(ctx, func(tx *sqlstore.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM events`).Scan(&total); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM evtest_handled`).Scan(&handled); err != nil {
			return err
		}
		for p := range byProcess {
			if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM evtest_handled WHERE process = ?`, p).Scan(&byProcess[p]); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if total != 6*40*2 || handled != total || conflicts != 0 {
		t.Fatalf("%d events, %d handled, %d handed out twice", total, handled, conflicts)
	}
	t.Logf("events handled by process: %v", byProcess)
}

// TestSkipWhenIdle: a consumer that says nothing matters to it now has its
// cursor moved past the events unread; it gets the later ones once it
// cares again.
func TestSkipWhenIdle(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		list(t, db, "daily", herald.Single)
		signup := func(i int) {
			if _, err := service.New(db).Signup(ctx, service.Caller{}, herald.SignupRequest{Email: fmt.Sprintf("s%d@example.com", i), Lists: []string{"daily"}}, opt); err != nil {
				t.Fatal(err)
			}
		}
		idle := true
		rec := &recorder{}
		d := &events.Dispatcher{DB: db, Log: quiet()}
		d.Register("picky", rec.handle, events.SkipWhen(func(context.Context, *sqlstore.Tx) (bool, error) { return idle, nil }))
		signup(1)
		signup(2)
		if err := d.Drain(ctx); err != nil {
			t.Fatal(err)
		}
		if got := rec.events(); len(got) != 0 {
			t.Fatalf("an idle consumer was handed %d events", len(got))
		}
		idle = false
		signup(3)
		if err := d.Drain(ctx); err != nil {
			t.Fatal(err)
		}
		got := rec.events()
		if len(got) != 2 || got[0].Kind != herald.EventCreated {
			t.Fatalf("after caring again: %+v", got)
		}
		cur, err := db.EventCursors(ctx)
		if err != nil || len(cur) != 1 || cur[0].Behind != 0 || cur[0].Handled != 2 {
			t.Fatalf("cursor %+v %v", cur, err)
		}
	})
}
