package render

import (
	"bytes"
	"errors"
	"fmt"
	"html/template"
	"strings"
	"sync"
	"time"

	"github.com/heraldhq/herald"
)

// Campaign is what an editor writes.
type Campaign struct {
	ID      int64
	Name    string
	Subject string
	// Format of Body: "markdown" (also when empty) or "html".
	Format string
	// Body is itself an html/template that may use the reader fields, e.g.
	// "Hello {{.Reader.FirstName | default \"there\"}}".
	Body string
	// Layout is an html/template placing the body with {{.Body}}; "" means
	// DefaultLayout.
	Layout string
	// Date is the send date used by {{date}} and .Year; zero means the time
	// of Compile.
	Date time.Time
}

// Publisher is who sends the newsletter.
type Publisher struct {
	Name          string
	PostalAddress string
	// BaseURL is Herald's public URL; Compile uses it for the links of the
	// test message it checks.
	BaseURL string
}

// Reader is one recipient of a message.
type Reader struct {
	ID             int64
	Email          string
	Name           string
	Attributes     map[string]any
	UnsubscribeURL string
	ManageURL      string
}

// Template is a compiled campaign. It is safe for concurrent use.
type Template struct {
	body   *template.Template
	layout *template.Template
	data   templateData // campaign-wide values; reader fields empty

	fast     *program // nil on the fallback path
	fallback string   // why fast is nil

	bufs sync.Pool // *bytes.Buffer for the body on the fallback path
}

// Format names.
const (
	FormatMarkdown = "markdown"
	FormatHTML     = "html"
)

// Compile parses the campaign's body and layout, renders a test message,
// refuses the campaign (with an EINVALID *herald.Error a publisher can act
// on) when that message lacks an unsubscribe link or the postal address or
// a template is broken, and prepares the per-reader fast path. lists are the
// names of the lists the campaign is sent to.
func Compile(c Campaign, p Publisher, lists []string) (*Template, error) {
	if strings.TrimSpace(p.PostalAddress) == "" {
		return nil, herald.FieldError("postal_address", "no postal address is configured: set HERALD_POSTAL_ADDRESS, every newsletter must show it")
	}
	date := c.Date
	if date.IsZero() {
		date = time.Now().UTC()
	}
	funcs := funcMap(date)

	bodySrc, fromMarkdown, err := bodySource(c, funcs)
	if err != nil {
		return nil, err
	}
	body, err := template.New(bodyName).Funcs(funcs).Parse(bodySrc)
	if err != nil {
		return nil, templateError(bodyName, err, fromMarkdown)
	}
	layoutSrc := c.Layout
	if strings.TrimSpace(layoutSrc) == "" {
		layoutSrc = DefaultLayout
	}
	layout, err := template.New(layoutName).Funcs(funcs).Parse(layoutSrc)
	if err != nil {
		return nil, templateError(layoutName, err, false)
	}
	// The fast path rewrites copies of the parse trees; take them before the
	// first execution, which escapes the originals in place.
	bodyTrees, layoutTrees := copyTrees(body), copyTrees(layout)

	t := &Template{body: body, layout: layout, data: campaignData(c, p, lists, date)}
	t.bufs.New = func() any { return new(bytes.Buffer) }

	test := testReader(p.BaseURL)
	var h, x bytes.Buffer
	if err := t.renderSlow(test, &h, &x); err != nil {
		var te templateExecError
		if errors.As(err, &te) {
			return nil, templateError(te.part, te.err, te.part == bodyName && fromMarkdown)
		}
		return nil, err
	}
	an := analyze(bodyTrees, layoutTrees)
	if !an.usesBody {
		return nil, herald.FieldError("layout", "the layout does not show the newsletter: add {{.Body}} to the layout")
	}
	if err := checkMessage(h.String(), x.String(), test, p.PostalAddress); err != nil {
		return nil, err
	}

	t.fast, t.fallback = buildProgram(t, funcs, an, bodyTrees, layoutTrees, h.String())
	if t.fast == nil && t.fallback == "" {
		t.fallback = "unknown"
	}
	return t, nil
}

// Render appends the reader's HTML to htmlOut and plain text to textOut
// (which may be nil). On error neither buffer is changed.
func (t *Template) Render(r *Reader, htmlOut, textOut *bytes.Buffer) error {
	if r == nil {
		return errors.New("render: nil reader")
	}
	if t.fast != nil && t.fast.render(r, htmlOut, textOut) {
		return nil
	}
	return t.renderSlow(r, htmlOut, textOut)
}

// Preview renders one message as strings, for the admin UI and test sends.
func (t *Template) Preview(r *Reader) (html, text string, err error) {
	var h, x bytes.Buffer
	if err := t.Render(r, &h, &x); err != nil {
		return "", "", err
	}
	return h.String(), x.String(), nil
}

// Fallback returns "" when messages are filled in from pre-rendered chunks,
// or why every message is rendered in full with html/template (slower, and
// worth a log line).
func (t *Template) Fallback() string {
	return t.fallback
}

const (
	bodyName   = "body"
	layoutName = "layout"
)

// templateExecError marks an html/template execution error of one part.
type templateExecError struct {
	part string
	err  error
}

func (e templateExecError) Error() string { return fmt.Sprintf("render %s: %v", e.part, e.err) }
func (e templateExecError) Unwrap() error { return e.err }

// renderSlow executes both templates in full: the reference semantics that
// the fast path reproduces.
func (t *Template) renderSlow(r *Reader, htmlOut, textOut *bytes.Buffer) error {
	d := t.data
	d.Reader = readerData{Name: r.Name, FirstName: firstName(r.Name), Email: r.Email, Attributes: r.Attributes}
	d.UnsubscribeURL, d.ManageURL = r.UnsubscribeURL, r.ManageURL

	bb := t.bufs.Get().(*bytes.Buffer)
	bb.Reset()
	defer t.bufs.Put(bb)
	if err := t.body.Execute(bb, &d); err != nil {
		return templateExecError{bodyName, err}
	}
	d.Body = template.HTML(bb.String())

	start := htmlOut.Len()
	if err := t.layout.Execute(htmlOut, &d); err != nil {
		htmlOut.Truncate(start)
		return templateExecError{layoutName, err}
	}
	if textOut != nil {
		htmlToText(textOut, htmlOut.Bytes()[start:])
	}
	return nil
}

// testReader is the reader of the message Compile checks.
func testReader(baseURL string) *Reader {
	base := strings.TrimRight(strings.TrimSpace(baseURL), "/")
	if base == "" {
		base = "https://example.com"
	}
	return &Reader{
		Email:          "reader@example.com",
		Name:           "Test Reader",
		UnsubscribeURL: base + "/unsubscribe/test-token",
		ManageURL:      base + "/manage/test-token",
	}
}

// checkMessage enforces the footer rules on a rendered test message.
func checkMessage(html, text string, r *Reader, postal string) error {
	unsub := r.UnsubscribeURL
	normUnsub := string(appendURL(nil, unsub, true))
	found := false
	z := tokenizer{s: html}
	for {
		tok, ok := z.next()
		if !ok {
			break
		}
		if tok.kind == tokStart && (tok.name == "a" || tok.name == "area") {
			if href, ok := tok.attr("href"); ok && (strings.TrimSpace(href) == unsub || strings.TrimSpace(href) == normUnsub) {
				found = true
				break
			}
		}
	}
	if !found {
		return herald.FieldError("layout", "the rendered newsletter has no unsubscribe link: add <a href=\"{{.UnsubscribeURL}}\">Unsubscribe</a> to the layout")
	}
	if !strings.Contains(text, unsub) && !strings.Contains(text, normUnsub) {
		return herald.FieldError("layout", "the plain-text version of the newsletter has no unsubscribe link: do not hide the {{.UnsubscribeURL}} link in the layout")
	}
	if !strings.Contains(collapseSpace(text), collapseSpace(postal)) {
		return herald.FieldError("layout", "the rendered newsletter does not show the postal address: set HERALD_POSTAL_ADDRESS and keep {{.PostalAddress}} visible in the layout")
	}
	return nil
}

// collapseSpace trims s and turns every run of white space into one space.
func collapseSpace(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
