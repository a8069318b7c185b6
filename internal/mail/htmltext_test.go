package mail

import "testing"

func TestHTMLToText(t *testing.T) {
	tests := []struct {
		name, html, want string
	}{
		{"empty", "", ""},
		{"plain text", "Hello   world\n\n", "Hello world"},
		{"paragraphs", "<p>One</p><p>Two</p>", "One\n\nTwo"},
		{"line breaks", "a<br>b<br/>c<BR />d", "a\nb\nc\nd"},
		{"double br is a blank line", "a<br><br>b", "a\n\nb"},
		{"headings and divs", "<h1>Title</h1><div>x</div><div>y</div>", "Title\n\nx\ny"},
		{"whitespace collapses", "<p>  lots \n\t of   space  </p>", "lots of space"},
		{"entities", "<p>Fish &amp; chips &lt;3 &mdash; caf&eacute; &#8364;5 &#x41;</p>", "Fish & chips <3 — café €5 A"},
		{"nbsp and preheader padding", "<p>a&nbsp;b</p><div>&zwnj;&nbsp;&zwnj;&nbsp;</div><p>c</p>", "a b\n\nc"},
		{"link", `<p>Read <a href="https://example.com/post?a=1&amp;b=2">the post</a>.</p>`, "Read the post (https://example.com/post?a=1&b=2)."},
		{"link whose text is the url", `<a href="https://example.com/">https://example.com</a>`, "https://example.com"},
		{"link without text", `<a href="https://example.com/x"><img src="logo.png"></a>`, "https://example.com/x"},
		{"image link with alt", `<a href="https://example.com/x"><img src="logo.png" alt="Logo"></a>`, "Logo (https://example.com/x)"},
		{"mailto", `<a href="mailto:a@example.com">a@example.com</a>`, "a@example.com"},
		{"anchor link", `<a href="#top">Top</a>`, "Top"},
		{"attribute with >", `<a title="a > b" href='https://x.example/'>x</a>`, "x (https://x.example/)"},
		{"unordered list", "<p>Items:</p><ul><li>one</li><li>two</li></ul><p>after</p>", "Items:\n\n- one\n- two\n\nafter"},
		{"ordered list", "<ol><li>one<li>two</ol>", "1. one\n2. two"},
		{"nested list", "<ul><li>a<ul><li>b</li></ul></li><li>c</li></ul>", "- a\n  - b\n- c"},
		{"drops head style script", "<html><head><title>T</title><style>p{x:y}</style></head><body><script>alert(1)</script><p>Body</p><style>.a{}</style></body></html>", "Body"},
		{"comments and doctype", "<!DOCTYPE html><!-- hidden <p>x</p> --><p>shown</p>", "shown"},
		{"table", "<table><tr><td>a</td><td>b</td></tr><tr><td>c</td><td>d</td></tr></table>", "a b\nc d"},
		{"pre keeps whitespace", "<pre>  a\n    b</pre><p>c  d</p>", "  a\n    b\n\nc d"},
		{"hr", "a<hr>b", "a\n\n----------\n\nb"},
		{"uppercase tags", "<P>One</P><P>Two</P>", "One\n\nTwo"},
		{"lone less-than", "a < b, 1<2 and c<d", "a < b, 1<2 and c"}, // "<d" opens a tag, as in browsers
		{"unclosed comment", "a<!-- b", "a"},
		{"unclosed script", "a<script>b", "a"},
		{"unclosed tag", "a<p", "a"},
		{"inline elements", "<p><b>bold</b> and <i>it</i><span>alic</span></p>", "bold and italic"},
		{"head without end", "<head><title>T</title><p>x</p>", "x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := HTMLToText(tt.html); got != tt.want {
				t.Errorf("HTMLToText(%q)\n got %q\nwant %q", tt.html, got, tt.want)
			}
		})
	}
}
