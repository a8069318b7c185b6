package bounce

// A tolerant MIME reader. Bounces are written by every kind of mail
// software, some of it old or broken, and arrive from strangers: the
// reader never fails, it reads what it can. It works on a byte slice that
// is already capped (Parse reads at most MaxRead bytes), splits multiparts
// on their boundary itself (so a missing closing boundary, a preamble
// without boundary or a part with broken headers costs that part, not the
// message), caps the depth of nesting and the number of parts, and decodes
// at most partTextCap bytes of each part.

import (
	"bytes"
	"encoding/base64"
	"io"
	"mime"
	"mime/quotedprintable"
	"net/textproto"
	"strings"
	"unicode/utf8"
)

const (
	maxDepth      = 8         // nested multiparts followed
	maxParts      = 64        // leaf parts looked at in one message
	partTextCap   = 128 << 10 // decoded bytes kept of one part
	headerCap     = 64 << 10  // bytes of a header block read
	maxHeaderKeys = 256       // header fields kept of one block
)

// header is a parsed header block: canonical keys, values unfolded, in
// order of appearance.
type header map[string][]string

func (h header) get(key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// splitHeader parses the header block at the start of b and returns it
// with the body after the blank line. It accepts LF or CRLF, folded lines,
// and skips lines that are not fields rather than giving up; a block with
// no blank line is all header (no body).
func splitHeader(b []byte) (header, []byte) {
	h := header{}
	var key string
	var val []byte
	flush := func() {
		if key != "" && len(h) < maxHeaderKeys {
			h[key] = append(h[key], strings.TrimSpace(string(val)))
		}
		key, val = "", val[:0]
	}
	rest := b
	read := 0
	for len(rest) > 0 {
		line := rest
		next := []byte(nil)
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			line, next = rest[:i], rest[i+1:]
		}
		read += len(line) + 1
		line = bytes.TrimSuffix(line, []byte{'\r'})
		if len(line) == 0 {
			flush()
			return h, next
		}
		if read > headerCap {
			flush()
			return h, next
		}
		if line[0] == ' ' || line[0] == '\t' {
			if key != "" {
				val = append(val, ' ')
				val = append(val, bytes.TrimSpace(line)...)
			}
			rest = next
			continue
		}
		flush()
		if i := bytes.IndexByte(line, ':'); i > 0 && validKey(line[:i]) {
			key = textproto.CanonicalMIMEHeaderKey(string(bytes.TrimRight(line[:i], " \t")))
			val = append(val[:0], bytes.TrimSpace(line[i+1:])...)
		} else if len(h) == 0 {
			// The first line is no header field at all: there is no
			// header block, all of it is body.
			return h, b
		}
		rest = next
	}
	flush()
	return h, nil
}

func validKey(k []byte) bool {
	k = bytes.TrimRight(k, " \t")
	if len(k) == 0 || len(k) > 76 {
		return false
	}
	for _, c := range k {
		if c <= ' ' || c >= 0x7f {
			return false
		}
	}
	return true
}

// part is one leaf of a message: its media type, parameters and decoded
// body (at most partTextCap bytes).
type part struct {
	mediaType string
	params    map[string]string
	header    header
	body      []byte
}

// walk calls fn for the leaf parts of the entity (h, body), depth first,
// in order, up to maxParts entities (multiparts count too, so that nested
// empty multiparts cannot multiply the work) and maxDepth levels.
// message/rfc822 parts are leaves: the returned original message is not
// searched for bounce text (it is our own newsletter).
func walk(h header, body []byte, fn func(p part)) {
	n := 0
	walkEntity(h, body, 0, &n, fn)
}

func walkEntity(h header, body []byte, depth int, n *int, fn func(p part)) {
	if *n >= maxParts {
		return
	}
	*n++
	mt, params := mediaType(h)
	if strings.HasPrefix(mt, "multipart/") && depth < maxDepth {
		if b := params["boundary"]; b != "" {
			for _, raw := range splitMultipart(body, b, maxParts-*n) {
				ph, pb := splitHeader(raw)
				walkEntity(ph, pb, depth+1, n, fn)
				if *n >= maxParts {
					return
				}
			}
			return
		}
		// A multipart without boundary: read it as text.
		mt = "text/plain"
	}
	fn(part{mediaType: mt, params: params, header: h, body: decode(h, body)})
}

// mediaType is the part's lowercased media type and parameters;
// text/plain when it has none or it does not parse.
func mediaType(h header) (string, map[string]string) {
	ct := h.get("Content-Type")
	if ct == "" {
		return "text/plain", nil
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil && err != mime.ErrInvalidMediaParameter || mt == "" {
		// Salvage the type before the first semicolon and a boundary.
		mt = strings.ToLower(strings.TrimSpace(strings.SplitN(ct, ";", 2)[0]))
		params = map[string]string{}
		if i := strings.Index(asciiLower(ct), "boundary="); i >= 0 {
			v := ct[i+len("boundary="):]
			if j := strings.IndexByte(v, ';'); j >= 0 {
				v = v[:j]
			}
			params["boundary"] = strings.Trim(strings.TrimSpace(v), `"`)
		}
		if !strings.Contains(mt, "/") {
			mt = "text/plain"
		}
	}
	return mt, params
}

// splitMultipart returns the bodies of the parts between boundary lines;
// the last part runs to the end when the closing boundary is missing.
func splitMultipart(body []byte, boundary string, max int) [][]byte {
	delim := []byte("--" + boundary)
	var parts [][]byte
	start := -1
	pos := 0
	for pos <= len(body) && len(parts) < max {
		i := bytes.Index(body[pos:], delim)
		if i < 0 {
			break
		}
		i += pos
		// A delimiter counts only at the start of a line.
		if i > 0 && body[i-1] != '\n' {
			pos = i + len(delim)
			continue
		}
		if start >= 0 {
			end := i
			// The line break before the delimiter belongs to it.
			if end > start && body[end-1] == '\n' {
				end--
				if end > start && body[end-1] == '\r' {
					end--
				}
			}
			parts = append(parts, body[start:end])
		}
		after := i + len(delim)
		closing := bytes.HasPrefix(body[after:], []byte("--"))
		nl := bytes.IndexByte(body[after:], '\n')
		if closing || nl < 0 {
			return parts
		}
		start = after + nl + 1
		pos = start
	}
	if start >= 0 && start < len(body) && len(parts) < max {
		parts = append(parts, body[start:])
	}
	return parts
}

// decode undoes the part's transfer encoding, keeping at most partTextCap
// bytes; what does not decode is kept as it is.
func decode(h header, body []byte) []byte {
	if len(body) > partTextCap*2 {
		body = body[:partTextCap*2]
	}
	var out []byte
	switch strings.ToLower(strings.TrimSpace(h.get("Content-Transfer-Encoding"))) {
	case "base64":
		clean := make([]byte, 0, len(body))
		for _, c := range body {
			if c != '\r' && c != '\n' && c != ' ' && c != '\t' {
				clean = append(clean, c)
			}
		}
		clean = clean[:len(clean)/4*4]
		out = make([]byte, base64.StdEncoding.DecodedLen(len(clean)))
		n, err := base64.StdEncoding.Decode(out, clean)
		if err != nil && n == 0 {
			out = body
		} else {
			out = out[:n]
		}
	case "quoted-printable":
		r := quotedprintable.NewReader(bytes.NewReader(body))
		buf, err := io.ReadAll(io.LimitReader(r, partTextCap))
		out = buf
		if err != nil && len(buf) < len(body)/2 {
			// A bad escape early on: the raw text reads better than
			// the little that decoded.
			out = body
		}
	default:
		out = body
	}
	if len(out) > partTextCap {
		out = out[:partTextCap]
	}
	return out
}

// decodeWords decodes RFC 2047 encoded words in a header value, and makes
// the result valid UTF-8 whatever its charset.
func decodeWords(s string) string {
	if strings.Contains(s, "=?") {
		dec := mime.WordDecoder{CharsetReader: func(charset string, r io.Reader) (io.Reader, error) {
			return r, nil // unknown charsets: keep the bytes (ASCII is what we match on)
		}}
		if d, err := dec.DecodeHeader(s); err == nil {
			s = d
		}
	}
	return clean(s)
}

// clean makes s valid UTF-8 on one line, without control characters.
func clean(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	s = strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	return strings.Join(strings.Fields(s), " ")
}

// asciiLower lowercases the ASCII letters of s and leaves every other
// byte alone, so that an index into the result is an index into s
// (strings.ToLower changes lengths on invalid UTF-8 and some runes).
func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'A' <= c && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}
