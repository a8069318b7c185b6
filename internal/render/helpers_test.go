package render

import (
	"encoding/json"
	"fmt"
	"html/template"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

var (
	testDate      = time.Date(2025, 3, 14, 9, 30, 0, 0, time.UTC)
	testPublisher = Publisher{Name: "The Daily Bugle", PostalAddress: "Bugle Ltd\n1 Main Street\n10001 New York", BaseURL: "https://news.example.com"}
	testLists     = []string{"Weekly", "Offers & Deals", "<Events>"}
)

// mustCompile compiles c with the test publisher and lists.
func mustCompile(t testing.TB, c Campaign) *Template {
	t.Helper()
	if c.Date.IsZero() {
		c.Date = testDate
	}
	tm, err := Compile(c, testPublisher, testLists)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return tm
}

// reference renders a message the straightforward way: parse body and
// layout with html/template, execute the body, execute the layout with the
// body as template.HTML. It shares only the Markdown step and the data
// contract with the package.
type reference struct {
	body, layout *template.Template
	data         templateData
}

func newReference(t testing.TB, c Campaign, p Publisher, lists []string) (*reference, error) {
	t.Helper()
	if c.Date.IsZero() {
		c.Date = testDate
	}
	funcs := funcMap(c.Date)
	src, _, err := bodySource(c, funcs)
	if err != nil {
		return nil, err
	}
	body, err := template.New("body").Funcs(funcs).Parse(src)
	if err != nil {
		return nil, err
	}
	ls := c.Layout
	if strings.TrimSpace(ls) == "" {
		ls = DefaultLayout
	}
	layout, err := template.New("layout").Funcs(funcs).Parse(ls)
	if err != nil {
		return nil, err
	}
	return &reference{body: body, layout: layout, data: campaignData(c, p, lists, c.Date)}, nil
}

func (ref *reference) render(r *Reader) (string, error) {
	d := ref.data
	d.Reader = readerData{Name: r.Name, FirstName: firstName(r.Name), Email: r.Email, Attributes: r.Attributes}
	d.UnsubscribeURL, d.ManageURL = r.UnsubscribeURL, r.ManageURL
	var b strings.Builder
	if err := ref.body.Execute(&b, d); err != nil {
		return "", err
	}
	d.Body = template.HTML(b.String())
	var out strings.Builder
	if err := ref.layout.Execute(&out, d); err != nil {
		return "", err
	}
	return out.String(), nil
}

// Awkward values for reader fields.
var (
	nastyNames = []string{
		"", "Ann", "  Bob   Smith ", "O'Brien & Sons", `"Quoted" <script>alert(1)</script>`,
		"Zoë Ünïcødé 名前 😀", "a+b=c `tick`", "\x00nul", "bad\xffutf8\xc3", "\uFDD0\uFFFE\uFFFD",
		"javascript:alert(1)", "line\nbreak\ttab\r\f\v", "&amp; entity &lt;", "%41%zz%", "   ",
		"</textarea><b>x</b>", "{{.Reader.Name}}", "Hrldslot0Z", "Hrldact0Z",
	}
	nastyEmails = []string{
		"a@example.com", "o'brien+tag@example.com", `"quoted name"@example.com`, "<x>@y", "ü@exämple.de",
		"a&b@example.com?x=y#z", "", " spaced @ example.com ",
	}
	nastyURLs = []string{
		"https://h.example/unsubscribe/AbC_-123", "https://h.example/u?t=a b&c=d#frag", "javascript:alert(1)",
		"JavaScript:alert(1)", "data:text/html;base64,xx", "/relative/päth?q=\"<>\"", "mailto:x@y?subject=a b",
		"%zz%41%4", "", "HTTPS://OK.EXAMPLE/X", " https://space.example", "ftp://x", "http:/x:y", "a/b:c",
		"https://h.example/'quote'(paren)[br]{cu}|pipe\\back^caret",
	}
	nastyAttrs = []any{
		"Berlin", "<b>bold</b> & \"q\"", 42.0, 1e21, -0.5, true, false, nil, []any{"a", 1.0, nil},
		map[string]any{"k": "v"}, json.Number("12"), "2024-03-01", "2024-03-01T10:00:00Z", "  ", "",
		"javascript:x", "a b/c?d=e&f", 7, int64(-3), "\x00",
	}
)

// nastyReaders returns n readers with awkward values, deterministically.
func nastyReaders(n int, keys []string) []*Reader {
	rng := rand.New(rand.NewPCG(1, 2))
	pick := func(s []string) string { return s[rng.IntN(len(s))] }
	var rs []*Reader
	for i := range n {
		r := &Reader{
			ID:             int64(i),
			Name:           pick(nastyNames),
			Email:          pick(nastyEmails),
			UnsubscribeURL: pick(nastyURLs),
			ManageURL:      pick(nastyURLs),
		}
		if rng.IntN(4) == 0 {
			r.Name += " " + pick(nastyNames)
		}
		if i%7 != 0 {
			r.Attributes = map[string]any{}
			for _, k := range keys {
				if rng.IntN(5) > 0 {
					r.Attributes[k] = nastyAttrs[rng.IntN(len(nastyAttrs))]
				}
			}
		}
		rs = append(rs, r)
	}
	return rs
}

// tame reports whether s reads the same in HTML and in collapsed text.
func tame(s string) bool {
	if s != strings.TrimSpace(s) || strings.Contains(s, "  ") {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune(" .@:/_-", r)) {
			return false
		}
	}
	return true
}

func tameReader(r *Reader) bool {
	if !tame(r.Name) || !tame(r.Email) || !tame(r.UnsubscribeURL) || !tame(r.ManageURL) {
		return false
	}
	for _, v := range r.Attributes {
		if s, ok := v.(string); !ok || !tame(s) {
			return false
		}
	}
	return true
}

func describe(r *Reader) string {
	return fmt.Sprintf("name=%q email=%q unsub=%q manage=%q attrs=%v", r.Name, r.Email, r.UnsubscribeURL, r.ManageURL, r.Attributes)
}
