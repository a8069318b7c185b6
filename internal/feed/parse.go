// Package feed reads the article feeds that lists follow: it fetches a
// feed through the guarded HTTP client (internal/netguard) with
// conditional GET, a size cap and timeouts; parses RSS 2.0, Atom 1.0 and
// JSON Feed 1.1 (with github.com/mmcdole/gofeed); turns each entry into a
// clean item (plain-text title and summary, canonical link without
// tracking parameters, an image, categories); and runs the poller that
// claims due feeds, polls them and records the outcome with backoff.
//
// The store (internal/sqlstore/feeds.go) keeps feeds and items and
// deduplicates items by guid, then by canonical link.
package feed

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"net/url"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/mmcdole/gofeed"
	"golang.org/x/net/html"
	"golang.org/x/net/html/charset"
	"golang.org/x/text/encoding/charmap"

	"github.com/heraldhq/herald/internal/sqlstore"
)

// Limits on what one feed may put in the store.
const (
	MaxItems      = 500 // items taken from one response (the first ones)
	maxGUID       = 2000
	maxLink       = 2000
	maxTitle      = 500
	maxSummary    = 2000
	maxAuthor     = 200
	maxCategories = 20
	maxCategory   = 100
)

// ErrNotAFeed is returned for a document that is neither RSS, Atom nor
// JSON Feed.
var ErrNotAFeed = errors.New("the document is not an RSS, Atom or JSON feed")

// Parsed is a feed's title and its items, ready for the store.
type Parsed struct {
	Title string
	Items []sqlstore.FeedItem
}

// Parse reads a feed document. contentType is the response's Content-Type
// (its charset is used when the document does not declare one); base is
// the URL the document came from, against which relative links resolve.
// Items without a usable identity (no guid, link, title or summary) are
// skipped; so are items repeated within the document.
func Parse(body []byte, contentType string, base *url.URL) (*Parsed, error) {
	body = toUTF8(body, contentType)
	f, err := gofeed.NewParser().Parse(bytes.NewReader(body))
	if err != nil {
		if errors.Is(err, gofeed.ErrFeedTypeNotDetected) {
			return nil, ErrNotAFeed
		}
		return nil, fmt.Errorf("the feed cannot be parsed: %s", oneLine(err.Error()))
	}
	if f.Link != "" {
		if u, err := base.Parse(f.Link); err == nil && (u.Scheme == "http" || u.Scheme == "https") {
			base = u
		}
	}
	p := &Parsed{Title: clip(Text(f.Title), maxTitle), Items: []sqlstore.FeedItem{}}
	seen := map[string]bool{}
	for _, it := range f.Items {
		if len(p.Items) == MaxItems {
			break
		}
		if it == nil {
			continue
		}
		item, ok := normalize(it, base)
		if !ok || seen["g"+item.GUID] || (item.Link != "" && seen["l"+item.Link]) {
			continue
		}
		seen["g"+item.GUID] = true
		if item.Link != "" {
			seen["l"+item.Link] = true
		}
		p.Items = append(p.Items, item)
	}
	return p, nil
}

func normalize(it *gofeed.Item, base *url.URL) (sqlstore.FeedItem, bool) {
	var out sqlstore.FeedItem
	link := it.Link
	if link == "" && len(it.Links) > 0 {
		link = it.Links[0]
	}
	out.Link = clip(CanonicalLink(base, link), maxLink)
	if len(out.Link) == maxLink {
		out.Link = "" // a cut URL is not a link
	}
	out.Title = clip(Text(it.Title), maxTitle)
	summary := it.Description
	if strings.TrimSpace(summary) == "" {
		summary = it.Content
	}
	out.Summary = clip(Text(summary), maxSummary)
	out.Image = image(it, base)
	switch {
	case len(it.Authors) > 0 && it.Authors[0] != nil:
		out.Author = personName(it.Authors[0])
	case it.Author != nil:
		out.Author = personName(it.Author)
	}
	out.Author = clip(out.Author, maxAuthor)
	out.Categories = categories(it.Categories)
	switch {
	case it.PublishedParsed != nil:
		t := it.PublishedParsed.UTC()
		out.PublishedAt = &t
	case it.UpdatedParsed != nil:
		t := it.UpdatedParsed.UTC()
		out.PublishedAt = &t
	}
	if out.PublishedAt != nil && (out.PublishedAt.Year() < 1970 || out.PublishedAt.Year() > 9999) {
		out.PublishedAt = nil
	}
	guid := strings.TrimSpace(strings.ToValidUTF8(it.GUID, "\uFFFD"))
	switch {
	case guid != "" && len(guid) <= maxGUID:
	case guid != "": // too long to keep: its digest identifies it as well
		guid = "sha256:" + digest(guid)
	case out.Link != "":
		guid = out.Link
	case out.Title != "" || out.Summary != "":
		guid = "sha256:" + digest(out.Title+"\x00"+out.Summary)
	default:
		return out, false
	}
	out.GUID = guid
	return out, true
}

func digest(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func personName(p *gofeed.Person) string {
	if n := Text(p.Name); n != "" {
		return n
	}
	return Text(p.Email)
}

func categories(in []string) []string {
	out := []string{}
	seen := map[string]bool{}
	for _, c := range in {
		c = clip(Text(c), maxCategory)
		if c == "" || seen[strings.ToLower(c)] {
			continue
		}
		seen[strings.ToLower(c)] = true
		out = append(out, c)
		if len(out) == maxCategories {
			break
		}
	}
	return out
}

// image picks the item's image: what gofeed found (itunes:image,
// media:content, an image enclosure, JSON Feed's image or banner_image,
// an <img> in an RSS item's content), else an image enclosure,
// media:content, media:thumbnail or media:group, else the first <img> in
// the content or description (for Atom and JSON Feed).
func image(it *gofeed.Item, base *url.URL) string {
	var candidates []string
	if it.Image != nil {
		candidates = append(candidates, it.Image.URL)
	}
	for _, e := range it.Enclosures {
		if e != nil && strings.HasPrefix(e.Type, "image/") {
			candidates = append(candidates, e.URL)
		}
	}
	if media, ok := it.Extensions["media"]; ok {
		for _, key := range []string{"content", "thumbnail"} {
			for _, e := range media[key] {
				if key == "content" && !strings.Contains(e.Attrs["type"], "image") && e.Attrs["medium"] != "image" {
					continue
				}
				candidates = append(candidates, e.Attrs["url"])
			}
		}
		for _, g := range media["group"] {
			for _, key := range []string{"thumbnail", "content"} {
				for _, e := range g.Children[key] {
					candidates = append(candidates, e.Attrs["url"])
				}
			}
		}
	}
	candidates = append(candidates, firstImg(it.Content), firstImg(it.Description))
	for _, c := range candidates {
		if u := absoluteHTTP(base, c); u != "" && len(u) <= maxLink {
			return u
		}
	}
	return ""
}

// firstImg is the src of the first <img> in an HTML fragment (gofeed looks
// there for RSS items only).
func firstImg(s string) string {
	if !strings.Contains(s, "<img") && !strings.Contains(s, "<IMG") {
		return ""
	}
	z := html.NewTokenizer(strings.NewReader(s))
	for {
		switch z.Next() {
		case html.ErrorToken:
			return ""
		case html.StartTagToken, html.SelfClosingTagToken:
			name, attrs := z.TagName()
			if string(name) != "img" {
				continue
			}
			for attrs {
				var k, v []byte
				k, v, attrs = z.TagAttr()
				if string(k) == "src" {
					return string(v)
				}
			}
		}
	}
}

// trackingParams are query parameters that only say where a click came
// from; prefixes end in "_".
var trackingParams = []string{"utm_", "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "mc_cid", "mc_eid",
	"igshid", "_ga", "_gl", "mkt_tok", "oly_anon_id", "oly_enc_id", "vero_id", "__s", "_hsenc", "_hsmi", "ref_src"}

func isTracking(key string) bool {
	k := strings.ToLower(key)
	for _, t := range trackingParams {
		if strings.HasSuffix(t, "_") && strings.HasPrefix(k, t) || k == t {
			return true
		}
	}
	return false
}

// CanonicalLink resolves raw against base and returns it as an absolute
// http(s) URL without fragment and tracking parameters (utm_*, fbclid,
// gclid, …), with a lower-case host and no default port; "" when raw is
// not an http(s) link (javascript:, data:, mailto: and the like).
func CanonicalLink(base *url.URL, raw string) string {
	u := parseHTTP(base, raw)
	if u == nil {
		return ""
	}
	u.Fragment, u.RawFragment = "", ""
	if u.RawQuery != "" {
		var kept []string
		for _, part := range strings.Split(u.RawQuery, "&") {
			if part == "" {
				continue
			}
			key, _, _ := strings.Cut(part, "=")
			if k, err := url.QueryUnescape(key); err == nil {
				key = k
			}
			if !isTracking(key) {
				kept = append(kept, part)
			}
		}
		u.RawQuery = strings.Join(kept, "&")
		u.ForceQuery = false
	}
	return u.String()
}

// absoluteHTTP is raw resolved against base when it is an http(s) URL.
func absoluteHTTP(base *url.URL, raw string) string {
	if u := parseHTTP(base, raw); u != nil {
		return u.String()
	}
	return ""
}

func parseHTTP(base *url.URL, raw string) *url.URL {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil
	}
	if base != nil {
		u = base.ResolveReference(u)
	}
	u.Scheme = strings.ToLower(u.Scheme)
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return nil
	}
	host := strings.ToLower(u.Hostname())
	port := u.Port()
	if (u.Scheme == "http" && port == "80") || (u.Scheme == "https" && port == "443") {
		port = ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		host += ":" + port
	}
	u.Host = host
	if u.Path == "" {
		u.Path = "/"
	}
	return u
}

var blockTags = map[string]bool{"p": true, "div": true, "br": true, "li": true, "h1": true, "h2": true, "h3": true, "h4": true,
	"h5": true, "h6": true, "tr": true, "td": true, "th": true, "blockquote": true, "pre": true, "section": true, "article": true,
	"figure": true, "figcaption": true, "ul": true, "ol": true, "table": true, "hr": true, "img": true}

// Text turns a fragment of HTML (or plain text with entities) into plain
// text on one line: tags removed (the content of script, style and the
// like dropped), entities decoded, whitespace collapsed, control
// characters removed, valid UTF-8.
func Text(s string) string {
	if s == "" {
		return ""
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	var b strings.Builder
	z := html.NewTokenizer(strings.NewReader(s))
	skip := 0
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			break
		}
		switch tt {
		case html.TextToken:
			if skip == 0 {
				b.Write(z.Text())
			}
		case html.StartTagToken, html.SelfClosingTagToken, html.EndTagToken:
			name, _ := z.TagName()
			switch string(name) {
			case "script", "style", "noscript", "iframe", "object", "template", "svg", "math", "head", "title":
				if tt == html.StartTagToken {
					skip++
				} else if tt == html.EndTagToken && skip > 0 {
					skip--
				}
			}
			if blockTags[string(name)] {
				b.WriteByte(' ')
			}
		}
	}
	return collapse(b.String())
}

// collapse joins runs of white space into one space, drops control and
// zero-width characters and trims.
func collapse(s string) string {
	var b strings.Builder
	space := false
	for _, r := range s {
		switch {
		case unicode.IsSpace(r):
			space = true
			continue
		case unicode.IsControl(r), r == '\u200b', r == '\u200c', r == '\u200d', r == '\u2060', r == '\ufeff', r == '\u034f':
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(r)
	}
	return b.String()
}

// clip cuts s to at most n bytes on a rune boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return strings.TrimSpace(s[:n])
}

func oneLine(s string) string {
	s = collapse(strings.ToValidUTF8(s, "\uFFFD"))
	return clip(s, 300)
}

var xmlEncoding = regexp.MustCompile(`(?i)^\s*<\?xml[^>]*encoding\s*=\s*["']([A-Za-z0-9._:-]+)["']`)

// toUTF8 makes body valid UTF-8 when it claims to be UTF-8 (or claims
// nothing) but is not, as windows-1252 text served as UTF-8 often is:
// each byte that is not part of a valid UTF-8 sequence is read as
// windows-1252, and one with no meaning there becomes U+FFFD. A document
// that declares another encoding in its XML declaration is left to the XML
// parser, which converts it; one that declares it only in the
// Content-Type header is converted here. Control characters that XML
// forbids are dropped.
func toUTF8(body []byte, contentType string) []byte {
	body = bytes.TrimPrefix(body, []byte("\xef\xbb\xbf"))
	if m := xmlEncoding.FindSubmatch(body[:min(len(body), 200)]); m != nil {
		if !isUTF8Label(string(m[1])) {
			return body
		}
	} else if _, params, err := mime.ParseMediaType(contentType); err == nil && params["charset"] != "" && !isUTF8Label(params["charset"]) {
		if enc, _ := charset.Lookup(params["charset"]); enc != nil {
			if out, err := enc.NewDecoder().Bytes(body); err == nil {
				body = out
			}
		}
	}
	if utf8.Valid(body) && !hasForbiddenControl(body) {
		return body
	}
	out := make([]byte, 0, len(body)+len(body)/8)
	for len(body) > 0 {
		r, size := utf8.DecodeRune(body)
		if r == utf8.RuneError && size <= 1 {
			r = charmap.Windows1252.DecodeByte(body[0])
			if r >= 0x80 && r < 0xa0 {
				r = utf8.RuneError
			}
			size = 1
		}
		body = body[size:]
		if r < 0x20 && r != '\t' && r != '\n' && r != '\r' {
			continue
		}
		out = utf8.AppendRune(out, r)
	}
	return out
}

func isUTF8Label(l string) bool {
	l = strings.ToLower(strings.TrimSpace(l))
	return l == "utf-8" || l == "utf8" || l == "us-ascii" || l == "ascii"
}

func hasForbiddenControl(b []byte) bool {
	for _, c := range b {
		if c < 0x20 && c != '\t' && c != '\n' && c != '\r' {
			return true
		}
	}
	return false
}
