package mcsync_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/mailchimp"
	"github.com/heraldhq/herald/internal/mcsync"
	"github.com/heraldhq/herald/internal/sqlstore"
	"github.com/heraldhq/herald/internal/sqlstore/storetest"
)

func mustList(t testing.TB, db *sqlstore.DB, slug string) *herald.List {
	t.Helper()
	l := &herald.List{Slug: slug, Name: "List " + slug}
	if err := db.CreateList(context.Background(), l); err != nil {
		t.Fatal(err)
	}
	return l
}

// TestImportGeneratedExport: an export of 100,000 members (subscribed,
// unsubscribed, cleaned, one row in 500 broken) imports with the right
// counts, statuses, suppressions, consent events and group lists; the
// broken rows are reported with file and line; importing it again changes
// nothing.
func TestImportGeneratedExport(t *testing.T) {
	rows := 100_000
	if testing.Short() {
		rows = 5_000
	}
	gen := mcsync.GenOptions{Rows: rows, BrokenEvery: 500}
	path := filepath.Join(t.TempDir(), "export.zip")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	want, err := mcsync.GenerateExport(f, gen)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	valid := want.Subscribed + want.Unsubscribed + want.Cleaned
	storetest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		daily := mustList(t, db, "daily")
		sport := mustList(t, db, "sport")
		opt := mcsync.ImportOptions{List: "daily", Groups: []mcsync.GroupMap{{Column: "Interests", Group: "Sport", List: "sport"}}}
		start := time.Now()
		res, err := mcsync.Import(ctx, db, []string{path}, opt)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: imported %d rows in %v (%.0f rows/s)", db.Dialect(), rows, time.Since(start).Round(time.Millisecond), float64(rows)/time.Since(start).Seconds())
		got := res.ImportCounts
		if got.Rows != valid || got.Added != valid || got.Skipped != want.Broken || got.Unsubscribed != want.Unsubscribed+want.Cleaned ||
			got.Suppressed != want.Cleaned || got.Updated != 0 || got.Refused != 0 {
			t.Fatalf("first import: %+v, generated %+v", got, want)
		}
		if len(res.Notices) != want.Broken || res.NoticesTotal != want.Broken {
			t.Fatalf("%d notices (total %d), want %d", len(res.Notices), res.NoticesTotal, want.Broken)
		}
		for _, n := range res.Notices {
			if !strings.HasPrefix(n.File, "export.zip:") || n.Line < 2 || !strings.Contains(n.Message, "skipped") {
				t.Errorf("notice without file and line: %+v", n)
			}
		}
		count := func(list, status string) int {
			_, total, err := db.FindSubscribers(ctx, sqlstore.SubscriberFilter{List: list, Status: status, Limit: 1})
			if err != nil {
				t.Fatal(err)
			}
			return total
		}
		if n := count("daily", herald.StatusConfirmed); n != want.Subscribed {
			t.Errorf("daily confirmed %d, want %d", n, want.Subscribed)
		}
		if n := count("daily", herald.StatusUnsubscribed); n != want.Unsubscribed+want.Cleaned {
			t.Errorf("daily unsubscribed %d, want %d", n, want.Unsubscribed+want.Cleaned)
		}
		if n := count("sport", herald.StatusConfirmed); n != want.SubscribedSport {
			t.Errorf("sport confirmed %d, want %d", n, want.SubscribedSport)
		}
		_ = sport
		_ = daily
		// A subscribed member: names, merge fields, original consent times.
		i := 0
		for mcsync.GenKind(i) != mailchimp.KindSubscribed || gen.GenBroken(i) {
			i++
		}
		subs, _, _ := db.FindSubscribers(ctx, sqlstore.SubscriberFilter{Email: mcsync.GenEmail(i)})
		if len(subs) != 1 || subs[0].Name != "First0 Last 0" || subs[0].Attributes["Company"] != "Company 0" {
			t.Fatalf("member %d: %+v", i, subs)
		}
		ev, _ := db.Consents(ctx, subs[0].ID)
		if len(ev) != 2 || !ev[0].CreatedAt.Equal(mcsync.GenOptinTime(i)) || ev[0].IP != "198.51.100.1" || ev[0].Kind != herald.ConsentImport ||
			!ev[1].CreatedAt.Equal(mcsync.GenOptinTime(i).Add(5*time.Minute)) || ev[1].IP != "203.0.113.1" {
			t.Fatalf("consent events: %+v", ev)
		}
		// A cleaned member is suppressed.
		for mcsync.GenKind(i) != mailchimp.KindCleaned || gen.GenBroken(i) {
			i++
		}
		if sup, _ := db.IsSuppressed(ctx, mcsync.GenEmail(i)); !sup {
			t.Errorf("cleaned member %d is not suppressed", i)
		}

		again, err := mcsync.Import(ctx, db, []string{path}, opt)
		if err != nil {
			t.Fatal(err)
		}
		g := again.ImportCounts
		if g.Unchanged != valid || g.Added+g.Updated+g.Unsubscribed+g.Suppressed+g.Refused != 0 || g.Skipped != want.Broken {
			t.Fatalf("second import changed something: %+v", g)
		}
		if n, _ := db.Consents(ctx, subs[0].ID); len(n) != 2 {
			t.Fatalf("second import added consent events: %d", len(n))
		}

		// The export's round trip (export, import into another list) is in
		// e2e/mailchimp_kill_test.go, on 20,000 rows.
	})
}
