package sqlstore_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/service"
	"github.com/heraldhq/herald/internal/sqlstore"
	"github.com/heraldhq/herald/internal/sqlstore/storetest"
)

func noOrphans(t *testing.T, db *sqlstore.DB) {
	t.Helper()
	o, err := db.CountOrphans(context.Background())
	if err != nil || len(o) != 0 {
		t.Fatalf("orphans: %v %v", o, err)
	}
}

// Subscriptions and consent events go with their subscriber or list, on
// PostgreSQL too, which keeps these references in code (refs.go).
func TestErasureAndListDeletionTakeTheirRows(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		a := mustList(t, db, "a", herald.Double, herald.Public)
		b := mustList(t, db, "b", herald.Single, herald.Public)
		var ids []int64
		for i := 0; i < 10; i++ {
			res, err := service.New(db).Signup(ctx, service.Caller{}, herald.SignupRequest{Email: fmt.Sprintf("r%d@example.com", i), Lists: []string{"a", "b"}, IP: "192.0.2.1"}, sqlstore.SignupOptions{})
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, res.SubscriberID)
		}
		at := time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC)
		var rows []sqlstore.ImportRow
		for i := 5; i < 15; i++ { // five of them known already
			e := fmt.Sprintf("r%d@example.com", i)
			rows = append(rows, sqlstore.ImportRow{File: "s.csv", Line: i, Email: e, Key: e, Status: herald.StatusConfirmed, Lists: []int64{a.ID}, OptinAt: at})
		}
		if c, _, err := db.ImportBatch(ctx, []*herald.List{a}, rows); err != nil || c.Added != 5 || c.Updated != 5 {
			t.Fatalf("import: %+v %v", c, err)
		}
		for _, e := range []string{"r6@example.com", "r12@example.com"} {
			subs, _, err := db.FindSubscribers(ctx, sqlstore.SubscriberFilter{Email: e})
			if err != nil || len(subs) != 1 || subs[0].Subscriptions[0].ListID != a.ID || subs[0].Subscriptions[0].Status != herald.StatusConfirmed {
				t.Fatalf("%s after the import: %+v %v", e, subs, err)
			}
			if ev, _ := db.Consents(ctx, subs[0].ID); ev[len(ev)-1].Kind != herald.ConsentImport {
				t.Fatalf("%s: consent events %+v", e, ev)
			}
		}
		for _, id := range ids[3:8] {
			if err := service.New(db).Erase(ctx, service.Caller{}, id, ""); err != nil {
				t.Fatal(err)
			}
		}
		noOrphans(t, db)
		if err := db.DeleteList(ctx, "b"); err != nil {
			t.Fatal(err)
		}
		noOrphans(t, db)
		s, err := db.GetSubscriber(ctx, ids[0])
		if err != nil || len(s.Subscriptions) != 1 || s.Subscriptions[0].ListID != a.ID {
			t.Fatalf("after deleting list b: %+v %v", s, err)
		}
		// Rows naming a list that is gone are refused.
		if _, _, err := db.ImportBatch(ctx, []*herald.List{a, b}, rows[:1]); herald.ErrorCode(err) != herald.ENOTFOUND {
			t.Fatalf("import into a deleted list: %v", err)
		}
	})
}

// Readers confirming, leaving and changing their lists while others erase
// them leave no subscription or consent event behind: the statements that
// add them hold the subscriber as a foreign key would (PostgreSQL).
func TestConcurrentErasureLeavesNoOrphans(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		mustList(t, db, "a", herald.Double, herald.Public)
		b := mustList(t, db, "b", herald.Single, herald.Public)
		const n = 120
		ids := make([]int64, n)
		for i := range ids {
			res, err := service.New(db).Signup(ctx, service.Caller{}, herald.SignupRequest{Email: fmt.Sprintf("c%d@example.com", i), Lists: []string{"a"}}, sqlstore.SignupOptions{})
			if err != nil {
				t.Fatal(err)
			}
			ids[i] = res.SubscriberID
		}
		var wg sync.WaitGroup
		for w := 0; w < 4; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for _, i := range rand.Perm(n) {
					id, m := ids[i], sqlstore.Meta{Actor: herald.ActorReader, IP: "192.0.2.7"}
					switch i % 3 {
					case 0:
						if nonce, err := db.ConfirmNonce(ctx, id); err == nil {
							_, _ = service.New(db).Confirm(ctx, service.Caller{Meta: m}, id, nonce)
						}
					case 1:
						_, _ = service.New(db).ChangePreferences(ctx, service.Caller{Meta: m}, id, service.Preferences{Lists: []string{"a", "b"}}, sqlstore.SignupOptions{})
					default:
						_, _ = db.Unsubscribe(ctx, id, []int64{b.ID}, m)
					}
				}
			}()
		}
		for w := 0; w < 2; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for _, i := range rand.Perm(n) {
					if i%2 == 0 {
						_ = service.New(db).Erase(ctx, service.Caller{}, ids[i], "")
					}
				}
			}()
		}
		wg.Wait()
		noOrphans(t, db)
	})
}
