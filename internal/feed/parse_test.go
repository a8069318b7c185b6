package feed

import (
	"net/url"
	"strings"
	"testing"
	"time"
)

var base, _ = url.Parse("https://example.com/feed.xml")

func TestParseFormats(t *testing.T) {
	rss := `<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/" xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel><title>News</title><link>https://example.com/</link>
<item>
  <title>Breaking: &lt;em&gt;big&lt;/em&gt; &amp;amp; news</title>
  <link>/a/1?utm_source=rss&amp;utm_medium=feed&amp;page=2&amp;fbclid=X#comments</link>
  <guid isPermaLink="false">urn:1</guid>
  <description><![CDATA[<p>First <b>paragraph</b>.</p><script>alert(1)</script><p>Second&nbsp;one.</p>]]></description>
  <dc:creator>Ada</dc:creator>
  <category>Politics</category><category>politics</category><category>World</category>
  <media:thumbnail url="https://cdn.example.com/1-thumb.jpg"/>
  <pubDate>Tue, 03 Mar 2026 09:30:00 +0100</pubDate>
</item>
<item><title>No guid</title><link>javascript:alert(1)</link><description>x</description></item>
<item><title>Only link</title><link>https://EXAMPLE.com:443/b</link></item>
<item><guid>urn:1</guid><title>Repeated in the same document</title></item>
<item></item>
</channel></rss>`
	atom := `<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:media="http://search.yahoo.com/mrss/">
<title type="html">Atom &lt;b&gt;site&lt;/b&gt;</title><link href="https://blog.example.org/"/>
<entry><id>tag:blog.example.org,2026:1</id><title type="html">A &amp;amp; B</title>
<link rel="alternate" href="posts/1?gclid=abc"/><updated>2026-03-04T10:00:00Z</updated>
<author><name>Grace</name></author><summary type="html">&lt;p&gt;Sum&lt;/p&gt;</summary>
<category term="Tech"/>
<media:content url="https://blog.example.org/1.png" medium="image"/></entry>
</feed>`
	jsonFeed := `{"version":"https://jsonfeed.org/version/1.1","title":"JF","home_page_url":"https://j.example.net/",
"items":[{"id":"1","url":"https://j.example.net/1?utm_campaign=x","title":"<b>Hi</b>","content_html":"<p>Body</p>",
"image":"https://j.example.net/1.jpg","date_published":"2026-03-05T08:00:00Z","authors":[{"name":"Lin"}],"tags":["a","b"]}]}`

	t.Run("rss", func(t *testing.T) {
		p, err := Parse([]byte(rss), "application/rss+xml", base)
		if err != nil {
			t.Fatal(err)
		}
		if p.Title != "News" || len(p.Items) != 3 {
			t.Fatalf("%q: %d items: %+v", p.Title, len(p.Items), p.Items)
		}
		it := p.Items[0]
		pub := time.Date(2026, 3, 3, 8, 30, 0, 0, time.UTC)
		if it.GUID != "urn:1" || it.Link != "https://example.com/a/1?page=2" || it.Title != "Breaking: big & news" ||
			it.Summary != "First paragraph. Second one." || it.Author != "Ada" || strings.Join(it.Categories, "|") != "Politics|World" ||
			it.Image != "https://cdn.example.com/1-thumb.jpg" || it.PublishedAt == nil || !it.PublishedAt.Equal(pub) {
			t.Errorf("item 0: %+v", it)
		}
		// No guid, a javascript: link: identified by a digest, no link.
		if it := p.Items[1]; it.Link != "" || !strings.HasPrefix(it.GUID, "sha256:") || it.Title != "No guid" {
			t.Errorf("item 1: %+v", it)
		}
		// No guid: the canonical link is the guid.
		if it := p.Items[2]; it.Link != "https://example.com/b" || it.GUID != it.Link {
			t.Errorf("item 2: %+v", it)
		}
	})
	t.Run("atom", func(t *testing.T) {
		p, err := Parse([]byte(atom), "application/atom+xml", base)
		if err != nil {
			t.Fatal(err)
		}
		if p.Title != "Atom site" || len(p.Items) != 1 {
			t.Fatalf("%q %+v", p.Title, p.Items)
		}
		it := p.Items[0]
		if it.GUID != "tag:blog.example.org,2026:1" || it.Link != "https://blog.example.org/posts/1" || it.Title != "A & B" ||
			it.Summary != "Sum" || it.Author != "Grace" || strings.Join(it.Categories, "|") != "Tech" ||
			it.Image != "https://blog.example.org/1.png" || it.PublishedAt == nil || it.PublishedAt.Day() != 4 {
			t.Errorf("entry: %+v", it)
		}
	})
	t.Run("json", func(t *testing.T) {
		p, err := Parse([]byte(jsonFeed), "application/feed+json", base)
		if err != nil {
			t.Fatal(err)
		}
		it := p.Items[0]
		if p.Title != "JF" || it.GUID != "1" || it.Link != "https://j.example.net/1" || it.Title != "Hi" || it.Summary != "Body" ||
			it.Image != "https://j.example.net/1.jpg" || it.Author != "Lin" || len(it.Categories) != 2 || it.PublishedAt == nil {
			t.Errorf("item: %+v", it)
		}
	})
}

// An Atom entry whose only image is in its HTML content gets it.
func TestParseImageInContent(t *testing.T) {
	doc := `<feed xmlns="http://www.w3.org/2005/Atom"><entry><id>1</id><content type="html">&lt;p&gt;x&lt;img alt="" src="/i.png"&gt;</content></entry></feed>`
	p, err := Parse([]byte(doc), "", base)
	if err != nil || len(p.Items) != 1 || p.Items[0].Image != "https://example.com/i.png" {
		t.Fatalf("%v %+v", err, p)
	}
}

func TestParseBadInput(t *testing.T) {
	for _, c := range []struct{ name, body, want string }{
		{"malformed xml", `<?xml version="1.0"?><rss version="2.0"><channel><item><title>x</title></channel>`, "cannot be parsed"},
		{"malformed json", `{"version":"https://jsonfeed.org/version/1.1","items":[{"id":1,}`, "cannot be parsed"},
		{"html page", `<!DOCTYPE html><html><body>Not a feed</body></html>`, "not an RSS, Atom or JSON feed"},
		{"empty", ``, "not an RSS, Atom or JSON feed"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse([]byte(c.body), "", base)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want %q", err, c.want)
			}
		})
	}
}

// A windows-1252 feed labelled UTF-8 (in the declaration, the header or
// nowhere) reads as the text its author meant, as valid UTF-8.
func TestParseWrongEncoding(t *testing.T) {
	title := "Caf\xe9 \x93quoted\x94 \x80 5 \x81" // é “ ” € and a byte with no meaning in windows-1252
	for _, decl := range []string{`<?xml version="1.0" encoding="UTF-8"?>`, `<?xml version="1.0"?>`, ``} {
		doc := decl + `<rss version="2.0"><channel><title>t</title><item><guid>1</guid><title>` + title + `</title></item></channel></rss>`
		p, err := Parse([]byte(doc), "application/rss+xml; charset=utf-8", base)
		if err != nil {
			t.Fatalf("%q: %v", decl, err)
		}
		if got, want := p.Items[0].Title, "Café “quoted” € 5 \uFFFD"; got != want {
			t.Errorf("%q: title %q, want %q", decl, got, want)
		}
	}
	// Declared in the header only: converted.
	doc := "<rss version=\"2.0\"><channel><title>t</title><item><guid>1</guid><title>Gr\xfc\xdfe</title></item></channel></rss>"
	p, err := Parse([]byte(doc), "text/xml; charset=ISO-8859-1", base)
	if err != nil || p.Items[0].Title != "Grüße" {
		t.Fatalf("header charset: %v %+v", err, p)
	}
	// Declared in the XML declaration: the XML parser converts it.
	doc = "<?xml version=\"1.0\" encoding=\"windows-1252\"?><rss version=\"2.0\"><channel><title>t</title><item><guid>1</guid><title>\x93Hi\x94</title></item></channel></rss>"
	p, err = Parse([]byte(doc), "text/xml", base)
	if err != nil || p.Items[0].Title != "“Hi”" {
		t.Fatalf("declared charset: %v %+v", err, p)
	}
	// Control characters XML forbids are dropped rather than failing the feed.
	doc = "<rss version=\"2.0\"><channel><title>t</title><item><guid>1</guid><title>a\x01b\x0bc</title></item></channel></rss>"
	if p, err = Parse([]byte(doc), "", base); err != nil || p.Items[0].Title != "abc" {
		t.Fatalf("control characters: %v %+v", err, p)
	}
}

func TestCanonicalLink(t *testing.T) {
	for in, want := range map[string]string{
		"https://Example.COM/a?utm_source=x&b=1&UTM_Medium=y#frag": "https://example.com/a?b=1",
		"http://example.com:80":                           "http://example.com/",
		"https://example.com/a?fbclid=1&gclid=2&mc_cid=3": "https://example.com/a",
		"https://example.com/a?b=1&b=2&c":                 "https://example.com/a?b=1&b=2&c",
		"//cdn.example.com/x":                             "https://cdn.example.com/x",
		"../up":                                           "https://example.com/up",
		"javascript:alert(1)":                             "",
		"data:text/html,hi":                               "",
		"mailto:a@example.com":                            "",
		"https://user:pw@example.com/":                    "",
		"":                                                "",
		"https://[::1]:8443/x":                            "https://[::1]:8443/x",
	} {
		if got := CanonicalLink(base, in); got != want {
			t.Errorf("CanonicalLink(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestText(t *testing.T) {
	for in, want := range map[string]string{
		"<b>Bold</b> &amp; <i>it</i>":                  "Bold & it",
		"a < b and c > d":                              "a < b and c > d",
		"<style>p{}</style><p>x</p><script>y</script>": "x",
		"line\n\n  break\t tab":                        "line break tab",
		"zero\u200bwidth\x00":                          "zerowidth",
		"bad \xff utf8":                                "bad \uFFFD utf8",
		"<p>one</p><p>two</p>":                         "one two",
	} {
		if got := Text(in); got != want {
			t.Errorf("Text(%q) = %q, want %q", in, got, want)
		}
	}
}
