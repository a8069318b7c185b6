package render

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

// benchBody is a typical newsletter of about 4.5 KB of Markdown: greeting,
// sections with links, a list, a quote, a few reader fields.
func benchBody() string {
	var b strings.Builder
	b.WriteString("# Hello {{.Reader.FirstName | default \"reader\"}}!\n\n")
	b.WriteString("Here is what happened this week at **{{.Publisher}}**. You are reading this as {{.Reader.Email}}.\n\n")
	for i := 1; b.Len() < 4300; i++ {
		fmt.Fprintf(&b, "## Story %d: a headline that runs for a while\n\n", i)
		b.WriteString("Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua. ")
		b.WriteString("Ut enim ad minim veniam, quis nostrud exercitation ullamco laboris nisi ut aliquip ex ea commodo consequat.\n\n")
		fmt.Fprintf(&b, "- [Read the full story](https://news.example.com/stories/%d?utm_source=newsletter)\n- Share it with a friend\n\n", i)
		if i%2 == 0 {
			b.WriteString("> Duis aute irure dolor in reprehenderit in voluptate velit esse cillum dolore eu fugiat nulla pariatur.\n\n")
		}
	}
	b.WriteString("See you next week, {{.Reader.FirstName | default \"friend\"}}. Your city: {{.Reader.Attributes.city | default \"unknown\"}}.\n")
	return b.String()
}

var benchReader = &Reader{
	ID:             42,
	Email:          "ada.lovelace+news@example.com",
	Name:           "Ada Lovelace",
	Attributes:     map[string]any{"city": "London", "plan": "pro"},
	UnsubscribeURL: "https://news.example.com/unsubscribe/eyJ0IjoxNzA5MjM0NTY3fQ.c2lnbmF0dXJlLWJ5dGVz",
	ManageURL:      "https://news.example.com/manage/eyJ0IjoxNzA5MjM0NTY3fQ.c2lnbmF0dXJlLWJ5dGVz",
}

func benchRender(b *testing.B, c Campaign, wantFast bool) {
	tm := mustCompile(b, c)
	if fast := tm.Fallback() == ""; fast != wantFast {
		b.Fatalf("fast path %v, want %v (%s)", fast, wantFast, tm.Fallback())
	}
	var h, x bytes.Buffer
	if err := tm.Render(benchReader, &h, &x); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		h.Reset()
		x.Reset()
		if err := tm.Render(benchReader, &h, &x); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(h.Len()), "html-bytes")
	b.ReportMetric(float64(x.Len()), "text-bytes")
}

// BenchmarkRender is the sender's hot path: default layout, ~4.5 KB body,
// HTML and text per message, buffers reused as the sender does.
func BenchmarkRender(b *testing.B) {
	benchRender(b, Campaign{Subject: "This week", Format: FormatMarkdown, Body: benchBody()}, true)
}

// BenchmarkRenderFallback is the same newsletter with a condition on a
// reader field, which forces full html/template execution per message.
func BenchmarkRenderFallback(b *testing.B) {
	body := benchBody() + "\n{{if .Reader.Attributes.plan}}\n\nThanks for being a {{.Reader.Attributes.plan}} member!\n\n{{end}}\n"
	benchRender(b, Campaign{Subject: "This week", Format: FormatMarkdown, Body: body}, false)
}

func BenchmarkCompile(b *testing.B) {
	c := Campaign{Subject: "This week", Format: FormatMarkdown, Body: benchBody(), Date: testDate}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compile(c, testPublisher, testLists); err != nil {
			b.Fatal(err)
		}
	}
}
