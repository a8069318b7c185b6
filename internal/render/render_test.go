package render

import (
	"bytes"
	"html/template"
	"strings"
	"sync"
	"testing"

	"github.com/heraldhq/herald"
)

const markdownBody = `# Hello {{.Reader.FirstName | default "reader"}}!

Thanks for reading **{{.Campaign.Subject}}**, {{.Reader.Name}} <{{.Reader.Email}}>.
You live in {{.Reader.Attributes.city | default "a nice place" | upper}} since {{.Reader.Attributes.joined | date "January 2006"}}.

- Your plan: {{index .Reader.Attributes "plan-name" | lower}}
- [Your profile](https://example.com/profile?email={{.Reader.Email}}&n={{.Reader.Name}})
- Visit https://example.com/ today

{{if .Lists}}
You are on {{len .Lists}} lists:
{{range .Lists}}
* {{.}} for {{$.Reader.FirstName}}
{{end}}
{{end}}

| Name | Email |
|------|-------|
| {{.Reader.Name}} | {{.Reader.Email}} |

> Quote for {{.Reader.Name}}

` + "```" + `
code {{.Reader.Email}}
` + "```" + `

[Unsubscribe]({{.UnsubscribeURL}}) or [manage]({{ .ManageURL }}). © {{.Year}} {{date "2 Jan 2006"}}
`

const htmlBody = `<h1 title="{{.Reader.Name}}">Hi {{.Reader.Name | default "there"}}</h1>
<p data-email='{{.Reader.Email}}' data-first={{.Reader.FirstName}}>Your code: {{.Reader.Attributes.code}}</p>
<p><a href="https://example.com/p/{{.Reader.Attributes.id}}/x?e={{.Reader.Email}}#{{.Reader.Name}}">profile</a>
<a href="mailto:{{.Reader.Email}}">mail yourself</a> <a href={{.ManageURL}}>prefs</a>
<img src="https://example.com/{{.Reader.Attributes.avatar}}" alt="{{.Reader.Name | default "anon"}}"></p>
<textarea>{{.Reader.Name}}</textarea>
{{with .Campaign}}<b>{{.Name}} for {{$.Reader.Email}}</b>{{end}}
{{- /* a comment */ -}}
<p>{{.Reader.Attributes.score}} {{.Reader.Attributes.vip | default "no"}} {{.Reader.Attributes.missing}}</p>`

const customLayout = `<!DOCTYPE html><html><head><title>{{.Campaign.Subject}} for {{.Reader.Name}}</title>
<style>p { color: red; }</style></head>
<body><div class="x" title="{{.Reader.Name}} / {{.Publisher}}">
<p>Dear {{.Reader.FirstName | default "friend"}},</p>
{{.Body}}
{{range $i, $l := .Lists}}<li data-i="{{$i}}">{{$l}} – {{$.Reader.Email}}</li>{{end}}
{{template "footer" .}}
</div></body></html>
{{define "footer"}}<footer><p>{{.PostalAddress}}</p>
<a href="{{.UnsubscribeURL}}">Unsubscribe {{.Reader.Email}}</a> · <a href="{{.ManageURL}}?from=mail&amp;r={{.Reader.Name}}">Preferences</a>
<small>{{.ListNames}} · {{.Campaign.Name | upper}}</small></footer>{{end}}`

// footer is what every custom layout below needs to compile.
const footer = `<p>{{.PostalAddress}}</p><a href="{{.UnsubscribeURL}}">Unsubscribe</a>`

func TestRenderMatchesHTMLTemplate(t *testing.T) {
	tests := []struct {
		name     string
		c        Campaign
		wantFast bool
	}{
		{"markdown body, default layout", Campaign{Format: FormatMarkdown, Body: markdownBody}, true},
		{"html body, default layout", Campaign{Format: FormatHTML, Body: htmlBody}, true},
		{"markdown body, custom layout", Campaign{Format: FormatMarkdown, Body: markdownBody, Layout: customLayout}, true},
		{"html body, custom layout", Campaign{Format: FormatHTML, Body: htmlBody, Layout: customLayout}, true},
		{"plain body", Campaign{Format: FormatMarkdown, Body: "Nothing personal."}, true},
		{"body uses .Body", Campaign{Format: FormatHTML, Body: "x{{.Body}}y"}, true},
		{"condition on reader in layout", Campaign{Format: FormatMarkdown, Body: markdownBody,
			Layout: `{{if .Reader.Name}}<p>Hi {{.Reader.Name}}</p>{{else}}<p>Hi there</p>{{end}}{{.Body}}` + footer}, false},
		{"range over attributes", Campaign{Format: FormatHTML,
			Body: `<ul>{{range $k, $v := .Reader.Attributes}}<li>{{$k}}: {{$v}}</li>{{end}}</ul>`}, false},
		{"reader value through printf", Campaign{Format: FormatHTML, Body: `<p>{{printf "%s!" .Reader.Name}}</p>`}, false},
		{"reader value in a variable", Campaign{Format: FormatHTML, Body: `{{$n := .Reader.Name}}<p>{{$n}}</p>`}, false},
		{"with on reader", Campaign{Format: FormatHTML, Body: `{{with .Reader}}<p>{{.Name}}</p>{{end}}`}, false},
		{"eq on email", Campaign{Format: FormatHTML, Body: `{{if eq .Reader.Email "a@example.com"}}<p>Admin</p>{{end}}`}, false},
		{"nested attribute", Campaign{Format: FormatHTML, Body: `<p>{{.Reader.Attributes.address.city}}</p>`}, false},
		{"reader in script", Campaign{Format: FormatHTML, Body: `<p>x</p>`,
			Layout: `<script>var email = {{.Reader.Email}};</script>{{.Body}}` + footer}, false},
		{"reader in style attribute", Campaign{Format: FormatHTML, Body: `<p style="color: {{.Reader.Attributes.color}}">x</p>`}, false},
		{"reader in srcset", Campaign{Format: FormatHTML, Body: `<img srcset="{{.Reader.Attributes.img}} 2x">`}, false},
		{"template used in two contexts", Campaign{Format: FormatHTML, Body: `<p>x</p>`,
			Layout: `{{define "n"}}{{.Reader.Name}}{{end}}<p title="{{template "n" .}}">{{template "n" .}}</p>{{.Body}}` + footer}, false},
		{"body in an attribute", Campaign{Format: FormatHTML, Body: `<b>{{.Reader.Name}}</b>`,
			Layout: `<div title="{{.Body}}">{{.Body}}</div>` + footer}, false},
		{"printing all data", Campaign{Format: FormatHTML, Body: `<p>{{.}}</p>`}, false},
		{"template with whole data", Campaign{Format: FormatHTML, Body: `{{define "g"}}<i>{{.Reader.Name}}</i>{{end}}<p>{{template "g" .}}</p>`}, true},
		{"variable reassigned to the data in a branch", Campaign{Format: FormatHTML,
			Body: `{{$x := .Campaign}}{{if .Lists}}{{$x = .}}{{end}}<p>{{$x.Reader.Name}}</p>`}, false},
		{"variable holding the data", Campaign{Format: FormatHTML, Body: `{{$d := .}}{{with .Campaign}}<p>{{$d.Reader.Name}}</p>{{end}}`}, true},
		{"default with non-literal", Campaign{Format: FormatHTML, Body: `<p>{{.Reader.Name | default .Campaign.Name}}</p>`}, false},
	}
	readers := nastyReaders(300, []string{"city", "joined", "plan-name", "code", "id", "avatar", "score", "vip", "color", "img", "address"})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.c.Date = testDate
			tm := mustCompile(t, tt.c)
			if fast := tm.Fallback() == ""; fast != tt.wantFast {
				t.Fatalf("fast path = %v (fallback %q), want %v", fast, tm.Fallback(), tt.wantFast)
			}
			if strings.Contains(tm.Fallback(), "please report") {
				t.Fatalf("the analysis missed a reader dependency that the self-check caught: %s", tm.Fallback())
			}
			t.Logf("fallback: %q", tm.Fallback())
			ref, err := newReference(t, tt.c, testPublisher, testLists)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range readers {
				want, wantErr := ref.render(r)
				var h, x bytes.Buffer
				err := tm.Render(r, &h, &x)
				if (err != nil) != (wantErr != nil) {
					t.Fatalf("Render error %v, html/template error %v, for %s", err, wantErr, describe(r))
				}
				if err != nil {
					continue
				}
				if h.String() != want {
					t.Fatalf("HTML differs for %s\n%s", describe(r), firstDiff(h.String(), want))
				}
				if tameReader(r) {
					var wantText bytes.Buffer
					htmlToText(&wantText, []byte(want))
					if x.String() != wantText.String() {
						t.Fatalf("text differs for %s\n%s", describe(r), firstDiff(x.String(), wantText.String()))
					}
				}
			}
		})
	}
}

func firstDiff(got, want string) string {
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	from := max(0, i-80)
	return "got:  …" + got[from:min(len(got), i+80)] + "…\nwant: …" + want[from:min(len(want), i+80)] + "…"
}

func TestRenderPerMessageFallback(t *testing.T) {
	// Values whose printing html/template treats specially are rendered in
	// full for that message only.
	c := Campaign{Format: FormatHTML, Body: `<p>{{.Reader.Attributes.x}}</p>`, Date: testDate}
	tm := mustCompile(t, c)
	if tm.Fallback() != "" {
		t.Fatalf("fallback: %s", tm.Fallback())
	}
	ref, err := newReference(t, c, testPublisher, testLists)
	if err != nil {
		t.Fatal(err)
	}
	s := "pointer <b>"
	for _, v := range []any{template.HTML("<i>trusted</i>"), &s, struct{ A string }{"<a>"}, []any{&s}} {
		r := &Reader{Name: "x", UnsubscribeURL: "https://e.example/u", Attributes: map[string]any{"x": v}}
		want, err := ref.render(r)
		if err != nil {
			t.Fatal(err)
		}
		h, _, err := tm.Preview(r)
		if err != nil {
			t.Fatal(err)
		}
		if h != want {
			t.Errorf("value %#v:\n%s", v, firstDiff(h, want))
		}
	}
}

func TestCompileRefuses(t *testing.T) {
	tests := []struct {
		name string
		c    Campaign
		p    Publisher
		want string // in the error message
	}{
		{"no postal address configured", Campaign{Body: "x"}, Publisher{Name: "P", PostalAddress: "  "},
			"set HERALD_POSTAL_ADDRESS"},
		{"layout without unsubscribe link", Campaign{Body: "x", Layout: `{{.Body}}<p>{{.PostalAddress}}</p>`}, testPublisher,
			"the rendered newsletter has no unsubscribe link: add <a href=\"{{.UnsubscribeURL}}\">"},
		{"unsubscribe URL only as text", Campaign{Body: "x", Layout: `{{.Body}}<p>{{.PostalAddress}} {{.UnsubscribeURL}}</p>`}, testPublisher,
			"no unsubscribe link"},
		{"unsubscribe link for some readers only", Campaign{Body: "x",
			Layout: `{{.Body}}<p>{{.PostalAddress}}</p>{{if .Reader.Attributes.vip}}<a href="{{.UnsubscribeURL}}">u</a>{{end}}`}, testPublisher,
			"no unsubscribe link"},
		{"unsubscribe link hidden", Campaign{Body: "x", Layout: `{{.Body}}<p>{{.PostalAddress}}</p><div style="display: none"><a href="{{.UnsubscribeURL}}">u</a></div>`}, testPublisher,
			"plain-text version of the newsletter has no unsubscribe link"},
		{"layout without postal address", Campaign{Body: "x", Layout: `{{.Body}}<a href="{{.UnsubscribeURL}}">Unsubscribe</a>`}, testPublisher,
			"does not show the postal address: set HERALD_POSTAL_ADDRESS and keep {{.PostalAddress}}"},
		{"postal address hidden", Campaign{Body: "x", Layout: `{{.Body}}<a href="{{.UnsubscribeURL}}">Unsubscribe</a><span style="display:none">{{.PostalAddress}}</span>`}, testPublisher,
			"does not show the postal address"},
		{"layout without body", Campaign{Body: "x", Layout: footer}, testPublisher,
			"add {{.Body}} to the layout"},
		{"unknown format", Campaign{Body: "x", Format: "rtf"}, testPublisher, `unknown body format "rtf"`},
		{"body parse error", Campaign{Format: FormatHTML, Body: "<p>\nline 2\n{{.Reader.Name</p>"}, testPublisher,
			"the body template has an error on line 3:"},
		{"markdown parse error keeps source lines", Campaign{Format: FormatMarkdown, Body: "# Title\n\n*hi*\n\n{{if .Reader.Name}}unclosed"}, testPublisher,
			"the body template has an error on line 5:"},
		{"unknown function", Campaign{Format: FormatHTML, Body: "<p>\n{{shout .Reader.Name}}</p>"}, testPublisher,
			`the body template has an error on line 2: function "shout" not defined`},
		{"unknown field", Campaign{Format: FormatHTML, Body: "<p>\n\n{{.Reader.Nick}}</p>"}, testPublisher,
			"the body template has an error on line 3: <.Reader.Nick>: can't evaluate field Nick"},
		{"layout parse error", Campaign{Body: "x", Layout: "<html>\n<body>\n{{.Body}}\n{{end}}\n</body>"}, testPublisher,
			"the layout template has an error on line 4: unexpected {{end}}"},
		{"layout escaping error", Campaign{Body: "x", Layout: footer + "{{.Body}}\n<a href=\"{{.ManageURL}}\n"}, testPublisher,
			"the layout template has an error: it ends inside an unfinished tag"},
		{"layout escaping error with line", Campaign{Body: "x", Layout: footer + "{{.Body}}\n\n<a href=\"{{if .Campaign.Name}}/x?a=1{{end}}{{.ManageURL}}\">m</a>"}, testPublisher,
			"the layout template has an error on line 3:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.c.Date = testDate
			_, err := Compile(tt.c, tt.p, testLists)
			if err == nil {
				t.Fatal("Compile succeeded")
			}
			if herald.ErrorCode(err) != herald.EINVALID {
				t.Errorf("code %q, want %q (%v)", herald.ErrorCode(err), herald.EINVALID, err)
			}
			if msg := herald.ErrorMessage(err); !strings.Contains(msg, tt.want) {
				t.Errorf("message %q\ndoes not contain %q", msg, tt.want)
			}
		})
	}
}

func TestDefaultLayout(t *testing.T) {
	tm := mustCompile(t, Campaign{Subject: "March news", Body: "Hello {{.Reader.FirstName}}"})
	if tm.Fallback() != "" {
		t.Fatalf("default layout is not on the fast path: %s", tm.Fallback())
	}
	r := &Reader{Name: "Ada Lovelace", Email: "ada@example.com", UnsubscribeURL: "https://news.example.com/unsubscribe/t1", ManageURL: "https://news.example.com/manage/t1"}
	h, x, err := tm.Preview(r)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`<meta name="viewport" content="width=device-width, initial-scale=1">`,
		`<meta name="color-scheme" content="light dark">`,
		`max-width:600px`,
		`role="presentation"`,
		`@media (prefers-color-scheme: dark)`,
		`<title>March news</title>`,
		`<p>Hello Ada</p>`,
		`You receive this because you subscribed to Weekly, Offers &amp; Deals and &lt;Events&gt; from The Daily Bugle.`,
		`<a href="https://news.example.com/unsubscribe/t1" style="color:#6b7280;text-decoration:underline;">Unsubscribe</a>`,
		`<a href="https://news.example.com/manage/t1" style="color:#6b7280;text-decoration:underline;">Manage preferences</a>`,
		"Bugle Ltd\n1 Main Street\n10001 New York",
	} {
		if !strings.Contains(h, want) {
			t.Errorf("HTML lacks %q", want)
		}
	}
	wantText := `The Daily Bugle

Hello Ada

You receive this because you subscribed to Weekly, Offers & Deals and <Events> from The Daily Bugle.

Unsubscribe (https://news.example.com/unsubscribe/t1) · Manage preferences (https://news.example.com/manage/t1)

Bugle Ltd
1 Main Street
10001 New York
`
	if x != wantText {
		t.Errorf("text:\n%s\nwant:\n%s", x, wantText)
	}
}

func TestNoListsFooter(t *testing.T) {
	tm, err := Compile(Campaign{Body: "x", Date: testDate}, testPublisher, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, x, err := tm.Preview(&Reader{UnsubscribeURL: "https://e.example/u"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(x, "You receive this because you subscribed to news from The Daily Bugle.") {
		t.Errorf("text:\n%s", x)
	}
}

func TestFallbackReason(t *testing.T) {
	tm := mustCompile(t, Campaign{Format: FormatHTML, Body: "<p>\n{{if .Reader.Name}}Hi{{end}}</p>"})
	if got := tm.Fallback(); !strings.Contains(got, "body:2") || !strings.Contains(got, ".Reader.Name") {
		t.Errorf("Fallback() = %q", got)
	}
}

func TestRenderAppendsAndKeepsBuffersOnError(t *testing.T) {
	tm := mustCompile(t, Campaign{Format: FormatHTML, Body: `<p>{{with .Reader.Attributes.list}}{{index . 5}}{{end}}</p>`})
	var h, x bytes.Buffer
	h.WriteString("prefix")
	x.WriteString("prefix")
	err := tm.Render(&Reader{UnsubscribeURL: "https://e.example/u", Attributes: map[string]any{"list": []any{1.0}}}, &h, &x)
	if err == nil {
		t.Fatal("no error for an index out of range")
	}
	if h.String() != "prefix" || x.String() != "prefix" {
		t.Errorf("buffers changed on error: %q, %q", h.String(), x.String())
	}
	if err := tm.Render(nil, &h, &x); err == nil {
		t.Error("no error for a nil reader")
	}

	fast := mustCompile(t, Campaign{Body: "Hi {{.Reader.Name}}"})
	h.Reset()
	h.WriteString("<!-- prefix -->")
	if err := fast.Render(&Reader{Name: "Bo"}, &h, nil); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h.String(), "<!-- prefix --><!DOCTYPE html>") || !strings.Contains(h.String(), "Hi Bo") {
		t.Errorf("Render did not append: %.80q", h.String())
	}
}

func TestRenderConcurrent(t *testing.T) {
	for _, c := range []Campaign{
		{Body: markdownBody},
		{Body: markdownBody, Layout: `{{if .Reader.Name}}x{{end}}{{.Body}}` + footer},
	} {
		tm := mustCompile(t, c)
		readers := nastyReaders(40, []string{"city", "joined", "plan-name"})
		want := make([]string, len(readers))
		for i, r := range readers {
			h, _, err := tm.Preview(r)
			if err != nil {
				t.Fatal(err)
			}
			want[i] = h
		}
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Go(func() {
				var h, x bytes.Buffer
				for n := range 200 {
					i := (g*31 + n) % len(readers)
					h.Reset()
					x.Reset()
					if err := tm.Render(readers[i], &h, &x); err != nil {
						t.Error(err)
						return
					}
					if h.String() != want[i] {
						t.Errorf("concurrent render differs for reader %d", i)
						return
					}
				}
			})
		}
		wg.Wait()
	}
}

func TestFuncs(t *testing.T) {
	tests := []struct {
		body string
		r    Reader
		want string
	}{
		{`{{.Reader.FirstName | default "reader"}}`, Reader{Name: "  Grace Brewster Hopper"}, "Grace"},
		{`{{.Reader.FirstName | default "reader"}}`, Reader{Name: "   "}, "reader"},
		{`{{.Reader.Name | upper}}|{{.Reader.Name | lower}}`, Reader{Name: "Zoë"}, "ZOË|zoë"},
		{`{{.Reader.Attributes.n | default "none"}}`, Reader{Attributes: map[string]any{"n": 0.0}}, "none"},
		{`{{.Reader.Attributes.n | default "none"}}`, Reader{Attributes: map[string]any{"n": 3.5}}, "3.5"},
		{`{{.Reader.Attributes.d | date "2 Jan 2006"}}`, Reader{Attributes: map[string]any{"d": "2024-02-29"}}, "29 Feb 2024"},
		{`{{.Reader.Attributes.d | date "2006"}}`, Reader{Attributes: map[string]any{"d": "2019-05-01T10:00:00+02:00"}}, "2019"},
		{`{{.Reader.Attributes.d | date "2006"}}`, Reader{Attributes: map[string]any{"d": "soon"}}, "soon"},
		{`{{.Reader.Attributes.d | date "2006-01-02"}}`, Reader{Attributes: map[string]any{"d": 86400.0}}, "1970-01-02"},
		{`{{date "January 2, 2006"}} {{.Year}}`, Reader{}, "March 14, 2025 2025"},
		{`{{.ListNames}} / {{range .Lists}}[{{.}}]{{end}}`, Reader{}, "Weekly, Offers &amp; Deals and &lt;Events&gt; / [Weekly][Offers &amp; Deals][&lt;Events&gt;]"},
		{`{{.Publisher}} {{.Publisher.BaseURL}} {{.Campaign.Subject}}`, Reader{}, "The Daily Bugle https://news.example.com S&amp;S"},
		{`{{index .Reader.Attributes "first-name"}}`, Reader{Attributes: map[string]any{"first-name": "Al"}}, "Al"},
	}
	for _, tt := range tests {
		tm := mustCompile(t, Campaign{Format: FormatHTML, Subject: "S&S", Body: "<p>" + tt.body + "</p>"})
		tt.r.UnsubscribeURL = "https://e.example/u"
		h, _, err := tm.Preview(&tt.r)
		if err != nil {
			t.Fatalf("%s: %v", tt.body, err)
		}
		if !strings.Contains(h, "<p>"+tt.want+"</p>") {
			t.Errorf("%s = %q, want %q", tt.body, between(h, "<p>", "</p>"), tt.want)
		}
	}
}

func between(s, a, b string) string {
	_, s, _ = strings.Cut(s, a)
	s, _, _ = strings.Cut(s, b)
	return s
}
