package service_test

import (
	"context"
	"strings"
	"testing"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/service"
	"github.com/heraldhq/herald/internal/sqlstore"
	"github.com/heraldhq/herald/internal/sqlstore/storetest"
)

// TestAddSubscriberRules: an operator's addition validates its input,
// refuses what only the reader may do, and records its consent, on every
// database.
func TestAddSubscriberRules(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		svc := service.New(db)
		_, opt := readerFixture(t, db) // ann@example.com exists
		if err := db.Suppress(ctx, "gone@example.com", "bounced"); err != nil {
			t.Fatal(err)
		}
		op := service.Caller{Role: service.RoleAdmin, Meta: sqlstore.Meta{IP: "198.51.100.1"}}
		big := map[string]any{"x": strings.Repeat("a", 17<<10)}
		for _, c := range []struct {
			name  string
			n     service.NewSubscriber
			code  string
			field string
		}{
			{"bad address", service.NewSubscriber{Email: "nope"}, herald.EINVALID, "email"},
			{"bad name", service.NewSubscriber{Email: "b@example.com", Name: "a\x00b"}, herald.EINVALID, "name"},
			{"large attributes", service.NewSubscriber{Email: "b@example.com", Attributes: big}, herald.EINVALID, "attributes"},
			{"bad status", service.NewSubscriber{Email: "b@example.com", Status: "unsubscribed"}, herald.EINVALID, "status"},
			{"unknown list", service.NewSubscriber{Email: "b@example.com", Lists: []string{"nope"}}, herald.EINVALID, "lists"},
			{"existing address", service.NewSubscriber{Email: "Ann@Example.com"}, herald.ECONFLICT, "email"},
			{"suppressed, confirmed", service.NewSubscriber{Email: "gone@example.com", Lists: []string{"daily"}, Status: herald.StatusConfirmed}, herald.ECONFLICT, "email"},
		} {
			_, err := svc.AddSubscriber(ctx, op, c.n, opt)
			he, _ := err.(*herald.Error)
			if herald.ErrorCode(err) != c.code || he == nil || he.Field != c.field {
				t.Errorf("%s: %#v, want %s on %q", c.name, err, c.code, c.field)
			}
		}
		if _, n, err := db.FindSubscribers(ctx, sqlstore.SubscriberFilter{}); err != nil || n != 1 {
			t.Fatalf("refused additions wrote something: %d subscribers, %v", n, err)
		}
		// Vouched for: confirmed on every list, private ones too.
		s, err := svc.AddSubscriber(ctx, op, service.NewSubscriber{Email: "bo@example.com", Lists: []string{"daily", "hidden"}, Status: herald.StatusConfirmed}, opt)
		if err != nil {
			t.Fatal(err)
		}
		if st := statuses(t, db, s.ID); st["daily"] != herald.StatusConfirmed || st["hidden"] != herald.StatusConfirmed {
			t.Errorf("vouched: %v", st)
		}
		if e := lastConsent(t, db, s.ID); e.Kind != herald.ConsentOperatorAdd || e.Actor != herald.ActorOperator || !strings.HasPrefix(e.Detail, "operator vouched") {
			t.Errorf("ledger of a vouched addition: %+v", e)
		}
		// Pending (the default): double opt-in waits for the reader, single
		// opt-in is confirmed; a suppressed address stays pending everywhere.
		s, err = svc.AddSubscriber(ctx, op, service.NewSubscriber{Email: "cy@example.com", Lists: []string{"daily", "news"}}, opt)
		if err != nil {
			t.Fatal(err)
		}
		if st := statuses(t, db, s.ID); st["daily"] != herald.StatusPending || st["news"] != herald.StatusConfirmed {
			t.Errorf("pending addition: %v", st)
		}
		s, err = svc.AddSubscriber(ctx, op, service.NewSubscriber{Email: "gone@example.com", Lists: []string{"news"}}, opt)
		if err != nil {
			t.Fatal(err)
		}
		if st := statuses(t, db, s.ID); st["news"] != herald.StatusPending {
			t.Errorf("suppressed address on a single opt-in list: %v", st)
		}
		if n, err := db.ConfirmNonce(ctx, s.ID); err != nil || n == 0 {
			t.Errorf("no confirmation pending for the suppressed address: %v", err)
		}
	})
}
