package mail

import (
	"html"
	"strconv"
	"strings"
	"unicode/utf8"
)

// HTMLToText renders HTML as readable plain text for the text/plain
// alternative: block elements become paragraphs, <br> a line break, links
// "text (url)", list items "- item" (numbered in <ol>), table cells are
// separated by spaces and rows by line breaks. <head>, <style>, <script> and
// comments are dropped, entities decoded and whitespace collapsed (except in
// <pre>). Zero-width characters used as preheader padding are removed.
//
// It is a small hand-written scanner rather than a full HTML parser: it
// runs once per message on the send path and must stay cheap, and mail HTML
// is produced by our own templates.
func HTMLToText(src string) string {
	t := textWriter{out: make([]byte, 0, len(src)/2+16), linkStart: -1}
	headEnd := true // whether a </head> may follow; searched for only once
	for i := 0; i < len(src); {
		lt := strings.IndexByte(src[i:], '<')
		if lt < 0 {
			t.text(src[i:])
			break
		}
		if lt > 0 {
			t.text(src[i : i+lt])
		}
		i += lt
		rest := src[i:]
		switch {
		case strings.HasPrefix(rest, "<!--"):
			end := strings.Index(rest[4:], "-->")
			if end < 0 {
				return t.String()
			}
			i += 4 + end + 3
			continue
		case len(rest) > 1 && (rest[1] == '!' || rest[1] == '?'):
			end := strings.IndexByte(rest, '>')
			if end < 0 {
				return t.String()
			}
			i += end + 1
			continue
		case len(rest) > 1 && (isASCIILetter(rest[1]) || rest[1] == '/' && len(rest) > 2 && isASCIILetter(rest[2])):
		default:
			// A lone "<" is text, as browsers treat it.
			t.text("<")
			i++
			continue
		}
		tg, n := parseTag(rest)
		i += n
		if skip := t.tag(tg); skip != "" && !tg.closing && !tg.selfClosing && (skip != "head" || headEnd) {
			// Skip raw content up to the closing tag. Without one, <head> is
			// ignored (its children are still dropped one by one) and the
			// others run to the end, as a browser would do.
			end := indexFold(src[i:], "</"+skip)
			if end < 0 {
				if skip == "head" {
					headEnd = false
					continue
				}
				return t.String()
			}
			i += end
			if gt := strings.IndexByte(src[i:], '>'); gt >= 0 {
				i += gt + 1
			} else {
				i = len(src)
			}
		}
	}
	return t.String()
}

func isASCIILetter(c byte) bool { return 'a' <= c|0x20 && c|0x20 <= 'z' }

// indexFold is strings.Index for an ASCII lower-case needle, ignoring case.
func indexFold(s, needle string) int {
	for i := 0; i+len(needle) <= len(s); i++ {
		j := strings.IndexByte(s[i:], needle[0])
		if j < 0 {
			return -1
		}
		i += j
		if i+len(needle) <= len(s) && strings.EqualFold(s[i:i+len(needle)], needle) {
			return i
		}
	}
	return -1
}

type tag struct {
	name        string // lower case
	closing     bool   // </name>
	selfClosing bool   // <name/>
	attrs       string // raw attribute text
}

// parseTag parses the tag at the start of s (s[0] == '<') and returns it and
// the number of bytes it spans.
func parseTag(s string) (tag, int) {
	var tg tag
	i := 1
	if s[i] == '/' {
		tg.closing = true
		i++
	}
	start := i
	for i < len(s) && s[i] != '>' && s[i] != '/' && !isHTMLSpace(s[i]) {
		i++
	}
	tg.name = strings.ToLower(s[start:i])
	attrStart := i
	// Find the end, honouring quoted attribute values that may contain ">".
	var quote byte
	for ; i < len(s); i++ {
		c := s[i]
		if quote != 0 {
			if c == quote {
				quote = 0
			}
			continue
		}
		if c == '"' || c == '\'' {
			quote = c
		} else if c == '>' {
			tg.attrs = s[attrStart:i]
			tg.selfClosing = i > 0 && s[i-1] == '/'
			return tg, i + 1
		}
	}
	tg.attrs = s[attrStart:]
	return tg, len(s)
}

// attr returns the decoded value of the attribute name (lower case) in the
// tag's attribute text, or "".
func (tg *tag) attr(name string) string {
	s := tg.attrs
	for len(s) > 0 {
		for len(s) > 0 && (isHTMLSpace(s[0]) || s[0] == '/') {
			s = s[1:]
		}
		i := 0
		for i < len(s) && s[i] != '=' && s[i] != '>' && !isHTMLSpace(s[i]) {
			i++
		}
		key := s[:i]
		s = s[i:]
		for len(s) > 0 && isHTMLSpace(s[0]) {
			s = s[1:]
		}
		if len(s) == 0 || s[0] != '=' {
			if key == "" {
				return ""
			}
			continue
		}
		s = s[1:]
		for len(s) > 0 && isHTMLSpace(s[0]) {
			s = s[1:]
		}
		var val string
		if len(s) > 0 && (s[0] == '"' || s[0] == '\'') {
			end := strings.IndexByte(s[1:], s[0])
			if end < 0 {
				val, s = s[1:], ""
			} else {
				val, s = s[1:1+end], s[2+end:]
			}
		} else {
			j := 0
			for j < len(s) && !isHTMLSpace(s[j]) {
				j++
			}
			val, s = s[:j], s[j:]
		}
		if strings.EqualFold(key, name) {
			return strings.TrimSpace(html.UnescapeString(val))
		}
	}
	return ""
}

func isHTMLSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'
}

// textWriter accumulates the text. Breaks and spaces are kept pending and
// only written before the next text, so that runs of block elements give
// one blank line and nothing trails at the end.
type textWriter struct {
	out       []byte
	breaks    int  // pending line breaks: 1 = new line, 2 = blank line
	space     bool // pending space
	pre       int  // depth of <pre>
	lists     []int
	item      string // pending list item marker
	linkStart int    // where the current link's text starts in out, or -1
	href      string
}

func (t *textWriter) String() string {
	return string(t.out)
}

func (t *textWriter) block(n int) {
	t.breaks = max(t.breaks, n)
	t.space = false
}

// flush writes pending breaks, list marker and space before new text.
func (t *textWriter) flush() {
	if len(t.out) == 0 {
		t.breaks, t.space = 0, false
	}
	if t.breaks > 0 {
		// No spaces at the end of lines.
		for len(t.out) > 0 && t.out[len(t.out)-1] == ' ' {
			t.out = t.out[:len(t.out)-1]
		}
		for range min(t.breaks, 2) {
			t.out = append(t.out, '\n')
		}
		t.breaks, t.space = 0, false
		if n := len(t.lists); n > 1 {
			for range n - 1 {
				t.out = append(t.out, "  "...)
			}
		}
	}
	if t.item != "" {
		t.out = append(t.out, t.item...)
		t.item = ""
		t.space = false
	}
	if t.space {
		if c := t.out[len(t.out)-1]; c != ' ' && c != '\n' {
			t.out = append(t.out, ' ')
		}
		t.space = false
	}
}

func (t *textWriter) text(s string) {
	if strings.IndexByte(s, '&') >= 0 {
		s = html.UnescapeString(s)
	}
	if t.pre > 0 {
		t.flush()
		t.out = append(t.out, strings.ReplaceAll(s, "\r\n", "\n")...)
		return
	}
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if isHTMLSpace(c) {
				t.space = true
				i++
				continue
			}
			j := i + 1
			for j < len(s) && s[j] < utf8.RuneSelf && !isHTMLSpace(s[j]) {
				j++
			}
			t.flush()
			t.out = append(t.out, s[i:j]...)
			i = j
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch r {
		case '\u00a0': // &nbsp; used for layout
			t.space = true
		case '\u200b', '\u200c', '\ufeff', '\u034f', '\u00ad': // preheader padding, soft hyphen
		default:
			t.flush()
			t.out = append(t.out, s[i:i+size]...)
		}
		i += size
	}
}

// tag handles a start or end tag and returns the name of an element whose
// content must be skipped.
func (t *textWriter) tag(tg tag) (skip string) {
	switch tg.name {
	case "head", "style", "script", "title", "template", "noscript", "svg", "object", "iframe":
		return tg.name
	case "br":
		t.breaks++
		t.space = false
	case "p", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "table", "hr", "dl", "figure", "address":
		t.block(2)
		if tg.name == "hr" && !tg.closing {
			t.flush()
			t.out = append(t.out, "----------"...)
			t.block(2)
		}
	case "pre":
		t.block(2)
		if tg.closing {
			t.pre = max(t.pre-1, 0)
		} else {
			t.pre++
		}
	case "ul", "ol":
		if tg.closing {
			if len(t.lists) > 0 {
				t.lists = t.lists[:len(t.lists)-1]
			}
			t.block(listBreak(len(t.lists)))
		} else {
			t.block(listBreak(len(t.lists)))
			n := 0 // bullets
			if tg.name == "ol" {
				n = 1
				if s := tg.attr("start"); s != "" {
					if v, err := strconv.Atoi(s); err == nil {
						n = v
					}
				}
			}
			t.lists = append(t.lists, n)
		}
	case "li":
		t.block(1)
		if !tg.closing {
			t.item = "- "
			if k := len(t.lists); k > 0 && t.lists[k-1] != 0 {
				t.item = strconv.Itoa(t.lists[k-1]) + ". "
				t.lists[k-1]++
			}
		} else {
			t.item = ""
		}
	case "div", "tr", "section", "article", "header", "footer", "main", "nav", "aside", "center", "form", "dt", "dd", "caption", "tbody", "thead", "tfoot":
		t.block(1)
	case "td", "th":
		t.space = true
	case "img":
		if alt := tg.attr("alt"); alt != "" {
			t.text(alt)
		}
	case "a":
		if tg.closing {
			t.endLink()
		} else {
			t.endLink() // an unclosed <a> ends at the next one
			t.href = tg.attr("href")
			t.flush()
			t.linkStart = len(t.out)
			if t.href == "" {
				t.linkStart = -1
			}
		}
	}
	return ""
}

// listBreak separates a top-level list from the text around it by a blank
// line and a nested one by a line break.
func listBreak(depth int) int {
	if depth == 0 {
		return 2
	}
	return 1
}

func (t *textWriter) endLink() {
	if t.linkStart < 0 || t.href == "" {
		t.linkStart, t.href = -1, ""
		return
	}
	href := t.href
	start := min(t.linkStart, len(t.out))
	t.linkStart, t.href = -1, ""
	if strings.HasPrefix(href, "#") || strings.HasPrefix(strings.ToLower(href), "javascript:") {
		return
	}
	label := strings.TrimSpace(string(t.out[start:]))
	switch {
	case label == "":
		t.flush()
		t.out = append(t.out, href...)
	case label == href || "mailto:"+label == href || strings.TrimSuffix(href, "/") == strings.TrimSuffix(label, "/"):
	default:
		t.out = append(t.out, " ("...)
		t.out = append(t.out, href...)
		t.out = append(t.out, ')')
	}
}
