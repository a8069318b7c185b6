package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/sqlstore"
	"github.com/heraldhq/herald/internal/sqlstore/storetest"
)

func TestFeedsCRUD(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		db.Now = func() time.Time { return now }
		for _, slug := range []string{"news", "sport"} {
			if err := db.CreateList(ctx, &herald.List{Slug: slug, Name: slug}); err != nil {
				t.Fatal(err)
			}
		}
		f, err := db.CreateFeed(ctx, " https://example.com/feed.xml#top ", []string{"news", "news"}, 0)
		if err != nil {
			t.Fatal(err)
		}
		if f.URL != "https://example.com/feed.xml" || len(f.Lists) != 1 || f.Lists[0] != "news" ||
			time.Duration(f.Interval) != sqlstore.DefaultFeedInterval || f.Status != "ok" || f.LastPolledAt != nil || f.Items != 0 {
			t.Fatalf("created: %+v", f)
		}
		for _, c := range []struct {
			url      string
			lists    []string
			interval time.Duration
			code     string
			field    string
		}{
			{"ftp://example.com/feed", nil, 0, herald.EINVALID, "url"},
			{"/feed.xml", nil, 0, herald.EINVALID, "url"},
			{"https://user:pw@example.com/feed", nil, 0, herald.EINVALID, "url"},
			{"https://example.com/other", nil, 30 * time.Second, herald.EINVALID, "interval"},
			{"https://example.com/other", []string{"nope"}, 0, herald.EINVALID, "lists"},
			{"https://example.com/feed.xml", nil, 0, herald.ECONFLICT, "url"},
		} {
			_, err := db.CreateFeed(ctx, c.url, c.lists, c.interval)
			if herald.ErrorCode(err) != c.code || herald.ErrorField(err) != c.field {
				t.Errorf("CreateFeed(%q, %v, %v) = %v, want %s on %s", c.url, c.lists, c.interval, err, c.code, c.field)
			}
		}
		lists, iv := []string{"sport", "news"}, 10*time.Minute
		f, err = db.UpdateFeed(ctx, f.ID, sqlstore.FeedPatch{Lists: &lists, Interval: &iv})
		if err != nil || len(f.Lists) != 2 || f.Lists[0] != "news" || time.Duration(f.Interval) != iv {
			t.Fatalf("update: %v %+v", err, f)
		}
		all, err := db.ListFeeds(ctx)
		if err != nil || len(all) != 1 || len(all[0].Lists) != 2 {
			t.Fatalf("list: %v %+v", err, all)
		}
		if err := db.DeleteFeed(ctx, f.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := db.GetFeed(ctx, f.ID); herald.ErrorCode(err) != herald.ENOTFOUND {
			t.Fatalf("get after delete: %v", err)
		}
		if err := db.DeleteFeed(ctx, f.ID); herald.ErrorCode(err) != herald.ENOTFOUND {
			t.Fatalf("delete twice: %v", err)
		}
	})
}

func TestFeedClaimAndItems(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		db.Now = func() time.Time { return now }
		f, err := db.CreateFeed(ctx, "https://example.com/feed", nil, 5*time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		// Due at once; claimed once; a second claimer gets nothing until
		// the lease runs out.
		c1, err := db.ClaimDueFeeds(ctx, 10, time.Minute)
		if err != nil || len(c1) != 1 || c1[0].ID != f.ID || c1[0].Interval != 5*time.Minute {
			t.Fatalf("claim: %v %+v", err, c1)
		}
		if c2, err := db.ClaimDueFeeds(ctx, 10, time.Minute); err != nil || len(c2) != 0 {
			t.Fatalf("second claim: %v %+v", err, c2)
		}
		if _, err := db.ClaimFeed(ctx, f.ID, time.Minute); herald.ErrorCode(err) != herald.ECONFLICT {
			t.Fatalf("poll now while leased: %v", err)
		}
		if _, err := db.ClaimFeed(ctx, f.ID+100, time.Minute); herald.ErrorCode(err) != herald.ENOTFOUND {
			t.Fatalf("poll now, no such feed: %v", err)
		}

		pub := now.Add(-time.Hour)
		items := []sqlstore.FeedItem{
			{GUID: "a", Link: "https://example.com/a", Title: "A", Categories: []string{"x"}, PublishedAt: &pub},
			{GUID: "b", Link: "https://example.com/b", Title: "B"},
		}
		n, err := db.RecordFeedPoll(ctx, f.ID, &sqlstore.FeedPollResult{ETag: `"v1"`, LastModified: "Sun, 01 Mar 2026 11:00:00 GMT",
			Title: "Example", Items: items, Next: 5 * time.Minute})
		if err != nil || n != 2 {
			t.Fatalf("record: %v %d", err, n)
		}
		// Not due again before its interval.
		now = now.Add(4 * time.Minute)
		if c, _ := db.ClaimDueFeeds(ctx, 10, time.Minute); len(c) != 0 {
			t.Fatalf("claimed before due: %+v", c)
		}
		now = now.Add(time.Minute)
		c, err := db.ClaimDueFeeds(ctx, 10, time.Minute)
		if err != nil || len(c) != 1 || c[0].ETag != `"v1"` || c[0].LastModified == "" {
			t.Fatalf("claim with validators: %v %+v", err, c)
		}
		// The feed republishes: a edited (same guid), b under a new guid
		// but the same link, and a new c. Only c is new; a keeps its
		// first-seen time.
		firstSeen := now.Add(-5 * time.Minute)
		items = []sqlstore.FeedItem{
			{GUID: "c", Link: "https://example.com/c", Title: "C"},
			{GUID: "a", Link: "https://example.com/a", Title: "A, corrected", Categories: []string{"x", "y"}, PublishedAt: &pub},
			{GUID: "b2", Link: "https://example.com/b", Title: "B"},
		}
		if n, err := db.RecordFeedPoll(ctx, f.ID, &sqlstore.FeedPollResult{Title: "Example", ETag: `"v2"`, Items: items, Next: 5 * time.Minute}); err != nil || n != 1 {
			t.Fatalf("record again: %v %d", err, n)
		}
		got, total, err := db.FeedItems(ctx, f.ID, 50, 0)
		if err != nil || total != 3 || len(got) != 3 {
			t.Fatalf("items: %v %d %+v", err, total, got)
		}
		// Newest first: c and b by first-seen time (no published time), a
		// by its published time, an hour before the first poll.
		if got[0].GUID != "c" || got[1].GUID != "b" || got[2].GUID != "a" {
			t.Fatalf("order: %s %s %s", got[0].GUID, got[1].GUID, got[2].GUID)
		}
		a := got[2]
		if a.Title != "A, corrected" || len(a.Categories) != 2 || !a.FirstSeenAt.Equal(firstSeen) || !a.UpdatedAt.Equal(now) ||
			a.PublishedAt == nil || !a.PublishedAt.Equal(pub) {
			t.Fatalf("edited item: %+v", a)
		}

		// The same document again, later: nothing new, nothing rewritten.
		now = now.Add(time.Minute)
		if n, err := db.RecordFeedPoll(ctx, f.ID, &sqlstore.FeedPollResult{Title: "Example", ETag: `"v2"`, Items: items, Next: 4 * time.Minute}); err != nil || n != 0 {
			t.Fatalf("record the same again: %v %d", err, n)
		}
		again, _, _ := db.FeedItems(ctx, f.ID, 50, 0)
		for i := range again {
			if !again[i].UpdatedAt.Equal(got[i].UpdatedAt) {
				t.Errorf("%s rewritten by an unchanged document: updated %v, then %v", again[i].GUID, got[i].UpdatedAt, again[i].UpdatedAt)
			}
		}

		// An error: status, message and consecutive count; validators kept.
		now = now.Add(5 * time.Minute)
		if _, err := db.ClaimFeed(ctx, f.ID, time.Minute); err != nil {
			t.Fatal(err)
		}
		if _, err := db.RecordFeedPoll(ctx, f.ID, &sqlstore.FeedPollResult{Err: errors.New("the server answered 500"), Next: 10 * time.Minute}); err != nil {
			t.Fatal(err)
		}
		g, err := db.GetFeed(ctx, f.ID)
		if err != nil || g.Status != "error" || g.LastError != "the server answered 500" || g.Errors != 1 || g.Items != 3 ||
			!g.NextPollAt.Equal(now.Add(10*time.Minute)) || g.Title != "Example" {
			t.Fatalf("after error: %v %+v", err, g)
		}
		// A 304 clears the error.
		now = now.Add(10 * time.Minute)
		if c, _ := db.ClaimDueFeeds(ctx, 10, time.Minute); len(c) != 1 || c[0].Errors != 1 || c[0].ETag != `"v2"` {
			t.Fatalf("claim after error: %+v", c)
		}
		if _, err := db.RecordFeedPoll(ctx, f.ID, &sqlstore.FeedPollResult{NotModified: true, Next: 5 * time.Minute}); err != nil {
			t.Fatal(err)
		}
		if g, _ := db.GetFeed(ctx, f.ID); g.Status != "ok" || g.LastError != "" || g.Errors != 0 || g.LastPolledAt == nil || !g.LastPolledAt.Equal(now) {
			t.Fatalf("after 304: %+v", g)
		}
	})
}

// Two processes (two handles on one database) claiming due feeds at once
// never get the same feed.
func TestFeedClaimsDoNotOverlap(t *testing.T) {
	for dialect, url := range storetest.URLs(t) {
		t.Run(dialect, func(t *testing.T) {
			ctx := context.Background()
			a, b := storetest.Open(t, url), storetest.Open(t, url)
			const n = 120
			for i := 0; i < n; i++ {
				if _, err := a.CreateFeed(ctx, fmt.Sprintf("https://example.com/%d", i), nil, 0); err != nil {
					t.Fatal(err)
				}
			}
			claims := make(chan int64, 2*n)
			var wg sync.WaitGroup
			for _, db := range []*sqlstore.DB{a, b, a, b} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						got, err := db.ClaimDueFeeds(ctx, 7, time.Minute)
						if err != nil {
							t.Error(err)
							return
						}
						if len(got) == 0 {
							return
						}
						for _, fp := range got {
							claims <- fp.ID
						}
					}
				}()
			}
			wg.Wait()
			close(claims)
			seen := map[int64]bool{}
			for id := range claims {
				if seen[id] {
					t.Fatalf("feed %d claimed twice", id)
				}
				seen[id] = true
			}
			if len(seen) != n {
				t.Fatalf("%d of %d feeds claimed", len(seen), n)
			}
		})
	}
}

// A feed deleted while it was being polled: the poll's outcome is dropped.
func TestFeedDeletedDuringPoll(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		f, err := db.CreateFeed(ctx, "https://example.com/feed", nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.ClaimFeed(ctx, f.ID, time.Minute); err != nil {
			t.Fatal(err)
		}
		if err := db.DeleteFeed(ctx, f.ID); err != nil {
			t.Fatal(err)
		}
		r := &sqlstore.FeedPollResult{Items: []sqlstore.FeedItem{{GUID: "a", Title: "A"}}, Next: time.Minute}
		if n, err := db.RecordFeedPoll(ctx, f.ID, r); err != nil || n != 0 {
			t.Fatalf("record after delete: %v %d", err, n)
		}
	})
}

// The feed's URL changed while it was being polled: the old URL's outcome
// is dropped and the feed stays due.
func TestFeedURLChangedDuringPoll(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		f, err := db.CreateFeed(ctx, "https://example.com/old", nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		fp, err := db.ClaimFeed(ctx, f.ID, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		u := "https://example.com/new"
		if _, err := db.UpdateFeed(ctx, f.ID, sqlstore.FeedPatch{URL: &u}); err != nil {
			t.Fatal(err)
		}
		r := &sqlstore.FeedPollResult{URL: fp.URL, ETag: `"old"`, Items: []sqlstore.FeedItem{{GUID: "a", Title: "A"}}, Next: time.Hour}
		if n, err := db.RecordFeedPoll(ctx, f.ID, r); err != nil || n != 0 {
			t.Fatalf("record: %v %d", err, n)
		}
		due, err := db.ClaimDueFeeds(ctx, 5, time.Minute)
		if err != nil || len(due) != 1 || due[0].URL != u || due[0].ETag != "" {
			t.Fatalf("after the change: %v %+v", err, due)
		}
	})
}
