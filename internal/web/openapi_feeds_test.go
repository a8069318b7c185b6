package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"
)

// feedsConformance exercises the feed routes for TestOpenAPIServer, with a
// feed served on loopback (the instance allows 127.0.0.1/32).
func feedsConformance(t *testing.T, c *checker) {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("If-None-Match") == `"v1"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("ETag", `"v1"`)
		w.Header().Set("Content-Type", "application/rss+xml")
		_, _ = w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Example &amp; Co</title><link>https://example.com/</link>
<item><guid>one</guid><title>First &lt;b&gt;story&lt;/b&gt;</title><link>https://example.com/1?utm_source=rss&amp;id=1#top</link>
<description>&lt;p&gt;Hello &lt;i&gt;world&lt;/i&gt;&lt;/p&gt;</description><category>News</category><pubDate>Mon, 02 Mar 2026 10:00:00 GMT</pubDate>
<enclosure url="https://example.com/1.jpg" type="image/jpeg" length="1"/></item>
<item><guid>two</guid><title>Second</title><link>https://example.com/2</link><pubDate>Mon, 02 Mar 2026 11:00:00 GMT</pubDate></item>
</channel></rss>`))
	}))
	defer srv.Close()

	c.do(request{method: "POST", tmpl: "/lists", path: "/lists", body: map[string]any{"slug": "feed-news", "name": "Feed news"}}, 201)
	f := c.do(request{method: "POST", tmpl: "/feeds", path: "/feeds", body: map[string]any{"url": srv.URL + "/feed.xml", "lists": []string{"feed-news"}, "interval": "10m"}}, 201)
	if get(f, "interval") != "10m" || get(f, "status") != "ok" || get(f, "last_polled_at") != nil {
		t.Fatalf("created feed: %v", f)
	}
	id := string(get(f, "id").(json.Number))
	c.fail(request{method: "POST", tmpl: "/feeds", path: "/feeds", body: map[string]any{"url": srv.URL + "/feed.xml"}}, 409, "url")
	c.fail(request{method: "POST", tmpl: "/feeds", path: "/feeds", body: map[string]any{"url": "file:///etc/passwd"}}, 422, "url")
	c.fail(request{method: "POST", tmpl: "/feeds", path: "/feeds", body: map[string]any{"url": srv.URL + "/x", "interval": "30s"}}, 422, "interval")
	c.fail(request{method: "POST", tmpl: "/feeds", path: "/feeds", body: map[string]any{"url": srv.URL + "/x", "interval": "soon"}}, 422, "interval")
	c.fail(request{method: "POST", tmpl: "/feeds", path: "/feeds", body: map[string]any{"url": srv.URL + "/x", "lists": []string{"no-such-list"}}}, 422, "lists")

	// The feed is due at once: wait for the background poller to read it,
	// so that poll now below does not meet its lease.
	for i := 0; get(c.do(request{method: "GET", tmpl: "/feeds/{id}", path: "/feeds/" + id}, 200), "last_polled_at") == nil; i++ {
		if i == 600 {
			t.Fatal("the background poller did not poll the new feed within a minute")
		}
		time.Sleep(100 * time.Millisecond)
	}
	polled := c.do(request{method: "POST", tmpl: "/feeds/{id}/poll", path: "/feeds/" + id + "/poll"}, 200)
	if get(polled, "status") != "ok" || get(polled, "items") != json.Number("2") || get(polled, "title") != "Example & Co" || get(polled, "last_polled_at") == nil {
		t.Fatalf("after poll: %v", polled)
	}
	// Unchanged (304): still two items, still ok.
	polled = c.do(request{method: "POST", tmpl: "/feeds/{id}/poll", path: "/feeds/" + id + "/poll"}, 200)
	if get(polled, "status") != "ok" || get(polled, "items") != json.Number("2") {
		t.Fatalf("after second poll: %v", polled)
	}
	items := c.do(request{method: "GET", tmpl: "/feeds/{id}/items", path: "/feeds/" + id + "/items?limit=10"}, 200)
	data, _ := get(items, "data").([]any)
	if len(data) != 2 || get(items, "total") != json.Number("2") {
		t.Fatalf("items: %v", items)
	}
	second, first := data[0], data[1] // newest first
	if get(second, "guid") != "two" || get(first, "title") != "First story" || get(first, "summary") != "Hello world" ||
		get(first, "link") != "https://example.com/1?id=1" || get(first, "image") != "https://example.com/1.jpg" ||
		get(first, "published_at") != "2026-03-02T10:00:00Z" {
		t.Fatalf("items: %v", items)
	}
	c.fail(request{method: "GET", tmpl: "/feeds/{id}/items", path: "/feeds/" + id + "/items?limit=0"}, 400, "limit")

	list := c.do(request{method: "GET", tmpl: "/feeds", path: "/feeds"}, 200)
	if n := len(get(list, "data").([]any)); n != 1 {
		t.Fatalf("GET /feeds: %d feeds", n)
	}
	c.do(request{method: "GET", tmpl: "/feeds/{id}", path: "/feeds/" + id}, 200)
	u := c.do(request{method: "PATCH", tmpl: "/feeds/{id}", path: "/feeds/" + id, body: map[string]any{"interval": "1h", "lists": []string{}}}, 200)
	if get(u, "interval") != "1h" || len(get(u, "lists").([]any)) != 0 {
		t.Fatalf("patched: %v", u)
	}
	c.fail(request{method: "PATCH", tmpl: "/feeds/{id}", path: "/feeds/" + id, body: map[string]any{"url": "javascript:alert(1)"}}, 422, "url")
	other := c.do(request{method: "POST", tmpl: "/feeds", path: "/feeds", body: map[string]any{"url": srv.URL + "/other.xml"}}, 201)
	otherID := string(get(other, "id").(json.Number))
	c.fail(request{method: "PATCH", tmpl: "/feeds/{id}", path: "/feeds/" + otherID, body: map[string]any{"url": srv.URL + "/feed.xml"}}, 409, "url")
	// While another poller holds the feed, poll now is refused.
	n, _ := strconv.ParseInt(otherID, 10, 64)
	for i := 0; ; i++ { // the background poller may hold it for a moment
		_, err := c.in.App.DB.ClaimFeed(context.Background(), n, time.Minute)
		if err == nil {
			break
		}
		if i == 600 {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	c.fail(request{method: "POST", tmpl: "/feeds/{id}/poll", path: "/feeds/" + otherID + "/poll"}, 409, "")
	c.do(request{method: "DELETE", tmpl: "/feeds/{id}", path: "/feeds/" + otherID}, 204)
	c.fail(request{method: "GET", tmpl: "/feeds/{id}", path: "/feeds/abc"}, 404, "")
	c.do(request{method: "DELETE", tmpl: "/feeds/{id}", path: "/feeds/" + id}, 204)
	missing := "/feeds/" + id
	c.fail(request{method: "GET", tmpl: "/feeds/{id}", path: missing}, 404, "")
	c.fail(request{method: "PATCH", tmpl: "/feeds/{id}", path: missing, body: map[string]any{"interval": "5m"}}, 404, "")
	c.fail(request{method: "DELETE", tmpl: "/feeds/{id}", path: missing}, 404, "")
	c.fail(request{method: "POST", tmpl: "/feeds/{id}/poll", path: missing + "/poll"}, 404, "")
	c.fail(request{method: "GET", tmpl: "/feeds/{id}/items", path: missing + "/items"}, 404, "")
}
