package render

import (
	"html/template"
	"slices"
	"strings"
	"testing"
	"text/template/parse"
)

// escapeContexts are the HTML contexts the fast path handles, with the
// escaper chain html/template applies there.
var escapeContexts = []struct {
	prefix, suffix string
	chain          []escaper
}{
	{`<p>`, `</p>`, []escaper{escHTML}},
	{`<p title="`, `">`, []escaper{escHTML}},
	{`<p title='`, `'>`, []escaper{escHTML}},
	{`<p title=`, `>`, []escaper{escNospace}},
	{`<a href="`, `">`, []escaper{escURLFilter, escURLNorm, escHTML}},
	{`<a href=`, `>`, []escaper{escURLFilter, escURLNorm, escNospace}},
	{`<a href="/p/`, `">`, []escaper{escURLNorm, escHTML}},
	{`<a href="mailto:`, `">`, []escaper{escURLNorm, escHTML}},
	{`<a href="/p?q=`, `">`, []escaper{escURLQuery, escHTML}},
	{`<img src="https://x.example/#`, `">`, []escaper{escURLQuery, escHTML}},
	{`<title>`, `</title>`, []escaper{escHTML}},
	{`<textarea>`, `</textarea>`, []escaper{escHTML}},
}

var escapeSamples = []string{
	"", " ", "plain", `<script>alert("x")</script>`, "a'b\"c&d+e=f`g", "\x00", "\t\n\v\f\r ",
	"\xff\xfe\xc3", "\uFFFD\uFDD0\uFDEF\uFFF0\uFFFF\uFDCF", "Zoë 名前 😀", "javascript:alert(1)",
	"JavaScript:x", "https://a.example/p?q=1&r=a b#f", "%41%4g%zz%", "%", "%4", "mailto:a@b", "/a:b",
	"a/b:c", "!#$&*+,/:;=?@[]", "-._~", "'()", "data:x", " javascript:x", "http:", ":", "#",
}

// TestEscapersMatchHTMLTemplate checks both the chains html/template
// writes into escaped trees and the fast path's implementation of them.
func TestEscapersMatchHTMLTemplate(t *testing.T) {
	for _, ctx := range escapeContexts {
		tm := template.Must(template.New("t").Parse(ctx.prefix + "{{.}}" + ctx.suffix))
		var b strings.Builder
		if err := tm.Execute(&b, ""); err != nil {
			t.Fatal(err)
		}
		var got []escaper
		for _, n := range tm.Tree.Root.Nodes {
			if a, ok := n.(*parse.ActionNode); ok {
				for _, c := range a.Pipe.Cmds[1:] {
					e, ok := escaperByName(c.Args[0].(*parse.IdentifierNode).Ident)
					if !ok {
						t.Fatalf("%s: unsupported escaper %s", ctx.prefix, c)
					}
					got = append(got, e)
				}
			}
		}
		if !slices.Equal(got, ctx.chain) {
			t.Errorf("%s: chain %v, want %v", ctx.prefix, got, ctx.chain)
		}
	}
	for _, s := range escapeSamples {
		checkEscape(t, s)
	}
}

func checkEscape(t *testing.T, s string) {
	t.Helper()
	for _, ctx := range escapeContexts {
		tm := template.Must(template.New("t").Parse(ctx.prefix + "{{.}}" + ctx.suffix))
		var want strings.Builder
		if err := tm.Execute(&want, s); err != nil {
			t.Fatal(err)
		}
		got := ctx.prefix + string(appendEscaped(nil, s, ctx.chain)) + ctx.suffix
		if got != want.String() {
			t.Errorf("%s…%s with %q:\n got %q\nwant %q", ctx.prefix, ctx.suffix, s, got, want.String())
		}
	}
}

func FuzzEscape(f *testing.F) {
	for _, s := range escapeSamples {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		checkEscape(t, s)
	})
}

func TestTextValue(t *testing.T) {
	tests := []struct {
		s     string
		chain []escaper
		want  string
	}{
		{"  Ann \n Lee\x00 ", []escaper{escHTML}, " Ann Lee\uFFFD "},
		{"a\u200bb", []escaper{escHTML}, "ab"},
		{"https://x.example/a b?c=<d>", []escaper{escURLFilter, escURLNorm, escHTML}, "https://x.example/a%20b?c=%3cd%3e"},
		{"javascript:x", []escaper{escURLFilter, escURLNorm, escHTML}, "#ZgotmplZ"},
		{"a&b c", []escaper{escURLQuery, escHTML}, "a%26b%20c"},
	}
	for _, tt := range tests {
		if got := string(textValue(nil, tt.s, tt.chain)); got != tt.want {
			t.Errorf("textValue(%q, %v) = %q, want %q", tt.s, tt.chain, got, tt.want)
		}
	}
}
