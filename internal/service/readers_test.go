package service_test

import (
	"context"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/service"
	"github.com/heraldhq/herald/internal/sqlstore"
	"github.com/heraldhq/herald/internal/sqlstore/storetest"
)

// readerFixture makes the lists daily (double opt-in), news (single),
// weekly (double) and hidden (private), and signs ann up to daily.
func readerFixture(t *testing.T, db *sqlstore.DB) (int64, sqlstore.SignupOptions) {
	t.Helper()
	ctx := context.Background()
	for _, l := range []*herald.List{
		{Slug: "daily", Name: "Daily", OptIn: herald.Double},
		{Slug: "news", Name: "News", OptIn: herald.Single},
		{Slug: "weekly", Name: "Weekly", OptIn: herald.Double},
		{Slug: "hidden", Name: "Hidden", OptIn: herald.Single, Visibility: herald.Private},
	} {
		if err := db.CreateList(ctx, l); err != nil {
			t.Fatal(err)
		}
	}
	opt := sqlstore.SignupOptions{ConfirmWindow: time.Hour, ConfirmTTL: time.Hour}
	res, err := service.New(db).Signup(ctx, service.Caller{}, herald.SignupRequest{Email: "ann@example.com", Lists: []string{"daily"}}, opt)
	if err != nil || !res.MailQueued {
		t.Fatalf("signup: %v %+v", err, res)
	}
	return res.SubscriberID, opt
}

func statuses(t *testing.T, db *sqlstore.DB, id int64) map[string]string {
	t.Helper()
	s, err := db.GetSubscriber(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, x := range s.Subscriptions {
		out[x.List] = x.Status
	}
	return out
}

func lastConsent(t *testing.T, db *sqlstore.DB, id int64) herald.ConsentEvent {
	t.Helper()
	evs, err := db.Consents(context.Background(), id)
	if err != nil || len(evs) == 0 {
		t.Fatalf("consents: %v %d", err, len(evs))
	}
	return evs[len(evs)-1]
}

// TestConfirmRules: a confirmation link confirms once, only with the
// current nonce, and lifts a suppression, on every database.
func TestConfirmRules(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		svc := service.New(db)
		id, _ := readerFixture(t, db)
		nonce, err := db.ConfirmNonce(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		rd := service.Caller{Role: service.RoleReader, Meta: sqlstore.Meta{IP: "192.0.2.7"}}
		for _, c := range []struct {
			name  string
			id    int64
			nonce uint64
		}{
			{"another nonce", id, nonce + 1},
			{"unknown subscriber", id + 1000, nonce},
		} {
			if _, err := svc.Confirm(ctx, rd, c.id, c.nonce); herald.ErrorCode(err) != herald.EGONE {
				t.Errorf("%s: %v, want EGONE", c.name, err)
			}
		}
		if st := statuses(t, db, id); st["daily"] != herald.StatusPending {
			t.Fatalf("refused links changed something: %v", st)
		}
		if err := db.Suppress(ctx, "ANN@example.com", "bounced"); err != nil {
			t.Fatal(err)
		}
		got, err := svc.Confirm(ctx, rd, id, nonce)
		if err != nil || len(got) != 1 || got[0] != "daily" {
			t.Fatalf("confirm: %v %v", got, err)
		}
		if st := statuses(t, db, id); st["daily"] != herald.StatusConfirmed {
			t.Errorf("after confirm: %v", st)
		}
		if sup, err := db.IsSuppressed(ctx, "ann@example.com"); err != nil || sup {
			t.Errorf("the reader's confirmation did not lift the suppression: %v %v", sup, err)
		}
		if e := lastConsent(t, db, id); e.Kind != herald.ConsentConfirm || e.Actor != herald.ActorReader || e.IP != "192.0.2.7" {
			t.Errorf("ledger: %+v", e)
		}
		evs, err := db.Events(ctx, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		if e := evs[len(evs)-1]; e.Kind != herald.EventConfirmed || e.SubscriberID != id || e.ListID == 0 {
			t.Errorf("last event %+v", e)
		}
		if _, err := svc.Confirm(ctx, rd, id, nonce); herald.ErrorCode(err) != herald.EGONE {
			t.Errorf("a used link: %v, want EGONE", err)
		}
	})
}

// TestPreferencesRules: the manage page leaves what is unticked, joins
// public lists by their opt-in, refuses private and unknown lists, and
// mails at once for the lists it joined, on every database.
func TestPreferencesRules(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		svc := service.New(db)
		id, opt := readerFixture(t, db)
		rd := service.Caller{Role: service.RoleReader, Meta: sqlstore.Meta{Detail: "manage page"}}
		for _, c := range []struct {
			name string
			id   int64
			want []string
			code string
		}{
			{"private list", id, []string{"daily", "hidden"}, herald.EINVALID},
			{"unknown list", id, []string{"nope"}, herald.EINVALID},
			{"unknown subscriber", id + 1000, []string{"daily"}, herald.ENOTFOUND},
		} {
			_, err := svc.ChangePreferences(ctx, rd, c.id, service.Preferences{Lists: c.want}, opt)
			if herald.ErrorCode(err) != c.code {
				t.Errorf("%s: %v, want %s", c.name, err, c.code)
			}
		}
		if st := statuses(t, db, id); len(st) != 1 || st["daily"] != herald.StatusPending {
			t.Fatalf("refused choices changed something: %v", st)
		}
		// Leave daily, join news (single opt-in: confirmed at once).
		res, err := svc.ChangePreferences(ctx, rd, id, service.Preferences{Lists: []string{"news"}}, opt)
		if err != nil {
			t.Fatal(err)
		}
		if res.MailQueued || len(res.NewlyConfirmed) != 1 {
			t.Errorf("joining a single opt-in list: %+v", res)
		}
		if st := statuses(t, db, id); st["daily"] != herald.StatusUnsubscribed || st["news"] != herald.StatusConfirmed {
			t.Errorf("after leave and join: %v", st)
		}
		if e := lastConsent(t, db, id); e.Kind != herald.ConsentPreferences || len(e.Lists) != 1 || e.Lists[0] != "news" || e.DisclosureVersion == 0 {
			t.Errorf("ledger of the join: %+v", e)
		}
		// Join weekly (double) within the hour of the signup's mail: the
		// reader acts from their own link, so the mail goes at once.
		res, err = svc.ChangePreferences(ctx, rd, id, service.Preferences{Lists: []string{"news", "weekly"}}, opt)
		if err != nil {
			t.Fatal(err)
		}
		if !res.MailQueued || len(res.Pending) != 1 || res.Pending[0] != "weekly" {
			t.Errorf("joining a double opt-in list: %+v", res)
		}
		// A signup form in the same hour is throttled.
		sres, err := service.New(db).Signup(ctx, service.Caller{}, herald.SignupRequest{Email: "ann@example.com", Lists: []string{"daily"}}, opt)
		if err != nil || sres.MailQueued {
			t.Errorf("signup within the window: %v %+v", err, sres)
		}
	})
}
