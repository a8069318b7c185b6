package render

import (
	"strings"
	"unicode/utf8"
)

// escaper is one step of the chain html/template appends to an action. The
// fast path supports the steps of HTML text, quoted and unquoted attributes
// and URLs; any other context (script, style, srcset, comment…) makes the
// campaign take the fallback path. escape_test.go checks each step against
// html/template itself.
type escaper uint8

const (
	escHTML      escaper = iota + 1 // htmlescaper, attrescaper, rcdataescaper (equal on plain strings)
	escNospace                      // nospaceescaper: unquoted attribute values
	escURLFilter                    // urlfilter: only http, https, mailto or relative URLs
	escURLNorm                      // urlnormalizer: percent-encode what may not appear in a URL
	escURLQuery                     // urlescaper: percent-encode for a query or fragment part
)

// escaperByName maps the names html/template writes into escaped parse
// trees to steps; ok is false for steps the fast path does not implement.
func escaperByName(name string) (escaper, bool) {
	switch name {
	case "_html_template_htmlescaper", "_html_template_attrescaper", "_html_template_rcdataescaper":
		return escHTML, true
	case "_html_template_nospaceescaper":
		return escNospace, true
	case "_html_template_urlfilter":
		return escURLFilter, true
	case "_html_template_urlnormalizer":
		return escURLNorm, true
	case "_html_template_urlescaper":
		return escURLQuery, true
	}
	return 0, false
}

// failsafe is what html/template prints instead of an unsafe value.
const failsafe = "ZgotmplZ"

// appendEscaped appends s passed through chain to dst.
func appendEscaped(dst []byte, s string, chain []escaper) []byte {
	for i, e := range chain {
		last := i == len(chain)-1
		switch e {
		case escURLFilter:
			if !isSafeURL(s) {
				s = "#" + failsafe
			}
			if last {
				return append(dst, s...)
			}
		case escURLNorm, escURLQuery:
			if last {
				return appendURL(dst, s, e == escURLNorm)
			}
			s = urlString(s, e == escURLNorm)
		case escHTML:
			if last {
				return appendHTML(dst, s)
			}
			s = string(appendHTML(nil, s))
		case escNospace:
			if last {
				return appendNospace(dst, s)
			}
			s = string(appendNospace(nil, s))
		}
	}
	return append(dst, s...)
}

// textValue is how a value escaped with chain reads in the plain-text part:
// URLs as the browser would follow them, text as the reader would see it.
func textValue(dst []byte, s string, chain []escaper) []byte {
	url := false
	for _, e := range chain {
		switch e {
		case escURLFilter:
			url = true
			if !isSafeURL(s) {
				s = "#" + failsafe
			}
		case escURLNorm, escURLQuery:
			url = true
			s = urlString(s, e == escURLNorm)
		}
	}
	if url {
		return append(dst, s...)
	}
	return appendPlain(dst, s)
}

// appendPlain appends s with white space collapsed, NUL made U+FFFD (as
// the HTML escaper does) and invisible characters dropped, as the HTML to
// text converter treats text.
func appendPlain(dst []byte, s string) []byte {
	space := false
	for _, r := range s {
		switch {
		case r == 0:
			r = utf8.RuneError
		case isHTMLSpace(r):
			space = true
			continue
		case isInvisible(r):
			continue
		}
		if space {
			dst = append(dst, ' ')
			space = false
		}
		dst = utf8.AppendRune(dst, r)
	}
	if space {
		dst = append(dst, ' ')
	}
	return dst
}

// isSafeURL reports whether s is relative or uses http, https or mailto.
func isSafeURL(s string) bool {
	scheme, _, ok := strings.Cut(s, ":")
	if !ok || strings.Contains(scheme, "/") {
		return true
	}
	return strings.EqualFold(scheme, "http") || strings.EqualFold(scheme, "https") || strings.EqualFold(scheme, "mailto")
}

// appendHTML escapes s for HTML text and quoted attribute values.
func appendHTML(dst []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); i++ {
		var rep string
		switch s[i] {
		case 0:
			rep = "\uFFFD"
		case '"':
			rep = "&#34;"
		case '&':
			rep = "&amp;"
		case '\'':
			rep = "&#39;"
		case '+':
			rep = "&#43;"
		case '<':
			rep = "&lt;"
		case '>':
			rep = "&gt;"
		default:
			continue
		}
		dst = append(dst, s[start:i]...)
		dst = append(dst, rep...)
		start = i + 1
	}
	return append(dst, s[start:]...)
}

// appendNospace escapes s for an unquoted attribute value, where white
// space, quotes, '=' and '`' end the value, and some noncharacters and
// invalid bytes are written as references.
func appendNospace(dst []byte, s string) []byte {
	if s == "" {
		return append(dst, failsafe...)
	}
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, w := utf8.DecodeRuneInString(s[i:])
			if 0xfdd0 <= r && r <= 0xfdef || 0xfff0 <= r && r <= 0xffff {
				dst = append(dst, s[start:i]...)
				dst = append(dst, "&#x"...)
				dst = appendHexLower(dst, uint32(r))
				dst = append(dst, ';')
				start = i + w
			}
			i += w
			continue
		}
		var rep string
		switch c {
		case 0:
			rep = "&#xfffd;"
		case '\t':
			rep = "&#9;"
		case '\n':
			rep = "&#10;"
		case '\v':
			rep = "&#11;"
		case '\f':
			rep = "&#12;"
		case '\r':
			rep = "&#13;"
		case ' ':
			rep = "&#32;"
		case '"':
			rep = "&#34;"
		case '&':
			rep = "&amp;"
		case '\'':
			rep = "&#39;"
		case '+':
			rep = "&#43;"
		case '<':
			rep = "&lt;"
		case '=':
			rep = "&#61;"
		case '>':
			rep = "&gt;"
		case '`':
			rep = "&#96;"
		default:
			i++
			continue
		}
		dst = append(dst, s[start:i]...)
		dst = append(dst, rep...)
		i++
		start = i
	}
	return append(dst, s[start:]...)
}

func appendHexLower(dst []byte, v uint32) []byte {
	const digits = "0123456789abcdef"
	var b [8]byte
	i := len(b)
	for {
		i--
		b[i] = digits[v&15]
		v >>= 4
		if v == 0 {
			break
		}
	}
	return append(dst, b[i:]...)
}

// urlKeep reports whether URL processing leaves byte i of s as it is. In
// normalizing mode reserved characters and valid percent escapes stay; when
// escaping a query part only unreserved characters do.
func urlKeep(s string, i int, norm bool) bool {
	c := s[i]
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	switch c {
	case '-', '.', '_', '~':
		return true
	case '!', '#', '$', '&', '*', '+', ',', '/', ':', ';', '=', '?', '@', '[', ']':
		return norm
	case '%':
		return norm && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2])
	}
	return false
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// appendURL appends s percent-encoded (lower-case hex, as html/template).
func appendURL(dst []byte, s string, norm bool) []byte {
	const digits = "0123456789abcdef"
	start := 0
	for i := 0; i < len(s); i++ {
		if urlKeep(s, i, norm) {
			continue
		}
		dst = append(dst, s[start:i]...)
		dst = append(dst, '%', digits[s[i]>>4], digits[s[i]&15])
		start = i + 1
	}
	return append(dst, s[start:]...)
}

// urlString is appendURL for intermediate steps; it allocates only when s
// changes.
func urlString(s string, norm bool) string {
	for i := 0; i < len(s); i++ {
		if !urlKeep(s, i, norm) {
			return string(appendURL(make([]byte, 0, len(s)+16), s, norm))
		}
	}
	return s
}
