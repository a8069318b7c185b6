package service_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/service"
	"github.com/heraldhq/herald/internal/sqlstore"
	"github.com/heraldhq/herald/internal/sqlstore/storetest"
)

func ptr(s string) *string { return &s }

// TestUpdateSubscriberRules: the operator's patch keeps the rules on
// addresses, suppression and consent, on every database.
func TestUpdateSubscriberRules(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		svc := service.New(db)
		for _, slug := range []string{"daily", "hidden"} {
			l := &herald.List{Slug: slug, Name: slug, OptIn: herald.Double}
			if slug == "hidden" {
				l.Visibility = herald.Private
			}
			if err := db.CreateList(ctx, l); err != nil {
				t.Fatal(err)
			}
		}
		opt := sqlstore.SignupOptions{ConfirmWindow: time.Minute, ConfirmTTL: time.Hour}
		res, err := service.New(db).Signup(ctx, service.Caller{}, herald.SignupRequest{Email: "ann@example.com", Lists: []string{"daily"}}, opt)
		if err != nil {
			t.Fatal(err)
		}
		id := res.SubscriberID
		if err := db.Suppress(ctx, "gone@example.com", "bounced"); err != nil {
			t.Fatal(err)
		}
		op := service.Caller{Role: service.RoleAdmin}
		cases := []struct {
			name  string
			patch service.SubscriberPatch
			code  string
			field string
		}{
			{"bad address", service.SubscriberPatch{Email: ptr("not an address")}, herald.EINVALID, "email"},
			{"suppressed address", service.SubscriberPatch{Email: ptr("Gone@example.com")}, herald.ECONFLICT, "email"},
			{"bad status", service.SubscriberPatch{Subscriptions: []service.SubscriptionChange{{List: "daily", Status: "maybe"}}}, herald.EINVALID, "subscriptions"},
			{"unknown list", service.SubscriberPatch{Subscriptions: []service.SubscriptionChange{{List: "nope", Status: "confirmed"}}}, herald.EINVALID, "lists"},
		}
		for _, c := range cases {
			_, err := svc.UpdateSubscriber(ctx, op, id, c.patch)
			if herald.ErrorCode(err) != c.code {
				t.Errorf("%s: got %v, want %s", c.name, err, c.code)
				continue
			}
			var he *herald.Error
			if e, ok := err.(*herald.Error); ok {
				he = e
			}
			if he == nil || he.Field != c.field {
				t.Errorf("%s: error %#v, want field %q", c.name, err, c.field)
			}
		}
		if _, err := svc.UpdateSubscriber(ctx, op, 999999, service.SubscriberPatch{Name: ptr("X")}); herald.ErrorCode(err) != herald.ENOTFOUND {
			t.Errorf("unknown subscriber: %v", err)
		}
		// Nothing of the refused patches was written.
		sub, err := db.GetSubscriber(ctx, id)
		if err != nil || sub.Email != "ann@example.com" {
			t.Fatalf("after refused patches: %v %+v", err, sub)
		}
		// A good patch: a new address, a private list confirmed on the
		// operator's word; the ledger and the events say so.
		sub, err = svc.UpdateSubscriber(ctx, op, id, service.SubscriberPatch{Email: ptr("Ann.Lee@Example.com"),
			Subscriptions: []service.SubscriptionChange{{List: "hidden", Status: herald.StatusConfirmed}}})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.EqualFold(sub.Email, "ann.lee@example.com") || len(sub.Subscriptions) != 2 {
			t.Fatalf("updated: %+v", sub)
		}
		consents, err := db.Consents(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		var kinds []string
		for _, e := range consents {
			kinds = append(kinds, e.Kind)
		}
		if n := len(kinds); n < 3 || kinds[n-2] != herald.ConsentProfileEdit || kinds[n-1] != herald.ConsentPreferences {
			t.Errorf("consent kinds %v", kinds)
		}
		evs, err := db.Events(ctx, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		last := evs[len(evs)-2:]
		if last[0].Kind != herald.EventProfileChanged || last[1].Kind != herald.EventConfirmed {
			t.Errorf("last events %+v", last)
		}
		// A suppressed address cannot be confirmed on an operator's word.
		if err := db.Suppress(ctx, "Ann.Lee@example.com", "complaint"); err != nil {
			t.Fatal(err)
		}
		_, err = svc.UpdateSubscriber(ctx, op, id, service.SubscriberPatch{Subscriptions: []service.SubscriptionChange{{List: "daily", Status: herald.StatusConfirmed}}})
		if herald.ErrorCode(err) != herald.ECONFLICT {
			t.Errorf("confirming a suppressed address: %v", err)
		}
	})
}
