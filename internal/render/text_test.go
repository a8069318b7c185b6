package render

import (
	"bytes"
	"strings"
	"testing"
)

func TestHTMLToText(t *testing.T) {
	tests := []struct {
		name, html, want string
	}{
		{"paragraphs", "<p>One\n  two</p><p>Three</p>", "One two\n\nThree\n"},
		{"entities and invisible characters", "<p>Fish &amp; chips&nbsp;&mdash; caf&eacute; &lt;3 a\u200cb&#8203;c</p>", "Fish & chips — café <3 abc\n"},
		{"head, script, style and comments dropped", "<html><head><title>T</title><style>p{}</style></head><body><!-- c --><script>x()</script><p>Body</p></body></html>", "Body\n"},
		{"hidden preheader dropped", `<div style="display: none; max-height:0">Preview text</div><div hidden>h</div><p>Body</p>`, "Body\n"},
		{"link with text", `<p>Read <a href="https://e.example/a?b=1&amp;c=2">the post</a>.</p>`, "Read the post (https://e.example/a?b=1&c=2).\n"},
		{"link whose text is the URL", `<a href="https://e.example/">https://e.example/</a> <a href="https://e.example/x">e.example/x</a>`, "https://e.example/ e.example/x\n"},
		{"mailto link", `<a href="mailto:a@e.example">a@e.example</a>`, "a@e.example\n"},
		{"image link", `<a href="https://e.example/"><img src="logo.png"></a>`, "https://e.example/\n"},
		{"anchor and script links", `<a href="#top">Top</a> <a href="javascript:x()">Do</a>`, "Top Do\n"},
		{"images", `<p><img src="a.png" alt="A chart"> <img src="spacer.gif" alt=""></p>`, "A chart\n"},
		{"headings", "<h1>Title</h1><p>Intro</p><h2>Part <em>one</em></h2>", "# Title\n\nIntro\n\n## Part one\n"},
		{"lists", "<ul><li>a</li><li>b<ul><li>c</li></ul></li></ul><ol><li>x</li><li>y</li></ol>", "- a\n- b\n  - c\n\n1. x\n2. y\n"},
		{"blockquote", "<blockquote><p>Quoted\ntext</p><p>More</p></blockquote><p>After</p>", "> Quoted text\n\n> More\n\nAfter\n"},
		{"pre", "<pre><code>a  b\n  c\n</code></pre><p>d</p>", "a  b\n  c\n\nd\n"},
		{"br and hr", "<p>a<br>b<br/><br>c</p><hr><p>d</p>", "a\nb\n\nc\n\n---\n\nd\n"},
		{"data table", "<table><thead><tr><th>A</th><th>B</th></tr></thead><tbody><tr><td>1</td><td>2</td></tr></tbody></table>", "A | B\n1 | 2\n"},
		{"layout table", `<table role="presentation"><tr><td>Header</td></tr><tr><td><p>Body</p></td></tr><tr><td>Footer</td></tr></table>`, "Header\n\nBody\n\nFooter\n"},
		{"pre-line address", `<p style="white-space: pre-line">1 Main St
New York</p>`, "1 Main St\nNew York\n"},
		{"broken markup", `<p>a < b & c</p><p title="x>y">z</p><a href='q'>unclosed`, "a < b & c\n\nz\n\nunclosed (q)\n"},
		{"inline spacing", "<p>a<b>b</b> <i>c</i>\n<span>d</span></p>", "ab c d\n"},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			htmlToText(&b, []byte(tt.html))
			if b.String() != tt.want {
				t.Errorf("got\n%q\nwant\n%q", b.String(), tt.want)
			}
		})
	}
}

func TestTokenizer(t *testing.T) {
	z := tokenizer{s: `<A HREF="x&amp;y" data-x=1 checked title='a "b"'>T</a><script>if (a<b) {}</script><br/>`}
	var got []string
	for {
		tok, ok := z.next()
		if !ok {
			break
		}
		switch tok.kind {
		case tokStart:
			s := "<" + tok.name
			for _, a := range tok.attrs {
				s += " " + a.name + "=" + a.value
			}
			if tok.selfClosing {
				s += "/"
			}
			got = append(got, s+">")
		case tokEnd:
			got = append(got, "</"+tok.name+">")
		case tokText:
			got = append(got, tok.text)
		}
	}
	want := []string{`<a href=x&y data-x=1 checked= title=a "b">`, "T", "</a>", "<script>", "if (a<b) {}", "</script>", "<br/>"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

func TestMarkdown(t *testing.T) {
	tests := []struct {
		name, md, want string
	}{
		{"actions in text and links",
			"Hi **{{.Reader.Name}}**, see [this]({{.ManageURL}}) or [that]({{ .UnsubscribeURL }}).",
			`<p>Hi <strong>{{.Reader.Name}}</strong>, see <a href="{{.ManageURL}}">this</a> or <a href="{{ .UnsubscribeURL }}">that</a>.</p>` + "\n"},
		{"markdown syntax inside actions is left alone",
			`{{.Reader.Attributes.first_name}} {{"*not emphasis*"}} {{"}}"}} {{/* [x](y) */}}`,
			`<p>{{.Reader.Attributes.first_name}} {{"*not emphasis*"}} {{"}}"}} {{/* [x](y) */}}</p>` + "\n"},
		{"control actions lose their paragraph",
			"{{if .Lists}}\n\nLists!\n\n{{else}}\n\nNone\n\n{{end}}",
			"{{if .Lists}}<p>Lists!</p>\n{{else}}<p>None</p>\n{{end}}"},
		{"control lines split paragraphs and lists",
			"You are on:\n{{range .Lists}}\n- {{.}}\n{{end}}\nBye\n\n```\n{{if .X}}\n```",
			"<p>You are on:</p>\n{{range .Lists}}<ul>\n<li>{{.}}</li>\n</ul>\n{{end}}<p>Bye</p>\n<pre><code>{{if .X}}\n</code></pre>\n"},
		{"control lines inside HTML blocks",
			"<table>\n{{range .Lists}}\n<tr><td>{{.}}</td></tr>\n{{end}}\n</table>",
			"<table>\n{{range .Lists}}<tr><td>{{.}}</td></tr>\n{{end}}</table>"},
		{"linkified URL with an action",
			"Go to https://e.example/p?e={{.Reader.Email}} now",
			`<p>Go to <a href="https://e.example/p?e={{.Reader.Email}}">https://e.example/p?e={{.Reader.Email}}</a> now</p>` + "\n"},
		{"raw HTML allowed", `<div class="x">{{.Reader.Name}}</div>`, `<div class="x">{{.Reader.Name}}</div>`},
		{"placeholder text in the source", "Hrldact0Z {{.Year}}", "<p>Hrldact0Z {{.Year}}</p>\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := markdownToHTML(tt.md)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got\n%q\nwant\n%q", got, tt.want)
			}
		})
	}
}
