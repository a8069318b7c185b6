package service_test

import (
	"context"
	"testing"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/service"
	"github.com/heraldhq/herald/internal/sqlstore"
	"github.com/heraldhq/herald/internal/sqlstore/storetest"
)

// TestEraseRules: erasure leaves nothing of the reader but the suppression
// of the address, which only their own signup and confirmation lift, on
// every database.
func TestEraseRules(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		svc := service.New(db)
		id, opt := readerFixture(t, db)
		rd := service.Caller{Role: service.RoleReader}
		nonce, err := db.ConfirmNonce(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Confirm(ctx, rd, id, nonce); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			name string
			id   int64
			code string
		}{
			{"unknown subscriber", id + 1000, herald.ENOTFOUND},
			{"the reader", id, ""},
			{"again", id, herald.ENOTFOUND},
		} {
			if err := svc.Erase(ctx, rd, c.id, "erased by reader"); herald.ErrorCode(err) != c.code {
				t.Errorf("%s: %v, want %q", c.name, err, c.code)
			}
		}
		if _, err := db.GetSubscriber(ctx, id); herald.ErrorCode(err) != herald.ENOTFOUND {
			t.Errorf("erased subscriber still there: %v", err)
		}
		if evs, err := db.Consents(ctx, id); herald.ErrorCode(err) != herald.ENOTFOUND || len(evs) != 0 {
			t.Errorf("ledger after erasure: %v %d", err, len(evs))
		}
		if sup, err := db.IsSuppressed(ctx, "ann@example.com"); err != nil || !sup {
			t.Errorf("erased address not suppressed: %v %v", sup, err)
		}
		evs, err := db.Events(ctx, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		if e := evs[len(evs)-1]; e.Kind != herald.EventErased || e.SubscriberID != id {
			t.Errorf("last event %+v", e)
		}
		// Only the reader brings the address back: a signup leaves it
		// pending even on a single opt-in list, their confirmation lifts it.
		res, err := service.New(db).Signup(ctx, service.Caller{}, herald.SignupRequest{Email: "ann@example.com", Lists: []string{"news"}}, opt)
		if err != nil || len(res.Pending) != 1 {
			t.Fatalf("signup after erasure: %v %+v", err, res)
		}
		if nonce, err = db.ConfirmNonce(ctx, res.SubscriberID); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Confirm(ctx, rd, res.SubscriberID, nonce); err != nil {
			t.Fatal(err)
		}
		if sup, err := db.IsSuppressed(ctx, "ann@example.com"); err != nil || sup {
			t.Errorf("confirmed address still suppressed: %v %v", sup, err)
		}
	})
}
