package sqlstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/service"
	"github.com/heraldhq/herald/internal/sqlstore"
	"github.com/heraldhq/herald/internal/sqlstore/storetest"
)

func TestReaderLinks(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		if err := db.CreateList(ctx, &herald.List{Slug: "daily", Name: "Daily", OptIn: herald.Single}); err != nil {
			t.Fatal(err)
		}
		res, err := service.New(db).Signup(ctx, service.Caller{}, herald.SignupRequest{Email: "zoe@example.com", Lists: []string{"daily"}}, sqlstore.SignupOptions{ConfirmTTL: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		id := res.SubscriberID
		mailJobs := func() int {
			t.Helper()
			jobs, err := db.ClaimJobsOf(ctx, 100, time.Minute, []string{sqlstore.JobManageLinkMail})
			if err != nil {
				t.Fatal(err)
			}
			return len(jobs)
		}
		if rb, err := db.LinksRevokedBefore(ctx, id); err != nil || rb != 0 {
			t.Fatalf("never revoked: %d %v", rb, err)
		}
		// A link requested: one mail per window, none for unknown addresses.
		for _, email := range []string{" ZOE@example.com", "zoe@example.com", "nobody@example.com", ""} {
			if err := db.RequestManageLink(ctx, email, time.Hour); err != nil {
				t.Fatal(err)
			}
		}
		if n := mailJobs(); n != 1 {
			t.Fatalf("%d mails queued, want 1", n)
		}
		// Revoking, with and without a mail; the request window holds.
		at, err := db.RevokeLinks(ctx, id, false)
		if err != nil {
			t.Fatal(err)
		}
		if rb, err := db.LinksRevokedBefore(ctx, id); err != nil || rb != at.UnixMilli() {
			t.Fatalf("revoked before %d, want %d (%v)", rb, at.UnixMilli(), err)
		}
		if n := mailJobs(); n != 0 {
			t.Fatalf("revoking without mail queued %d mails", n)
		}
		if err := db.RequestManageLink(ctx, "zoe@example.com", time.Hour); err != nil || mailJobs() != 0 {
			t.Fatalf("a request within the window queued a mail (%v)", err)
		}
		if _, err := db.RevokeLinks(ctx, id, true); err != nil || mailJobs() != 1 {
			t.Fatalf("revoking with a mail (%v)", err)
		}
		if err := db.RequestManageLink(ctx, "zoe@example.com", 0); err != nil || mailJobs() != 1 {
			t.Fatalf("a request with no window (%v)", err)
		}
		if _, err := db.RevokeLinks(ctx, 999999, false); herald.ErrorCode(err) != herald.ENOTFOUND {
			t.Fatalf("revoking for nobody: %v", err)
		}
		// Erasure removes the row with the subscriber; a suppressed address gets nothing.
		if err := service.New(db).Erase(ctx, service.Caller{}, id, "test"); err != nil {
			t.Fatal(err)
		}
		if rb, err := db.LinksRevokedBefore(ctx, id); err != nil || rb != 0 {
			t.Fatalf("after erasure: %d %v", rb, err)
		}
		if err := db.RequestManageLink(ctx, "zoe@example.com", 0); err != nil || mailJobs() != 0 {
			t.Fatalf("a request for an erased address (%v)", err)
		}
	})
}
