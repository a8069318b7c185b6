package feed_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/feed"
	"github.com/heraldhq/herald/internal/netguard"
	"github.com/heraldhq/herald/internal/sqlstore"
	"github.com/heraldhq/herald/internal/sqlstore/storetest"
)

var loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}

func newPoller(db *sqlstore.DB, allow []netip.Prefix) *feed.Poller {
	return feed.NewPoller(db, allow, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

// pollOnce claims the feed (it must be due or not leased) and polls it.
func pollOnce(t testing.TB, p *feed.Poller, id int64) *sqlstore.Feed {
	t.Helper()
	f, err := p.PollNow(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func rssDoc(items ...string) string {
	return `<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>T</title><link>https://example.com/</link>` +
		strings.Join(items, "") + `</channel></rss>`
}

func rssItem(guid, link, title string) string {
	return fmt.Sprintf(`<item><guid>%s</guid><link>%s</link><title>%s</title></item>`, guid, link, title)
}

// The poller sends the validators back; a 304 stores nothing and keeps
// the feed ok. A feed that reorders, edits and republishes its items
// (under a new guid, or with tracking parameters added to the link) gets
// no duplicate.
func TestPollConditionalAndDedup(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		var doc atomic.Value
		var conditional, full atomic.Int32
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body := doc.Load().(string)
			etag := fmt.Sprintf(`"%d"`, len(body))
			if r.Header.Get("If-None-Match") == etag && r.Header.Get("If-Modified-Since") == "Mon, 02 Mar 2026 10:00:00 GMT" {
				conditional.Add(1)
				w.WriteHeader(http.StatusNotModified)
				return
			}
			full.Add(1)
			w.Header().Set("ETag", etag)
			w.Header().Set("Last-Modified", "Mon, 02 Mar 2026 10:00:00 GMT")
			io.WriteString(w, body)
		}))
		defer srv.Close()
		ctx := context.Background()
		p := newPoller(db, loopback)
		f, err := db.CreateFeed(ctx, srv.URL+"/feed", nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		doc.Store(rssDoc(rssItem("a", "https://example.com/a", "A"), rssItem("b", "https://example.com/b", "B")))
		if f = pollOnce(t, p, f.ID); f.Status != "ok" || f.Items != 2 {
			t.Fatalf("first poll: %+v", f)
		}
		if f = pollOnce(t, p, f.ID); f.Status != "ok" || f.Items != 2 || conditional.Load() != 1 || full.Load() != 1 {
			t.Fatalf("unchanged poll: %+v, %d conditional, %d full", f, conditional.Load(), full.Load())
		}
		before, _, _ := db.FeedItems(ctx, f.ID, 10, 0)
		// Reordered, a edited, b republished under a new guid with a
		// tracking parameter, and a new c.
		doc.Store(rssDoc(rssItem("c", "https://example.com/c", "C"), rssItem("b-again", "https://example.com/b?utm_source=x", "B"),
			rssItem("a", "https://example.com/a", "A (updated)")))
		if f = pollOnce(t, p, f.ID); f.Status != "ok" || f.Items != 3 {
			t.Fatalf("after republishing: %+v", f)
		}
		items, _, _ := db.FeedItems(ctx, f.ID, 10, 0)
		seen := map[string]*sqlstore.FeedItem{}
		for _, it := range items {
			seen[it.GUID] = it
		}
		if seen["a"] == nil || seen["a"].Title != "A (updated)" || seen["b"] == nil || seen["c"] == nil {
			t.Fatalf("items: %+v", items)
		}
		for _, old := range before {
			if !seen[old.GUID].FirstSeenAt.Equal(old.FirstSeenAt) {
				t.Errorf("%s: first seen %v, then %v", old.GUID, old.FirstSeenAt, seen[old.GUID].FirstSeenAt)
			}
		}
	})
}

// Fetches to internal addresses are refused unless allowed, by IP, by a
// name that resolves to one, and by a redirect; last_error says why and
// names the setting.
func TestPollGuarded(t *testing.T) {
	db := storetest.Open(t, storetest.URLs(t)["sqlite"])
	ctx := context.Background()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/to-other-loopback":
			_, port, _ := net.SplitHostPort(r.Host)
			http.Redirect(w, r, "http://127.0.0.2:"+port+"/feed", http.StatusFound)
		case "/to-private":
			http.Redirect(w, r, "http://10.1.2.3/feed", http.StatusFound)
		default:
			io.WriteString(w, rssDoc(rssItem("a", "https://example.com/a", "A")))
		}
	}))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	only1 := []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	for _, c := range []struct {
		name  string
		url   string
		allow []netip.Prefix
		want  string // "" = ok
	}{
		{"loopback IP", srv.URL + "/feed", nil, "refusing to connect to 127.0.0.1: it is a loopback address (add it to HERALD_FETCH_ALLOW"},
		{"loopback name", "http://localhost:" + port + "/feed", nil, "it is a loopback address"},
		{"redirect to loopback", srv.URL + "/to-other-loopback", only1, "refusing to connect to 127.0.0.2: it is a loopback address"},
		{"redirect to private", srv.URL + "/to-private", only1, "refusing to connect to 10.1.2.3: it is a private address"},
		{"allowed", srv.URL + "/feed", loopback, ""},
		{"allowed by name", "http://localhost:" + port + "/feed", loopback, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			f, err := db.CreateFeed(ctx, c.url, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer db.DeleteFeed(ctx, f.ID)
			f = pollOnce(t, newPoller(db, c.allow), f.ID)
			if c.want == "" {
				if f.Status != "ok" || f.Items != 1 {
					t.Fatalf("allowed: %+v", f)
				}
				return
			}
			if f.Status != "error" || !strings.Contains(f.LastError, c.want) || f.Items != 0 || f.Errors != 1 {
				t.Fatalf("got %s %q, want error %q", f.Status, f.LastError, c.want)
			}
		})
	}
}

// Misbehaving servers give a clear feed error, and the feed is backed off.
func TestPollBadServers(t *testing.T) {
	db := storetest.Open(t, storetest.URLs(t)["sqlite"])
	ctx := context.Background()
	release := make(chan struct{})
	defer close(release)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/loop":
			http.Redirect(w, r, "/loop", http.StatusFound)
		case "/huge":
			w.Header().Set("Content-Type", "application/rss+xml")
			io.WriteString(w, `<rss version="2.0"><channel><title>t</title>`)
			chunk := strings.Repeat(rssItem("x", "https://example.com/x", strings.Repeat("x", 900)), 1)
			for i := 0; i < 20000; i++ { // about 20 MB, no Content-Length
				if _, err := io.WriteString(w, chunk); err != nil {
					return
				}
			}
		case "/trickle":
			w.Header().Set("Content-Type", "application/rss+xml")
			for {
				if _, err := io.WriteString(w, " "); err != nil {
					return
				}
				w.(http.Flusher).Flush()
				select {
				case <-release:
					return
				case <-r.Context().Done():
					return
				case <-time.After(50 * time.Millisecond):
				}
			}
		case "/gone":
			http.Error(w, "gone", http.StatusGone)
		case "/html":
			io.WriteString(w, "<!doctype html><title>Home</title><p>hello")
		}
	}))
	defer srv.Close()
	p := newPoller(db, loopback)
	// A short overall timeout cuts the trickle; the others get time enough
	// to show their own error on a slow machine (-race, a busy CI).
	short := feed.NewFetcher(netguard.New(loopback), time.Second)
	long := feed.NewFetcher(netguard.New(loopback), time.Minute)
	for path, want := range map[string]string{
		"/loop":    "too many redirects",
		"/huge":    "larger than the limit of 10 MB",
		"/trickle": "did not send the whole feed in time",
		"/gone":    "the server answered 410 Gone",
		"/html":    "not an RSS, Atom or JSON feed",
	} {
		t.Run(path, func(t *testing.T) {
			p.Fetcher = long
			if path == "/trickle" {
				p.Fetcher = short
			}
			f, err := db.CreateFeed(ctx, srv.URL+path, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			f = pollOnce(t, p, f.ID)
			if f.Status != "error" || !strings.Contains(f.LastError, want) {
				t.Fatalf("%s: %s %q, want %q", path, f.Status, f.LastError, want)
			}
			// Backoff: the second consecutive error waits at least twice the interval.
			polled := *f.LastPolledAt
			f = pollOnce(t, p, f.ID)
			if f.Errors != 2 || f.NextPollAt.Sub(*f.LastPolledAt) < 2*time.Duration(f.Interval) || polled.After(*f.LastPolledAt) {
				t.Fatalf("%s: no backoff: %+v", path, f)
			}
		})
	}
}

func TestBackoff(t *testing.T) {
	for errs, want := range map[int]time.Duration{1: 5 * time.Minute, 2: 10 * time.Minute, 3: 20 * time.Minute, 30: feed.MaxBackoff} {
		got := feed.Backoff(5*time.Minute, errs)
		if got < want || got > want+want/10 {
			t.Errorf("Backoff(5m, %d) = %v, want %v plus up to 10%%", errs, got, want)
		}
	}
	if got := feed.Backoff(24*time.Hour, 5); got < 24*time.Hour {
		t.Errorf("Backoff(24h, 5) = %v, shorter than the interval", got)
	}
}

// The background poller picks up a due feed by itself.
func TestPollerRun(t *testing.T) {
	db := storetest.Open(t, storetest.URLs(t)["sqlite"])
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, rssDoc(rssItem("a", "https://example.com/a", "A")))
	}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	f, err := db.CreateFeed(ctx, srv.URL, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	p := newPoller(db, loopback)
	p.Tick = 10 * time.Millisecond
	done := make(chan error)
	go func() { done <- p.Run(ctx) }()
	for i := 0; ; i++ {
		g, err := db.GetFeed(context.Background(), f.ID)
		if err != nil {
			t.Fatal(err)
		}
		if g.Items == 1 {
			break
		}
		if i == 1000 {
			t.Fatalf("not polled: %+v", g)
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
