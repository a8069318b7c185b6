package feed

import (
	"net/url"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// FuzzParse checks the feed-to-item boundary: whatever the document, Parse
// does not panic, and every item it returns is fit to store and show: an
// identity, valid UTF-8 text without control characters within the size
// limits, http(s) links without fragment or tracking parameters, no two
// items with one guid or one link. Seeds are in testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	f.Add([]byte(`<rss version="2.0"><channel><item><guid>1</guid><title>x</title></item></channel></rss>`), "application/rss+xml")
	f.Fuzz(func(t *testing.T, body []byte, contentType string) {
		p, err := Parse(body, contentType, base)
		if err != nil {
			if !utf8.ValidString(err.Error()) {
				t.Fatalf("error is not valid UTF-8: %q", err)
			}
			return
		}
		if !utf8.ValidString(p.Title) || len(p.Title) > maxTitle {
			t.Fatalf("feed title %q", p.Title)
		}
		if len(p.Items) > MaxItems {
			t.Fatalf("%d items", len(p.Items))
		}
		guids, links := map[string]bool{}, map[string]bool{}
		for _, it := range p.Items {
			if it.GUID == "" || len(it.GUID) > maxGUID || !utf8.ValidString(it.GUID) || guids[it.GUID] {
				t.Fatalf("guid %q (repeated: %v)", it.GUID, guids[it.GUID])
			}
			guids[it.GUID] = true
			if it.Link != "" {
				if links[it.Link] {
					t.Fatalf("link %q twice", it.Link)
				}
				links[it.Link] = true
			}
			checkURL(t, "link", it.Link, true)
			checkURL(t, "image", it.Image, false)
			for name, s := range map[string]string{"title": it.Title, "summary": it.Summary, "author": it.Author} {
				checkText(t, name, s)
			}
			if len(it.Title) > maxTitle || len(it.Summary) > maxSummary || len(it.Author) > maxAuthor || len(it.Categories) > maxCategories {
				t.Fatalf("over a limit: %+v", it)
			}
			for _, c := range it.Categories {
				checkText(t, "category", c)
				if c == "" || len(c) > maxCategory {
					t.Fatalf("category %q", c)
				}
			}
			if it.PublishedAt != nil && (it.PublishedAt.Year() < 1970 || it.PublishedAt.Year() > 9999) {
				t.Fatalf("published %v", it.PublishedAt)
			}
		}
	})
}

func checkText(t *testing.T, name, s string) {
	t.Helper()
	if !utf8.ValidString(s) || s != strings.TrimSpace(s) {
		t.Fatalf("%s %q: not valid UTF-8 or not trimmed", name, s)
	}
	for _, r := range s {
		if unicode.IsControl(r) || r == '\n' {
			t.Fatalf("%s %q: control character %U", name, s, r)
		}
	}
}

func checkURL(t *testing.T, name, s string, canonical bool) {
	t.Helper()
	if s == "" {
		return
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || len(s) > maxLink {
		t.Fatalf("%s %q: not an absolute http(s) URL", name, s)
	}
	if !canonical {
		return
	}
	if strings.Contains(s, "#") {
		t.Fatalf("%s %q has a fragment", name, s)
	}
	for k := range u.Query() {
		if isTracking(k) {
			t.Fatalf("%s %q keeps the tracking parameter %q", name, s, k)
		}
	}
}
