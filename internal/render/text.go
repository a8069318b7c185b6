package render

import (
	"bytes"
	"html"
	"strconv"
	"strings"
	"unicode/utf8"
)

// htmlToText appends a plain-text rendering of an HTML newsletter to out:
// paragraphs separated by blank lines, "# " headings, "- " and "1. " list
// items, "> " quotes, links as "text (url)", image alt texts, data tables
// as "a | b" rows. Head, scripts, styles and elements hidden with
// display:none (preheaders) are left out. Lines are not wrapped: the mail
// encoder takes care of line length, and wrapping would make the output
// depend on the length of reader values the fast path fills in later.
func htmlToText(out *bytes.Buffer, src []byte) {
	c := converter{b: out, base: out.Len()}
	out.Grow(len(src) / 2)
	z := tokenizer{s: string(src)}
	for {
		tok, ok := z.next()
		if !ok {
			break
		}
		c.token(tok)
	}
	for len(c.links) > 0 {
		c.end("a")
	}
	// End with exactly one newline.
	b := out.Bytes()
	n := len(b)
	for n > c.base && (b[n-1] == '\n' || b[n-1] == ' ') {
		n--
	}
	out.Truncate(n)
	if n > c.base {
		out.WriteByte('\n')
	}
}

type converter struct {
	b       *bytes.Buffer // output, from base on
	base    int
	nl      int  // newlines at the end of b
	want    int  // newlines wanted before the next text
	space   bool // a space is wanted before the next text
	started bool // b holds text
	skip    string
	skipN   int
	pre     int
	heading int
	prefix  []string // per open blockquote or list item: "> " or indentation
	bullet  string   // marker of a list item whose first text is pending
	lists   []listState
	links   []linkState
	tables  []tableState
	preLine []string // open elements styled white-space:pre*, whose newlines count
}

type listState struct {
	ordered bool
	n       int
}

type linkState struct {
	href  string
	start int
}

type tableState struct {
	data  bool // has header cells: rows print as "a | b"
	cells int  // cells so far in the current row
}

// Elements that start and end a paragraph (two newlines) or a line (one).
func blockBreak(name string) int {
	switch name {
	case "p", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "blockquote", "pre", "table", "hr", "dl", "figure":
		return 2
	case "div", "section", "article", "header", "footer", "main", "nav", "aside", "center",
		"tr", "li", "dt", "dd", "address", "figcaption", "td", "th", "tbody", "thead", "tfoot", "caption", "form", "fieldset", "details", "summary":
		return 1
	}
	return 0
}

func isVoid(name string) bool {
	switch name {
	case "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source", "track", "wbr":
		return true
	}
	return false
}

func (c *converter) token(tok htmlToken) {
	if c.skip != "" {
		switch {
		case tok.kind == tokStart && tok.name == c.skip && !tok.selfClosing:
			c.skipN++
		case tok.kind == tokEnd && tok.name == c.skip:
			c.skipN--
			if c.skipN == 0 {
				c.skip = ""
			}
		}
		return
	}
	switch tok.kind {
	case tokText:
		c.text(tok.text)
	case tokStart:
		c.start(tok)
	case tokEnd:
		c.end(tok.name)
	}
}

func hidden(tok htmlToken) bool {
	if _, ok := tok.attr("hidden"); ok {
		return true
	}
	style, _ := tok.attr("style")
	return indexFold(style, "none") >= 0 && strings.Contains(compactStyle(style), "display:none")
}

// compactStyle lower-cases a style attribute and drops its white space.
func compactStyle(style string) string {
	return strings.ToLower(strings.Join(strings.Fields(style), ""))
}

func (c *converter) start(tok htmlToken) {
	name := tok.name
	switch name {
	case "head", "script", "style", "title", "template", "noscript", "select", "textarea", "object", "svg":
		if !tok.selfClosing {
			c.skip, c.skipN = name, 1
		}
		return
	}
	if hidden(tok) {
		if !isVoid(name) && !tok.selfClosing {
			c.skip, c.skipN = name, 1
		}
		return
	}
	if n := c.breakFor(name); n > 0 {
		c.block(n)
	}
	if style, _ := tok.attr("style"); !isVoid(name) && !tok.selfClosing && indexFold(style, "pre") >= 0 &&
		strings.Contains(compactStyle(style), "white-space:pre") {
		c.preLine = append(c.preLine, name)
	}
	switch name {
	case "br":
		c.newline()
	case "hr":
		c.write("---")
		c.block(2)
	case "img":
		if alt, _ := tok.attr("alt"); strings.TrimSpace(alt) != "" {
			c.inline(alt)
		}
	case "a":
		href, _ := tok.attr("href")
		c.links = append(c.links, linkState{href: strings.TrimSpace(href), start: c.b.Len()})
	case "h1", "h2", "h3", "h4", "h5", "h6":
		c.heading = int(name[1] - '0')
	case "pre":
		c.pre++
	case "blockquote":
		c.prefix = append(c.prefix, "> ")
	case "ul", "ol":
		c.lists = append(c.lists, listState{ordered: name == "ol"})
	case "li":
		marker := "- "
		if n := len(c.lists); n > 0 && c.lists[n-1].ordered {
			c.lists[n-1].n++
			marker = strconv.Itoa(c.lists[n-1].n) + ". "
		}
		c.bullet = marker
		c.prefix = append(c.prefix, strings.Repeat(" ", len(marker)))
	case "table":
		c.tables = append(c.tables, tableState{})
	case "thead", "th":
		if n := len(c.tables); n > 0 {
			c.tables[n-1].data = true
		}
		if name == "th" {
			c.cell()
		}
	case "tr":
		if n := len(c.tables); n > 0 {
			c.tables[n-1].cells = 0
		}
	case "td":
		c.cell()
	}
}

// cell separates the cells of a data table's row with " | ".
func (c *converter) cell() {
	n := len(c.tables)
	if n == 0 {
		return
	}
	t := &c.tables[n-1]
	if t.data && t.cells > 0 {
		c.want = 0
		c.space = true
		c.write("|")
		c.space = true
	}
	t.cells++
}

func (c *converter) end(name string) {
	if n := len(c.preLine); n > 0 && c.preLine[n-1] == name {
		c.preLine = c.preLine[:n-1]
	}
	switch name {
	case "a":
		if n := len(c.links); n > 0 {
			l := c.links[n-1]
			c.links = c.links[:n-1]
			c.endLink(l)
		}
	case "h1", "h2", "h3", "h4", "h5", "h6":
		c.heading = 0
	case "pre":
		if c.pre > 0 {
			c.pre--
		}
	case "blockquote":
		c.popPrefix("> ")
	case "ul", "ol":
		if n := len(c.lists); n > 0 {
			c.lists = c.lists[:n-1]
		}
	case "li":
		c.bullet = ""
		if n := len(c.prefix); n > 0 && c.prefix[n-1] != "> " {
			c.prefix = c.prefix[:n-1]
		}
	case "table":
		if n := len(c.tables); n > 0 {
			c.tables = c.tables[:n-1]
		}
	case "td", "th":
		if n := len(c.tables); n > 0 && c.tables[n-1].data {
			c.space = true
			return
		}
	}
	if n := c.breakFor(name); n > 0 {
		c.block(n)
	}
}

// breakFor is blockBreak, except that nested lists are not set apart.
func (c *converter) breakFor(name string) int {
	if (name == "ul" || name == "ol") && len(c.lists) > 0 {
		return 1
	}
	return blockBreak(name)
}

func (c *converter) popPrefix(p string) {
	for i := len(c.prefix) - 1; i >= 0; i-- {
		if c.prefix[i] == p {
			c.prefix = append(c.prefix[:i], c.prefix[i+1:]...)
			return
		}
	}
}

// endLink writes " (url)" after a link's text unless the text already is
// the address, or the link goes nowhere useful.
func (c *converter) endLink(l linkState) {
	href := l.href
	lower := strings.ToLower(href)
	if href == "" || strings.HasPrefix(href, "#") || strings.HasPrefix(lower, "javascript:") {
		return
	}
	text := ""
	if l.start <= c.b.Len() {
		text = strings.TrimSpace(string(c.b.Bytes()[l.start:]))
	}
	switch {
	case text == "":
		c.inline(href)
	case text == href, "mailto:"+text == href, strings.TrimSuffix(href, "/") == strings.TrimSuffix(text, "/"),
		strings.HasPrefix(lower, "http") && strings.TrimPrefix(strings.TrimPrefix(href, "https://"), "http://") == text:
	default:
		c.space = true
		c.write("(" + href + ")")
	}
}

func (c *converter) block(n int) {
	if c.started && n > c.want {
		c.want = n
	}
	c.space = false
}

func (c *converter) newline() {
	if !c.started {
		return
	}
	c.flushBreak()
	if c.nl >= 2 {
		return // at most one blank line
	}
	c.b.WriteByte('\n')
	c.nl++
	c.space = false
}

func (c *converter) flushBreak() {
	for c.nl < c.want {
		c.b.WriteByte('\n')
		c.nl++
	}
	c.want = 0
}

// write appends one word or preformatted run, with the pending break,
// indentation or space before it.
func (c *converter) write(s string) {
	if s == "" {
		return
	}
	if c.started {
		c.flushBreak()
	}
	if !c.started || c.nl > 0 {
		for i, p := range c.prefix {
			if i == len(c.prefix)-1 && c.bullet != "" {
				p = c.bullet
				c.bullet = ""
			}
			c.b.WriteString(p)
		}
		if c.heading > 0 {
			c.b.WriteString(strings.Repeat("#", c.heading) + " ")
		}
	} else if c.space {
		c.b.WriteByte(' ')
	}
	c.space = false
	c.nl = 0
	c.started = true
	c.b.WriteString(s)
}

// inline writes text that flows with its surroundings.
func (c *converter) inline(s string) {
	for _, w := range strings.FieldsFunc(s, isHTMLSpace) {
		w = dropInvisible(w)
		if w == "" {
			continue
		}
		c.write(w)
		c.space = true
	}
}

func (c *converter) text(s string) {
	if c.pre > 0 {
		for i, line := range strings.Split(s, "\n") {
			if i > 0 {
				c.newline()
			}
			if line != "" {
				c.space = false
				c.write(strings.ReplaceAll(line, "\t", "    "))
			}
		}
		return
	}
	if len(c.preLine) > 0 {
		for i, line := range strings.Split(s, "\n") {
			if i > 0 {
				c.newline()
			}
			c.flow(line)
		}
		return
	}
	c.flow(s)
}

// flow writes text whose white space collapses.
func (c *converter) flow(s string) {
	for i := 0; i < len(s); {
		r, w := rune(s[i]), 1
		if r >= utf8.RuneSelf {
			r, w = utf8.DecodeRuneInString(s[i:])
		}
		if isHTMLSpace(r) {
			if c.started && c.nl == 0 {
				c.space = true
			}
			i += w
			continue
		}
		j := i + w
		for j < len(s) {
			r, w := rune(s[j]), 1
			if r >= utf8.RuneSelf {
				r, w = utf8.DecodeRuneInString(s[j:])
			}
			if isHTMLSpace(r) {
				break
			}
			j += w
		}
		if word := dropInvisible(s[i:j]); word != "" {
			c.write(word)
		}
		i = j
	}
}

func isHTMLSpace(r rune) bool {
	switch r {
	case ' ', '\t', '\n', '\r', '\f', '\v', '\u00a0':
		return true
	}
	return false
}

// isInvisible reports characters that newsletters use for spacing tricks
// (zero-width joiners in preheaders, soft hyphens) and that only clutter
// text.
func isInvisible(r rune) bool {
	switch r {
	case '\u00ad', '\u034f', '\u200b', '\u200c', '\u200d', '\u2060', '\ufeff':
		return true
	}
	return false
}

func dropInvisible(s string) string {
	if !strings.ContainsFunc(s, isInvisible) {
		return s
	}
	return strings.Map(func(r rune) rune {
		if isInvisible(r) {
			return -1
		}
		return r
	}, s)
}

// A small HTML tokenizer, forgiving like browsers are: it never fails, and
// unknown constructs become text.

type tokKind uint8

const (
	tokText tokKind = iota
	tokStart
	tokEnd
	tokOther // comments, doctype
)

type htmlAttr struct{ name, value string }

type htmlToken struct {
	kind        tokKind
	name        string // lower case
	attrs       []htmlAttr
	text        string // decoded
	selfClosing bool
}

func (t htmlToken) attr(name string) (string, bool) {
	for _, a := range t.attrs {
		if a.name == name {
			return a.value, true
		}
	}
	return "", false
}

type tokenizer struct {
	s   string
	pos int
	raw string // inside <script>, <style>, …: text up to </raw>
}

func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

func (z *tokenizer) next() (htmlToken, bool) {
	s := z.s
	if z.pos >= len(s) {
		return htmlToken{}, false
	}
	if z.raw != "" {
		end := indexFold(s[z.pos:], "</"+z.raw)
		if end < 0 {
			end = len(s) - z.pos
		}
		text := s[z.pos : z.pos+end]
		z.pos += end
		z.raw = ""
		return htmlToken{kind: tokText, text: text}, true
	}
	if s[z.pos] != '<' {
		end := strings.IndexByte(s[z.pos+1:], '<')
		if end < 0 {
			end = len(s)
		} else {
			end += z.pos + 1
		}
		text := s[z.pos:end]
		z.pos = end
		return htmlToken{kind: tokText, text: html.UnescapeString(text)}, true
	}
	rest := s[z.pos:]
	switch {
	case strings.HasPrefix(rest, "<!--"):
		end := strings.Index(rest[4:], "-->")
		if end < 0 {
			z.pos = len(s)
		} else {
			z.pos += 4 + end + 3
		}
		return htmlToken{kind: tokOther}, true
	case len(rest) > 1 && (rest[1] == '!' || rest[1] == '?'):
		end := strings.IndexByte(rest, '>')
		if end < 0 {
			z.pos = len(s)
		} else {
			z.pos += end + 1
		}
		return htmlToken{kind: tokOther}, true
	case len(rest) > 2 && rest[1] == '/' && isLetter(rest[2]):
		i := 2
		for i < len(rest) && !isTagEnd(rest[i]) {
			i++
		}
		name := strings.ToLower(rest[2:i])
		end := strings.IndexByte(rest[i:], '>')
		if end < 0 {
			z.pos = len(s)
		} else {
			z.pos += i + end + 1
		}
		return htmlToken{kind: tokEnd, name: name}, true
	case len(rest) > 1 && isLetter(rest[1]):
		return z.startTag(), true
	}
	// A '<' that starts no tag is text.
	end := strings.IndexByte(rest[1:], '<')
	if end < 0 {
		end = len(rest)
	} else {
		end++
	}
	z.pos += end
	return htmlToken{kind: tokText, text: html.UnescapeString(rest[:end])}, true
}

func isTagEnd(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '/' || c == '>'
}

func (z *tokenizer) startTag() htmlToken {
	s := z.s
	i := z.pos + 1
	for i < len(s) && !isTagEnd(s[i]) {
		i++
	}
	tok := htmlToken{kind: tokStart, name: strings.ToLower(s[z.pos+1 : i])}
	for i < len(s) {
		c := s[i]
		switch {
		case c == '>':
			z.pos = i + 1
			z.rawAfter(tok)
			return tok
		case c == '/' && i+1 < len(s) && s[i+1] == '>':
			tok.selfClosing = true
			z.pos = i + 2
			return tok
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '/':
			i++
			continue
		}
		// attribute name
		j := i
		for j < len(s) && !isTagEnd(s[j]) && s[j] != '=' || j == i && j < len(s) && s[j] == '=' {
			j++
		}
		name := strings.ToLower(s[i:j])
		for j < len(s) && (s[j] == ' ' || s[j] == '\t' || s[j] == '\n' || s[j] == '\r' || s[j] == '\f') {
			j++
		}
		value := ""
		if j < len(s) && s[j] == '=' {
			j++
			for j < len(s) && (s[j] == ' ' || s[j] == '\t' || s[j] == '\n' || s[j] == '\r' || s[j] == '\f') {
				j++
			}
			if j < len(s) && (s[j] == '"' || s[j] == '\'') {
				q := s[j]
				k := strings.IndexByte(s[j+1:], q)
				if k < 0 {
					value, j = s[j+1:], len(s)
				} else {
					value, j = s[j+1:j+1+k], j+1+k+1
				}
			} else {
				k := j
				for k < len(s) && !(s[k] == ' ' || s[k] == '\t' || s[k] == '\n' || s[k] == '\r' || s[k] == '\f' || s[k] == '>') {
					k++
				}
				value, j = s[j:k], k
			}
		}
		tok.attrs = append(tok.attrs, htmlAttr{name: name, value: html.UnescapeString(value)})
		i = j
	}
	z.pos = len(s)
	return tok
}

// rawAfter switches to raw text after elements whose content is not HTML.
func (z *tokenizer) rawAfter(tok htmlToken) {
	switch tok.name {
	case "script", "style", "textarea", "title", "xmp", "noscript", "iframe", "noembed", "noframes":
		z.raw = tok.name
	}
}

// indexFold is strings.Index ignoring ASCII case of the needle's letters.
func indexFold(s, sub string) int {
	if sub == "" {
		return 0
	}
	lo, up := lowerASCII(sub[0]), upperASCII(sub[0])
	for i := 0; i+len(sub) <= len(s); i++ {
		if (s[i] == lo || s[i] == up) && strings.EqualFold(s[i:i+len(sub)], sub) {
			return i
		}
	}
	return -1
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func upperASCII(c byte) byte {
	if 'a' <= c && c <= 'z' {
		return c - ('a' - 'A')
	}
	return c
}
