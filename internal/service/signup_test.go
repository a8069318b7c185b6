package service_test

import (
	"context"
	"testing"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/service"
	"github.com/heraldhq/herald/internal/sqlstore"
	"github.com/heraldhq/herald/internal/sqlstore/storetest"
)

// TestSignupRules: a signup validates its input, answers alike whatever
// the address's state, lets only the reader's confirmation bring back a
// suppressed address, and throttles confirmation mail, on every database.
func TestSignupRules(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		svc := service.New(db)
		id, opt := readerFixture(t, db) // ann: daily pending, one mail sent
		rd := service.Caller{Role: service.RoleReader}
		for _, c := range []struct {
			name  string
			req   herald.SignupRequest
			field string
		}{
			{"bad address", herald.SignupRequest{Email: "ann@", Lists: []string{"daily"}}, "email"},
			{"bad name", herald.SignupRequest{Email: "bo@example.com", Name: "\u202eevil", Lists: []string{"daily"}}, "name"},
			{"no list", herald.SignupRequest{Email: "bo@example.com"}, "lists"},
			{"private list", herald.SignupRequest{Email: "bo@example.com", Lists: []string{"hidden"}}, "lists"},
			{"unknown list", herald.SignupRequest{Email: "bo@example.com", Lists: []string{"nope"}}, "lists"},
		} {
			_, err := svc.Signup(ctx, rd, c.req, opt)
			he, _ := err.(*herald.Error)
			if herald.ErrorCode(err) != herald.EINVALID || he == nil || he.Field != c.field {
				t.Errorf("%s: %#v, want EINVALID on %q", c.name, err, c.field)
			}
		}
		if _, n, err := db.FindSubscribers(ctx, sqlstore.SubscriberFilter{}); err != nil || n != 1 {
			t.Fatalf("refused signups wrote something: %d subscribers, %v", n, err)
		}
		// The same address again, in other case, within the window: no
		// error, no second mail, the same subscriber.
		res, err := svc.Signup(ctx, rd, herald.SignupRequest{Email: "ANN@example.com", Lists: []string{"daily", "weekly"}}, opt)
		if err != nil || res.SubscriberID != id || res.MailQueued || len(res.Pending) != 2 {
			t.Errorf("repeat signup: %v %+v", err, res)
		}
		// Single opt-in: confirmed at once, with a confirmation in the ledger.
		res, err = svc.Signup(ctx, rd, herald.SignupRequest{Email: "bo@example.com", Lists: []string{"news"}, IP: "192.0.2.9"}, opt)
		if err != nil || len(res.NewlyConfirmed) != 1 || res.MailQueued {
			t.Fatalf("single opt-in: %v %+v", err, res)
		}
		if e := lastConsent(t, db, res.SubscriberID); e.Kind != herald.ConsentConfirm || e.Detail != "single opt-in" || e.IP != "192.0.2.9" || e.Actor != herald.ActorReader {
			t.Errorf("ledger of a single opt-in: %+v", e)
		}
		// A suppressed address: no error (no enumeration), but pending even
		// on a single opt-in list, with a confirmation mail.
		if err := db.Suppress(ctx, "cy@example.com", "complaint"); err != nil {
			t.Fatal(err)
		}
		res, err = svc.Signup(ctx, rd, herald.SignupRequest{Email: "cy@example.com", Lists: []string{"news"}}, opt)
		if err != nil || len(res.Pending) != 1 || len(res.Confirmed) != 0 || !res.MailQueued {
			t.Errorf("suppressed address: %v %+v", err, res)
		}
		// An unsubscribed reader who signs up again is asked to confirm.
		if _, err := svc.ChangePreferences(ctx, rd, res.SubscriberID, service.Preferences{}, opt); err != nil {
			t.Fatal(err)
		}
		if st := statuses(t, db, res.SubscriberID); st["news"] != herald.StatusUnsubscribed {
			t.Fatalf("after leaving: %v", st)
		}
		res, err = svc.Signup(ctx, rd, herald.SignupRequest{Email: "cy@example.com", Lists: []string{"news"}}, opt)
		if err != nil || len(res.Pending) != 1 {
			t.Errorf("signup after unsubscribing: %v %+v", err, res)
		}
	})
}
