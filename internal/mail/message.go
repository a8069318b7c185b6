// Package mail builds RFC 5322/MIME messages, signs them with DKIM, and hands them to a transport: SMTP relay or the built-in outbox.
//
// Everything this package produces is wire-safe: CRLF line endings only, no
// line longer than 998 octets, 7-bit headers (RFC 2047 encoded-words for
// anything else) and quoted-printable bodies. A strict receiver such as
// go-smtp drops the connection on a bare LF or an over-long line, and one bad
// message must not cost a whole connection of a campaign.
package mail

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	netmail "net/mail"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Message is one e-mail. The zero values of MessageID and Date are filled in
// by Bytes; the Message itself is not modified.
type Message struct {
	From    netmail.Address
	To      []netmail.Address
	ReplyTo *netmail.Address
	Subject string
	// Headers are extra header fields, written in order after the generated
	// ones, e.g. List-Id, List-Unsubscribe, List-Unsubscribe-Post, Feedback-ID.
	// Fields that Message generates itself (From, To, Subject, Date, …) are
	// refused here so that a message never carries two of them.
	Headers []Header
	// Text is the plain-text body; generated from HTML with HTMLToText when
	// empty.
	Text string
	// HTML is the HTML body; when empty the message is text/plain only.
	HTML string
	// MessageID is written without angle brackets; generated as
	// <random>@<From's domain> when empty.
	MessageID string
	// Date is the origination date; zero means time.Now().
	Date time.Time
}

// Header is one extra header field.
type Header struct{ Name, Value string }

// Errors returned by Bytes. They are wrapped with the offending field's name.
var (
	// ErrHeaderInjection is returned when a header name or value contains CR,
	// LF or NUL. Such input is never passed through or silently cleaned:
	// it is almost always an attempt to add headers or a body of one's own.
	ErrHeaderInjection = errors.New("mail: CR, LF or NUL in header")
	// ErrInvalidHeader is returned for malformed header names, reserved
	// header names in Message.Headers, invalid addresses, and values that
	// cannot be folded to 998 octets per line.
	ErrInvalidHeader = errors.New("mail: invalid header")
)

const (
	maxLineLen  = 998 // RFC 5322 2.1.1: MUST
	foldLineLen = 78  // RFC 5322 2.1.1: SHOULD
	// Longest run of non-space characters written as-is in an unstructured
	// field (Subject, display names) before the text is encoded instead, so
	// that it can be split into encoded-words and folded.
	maxPlainWord = 60
)

// reserved are header names that Message generates itself, or (Cc, Bcc)
// that a newsletter must never carry in extra headers.
var reserved = [...]string{
	"From", "To", "Cc", "Bcc", "Reply-To", "Subject", "Date", "Message-Id",
	"Mime-Version", "Content-Type", "Content-Transfer-Encoding",
}

// Bytes renders the whole message. The result uses CRLF line endings only
// and no line is longer than 998 octets.
func (m *Message) Bytes() ([]byte, error) {
	return m.AppendBytes(nil)
}

// AppendBytes appends the message rendered as by Bytes to dst and returns
// the extended slice. A sender that renders thousands of messages can reuse
// one buffer per worker (once the previous message is sent) instead of
// allocating a fresh one each time.
func (m *Message) AppendBytes(dst []byte) ([]byte, error) {
	text := m.Text
	if text == "" && m.HTML != "" {
		text = HTMLToText(m.HTML)
	}
	b := bytes.NewBuffer(dst)
	b.Grow(m.sizeHint(len(text)))
	if err := m.render(b, text); err != nil {
		return dst[:len(dst):len(dst)], err
	}
	return b.Bytes(), nil
}

// WriteTo writes the message rendered by Bytes to w.
func (m *Message) WriteTo(w io.Writer) (int64, error) {
	p, err := m.Bytes()
	if err != nil {
		return 0, err
	}
	n, err := w.Write(p)
	return int64(n), err
}

// sizeHint estimates the rendered size so that the buffer is allocated once.
// Quoted-printable grows HTML by roughly a tenth (every "=" becomes "=3D",
// soft line breaks every 73 octets); non-ASCII text grows threefold, which
// is rare enough in these bodies to leave to the buffer.
func (m *Message) sizeHint(textLen int) int {
	n := 1024 + len(m.Subject)*2
	for _, h := range m.Headers {
		n += len(h.Name) + len(h.Value) + 8
	}
	n += (len(m.To) + 2) * 64
	n += textLen + textLen/8
	if m.HTML != "" {
		n += len(m.HTML) + len(m.HTML)/5 + 256
	}
	return n
}

func (m *Message) render(b *bytes.Buffer, text string) error {
	// 16 random bytes for the Message-ID, 15 for the MIME boundary.
	var rnd [31]byte
	_, _ = rand.Read(rnd[:]) // never fails (crypto/rand since Go 1.24)

	from, err := formatAddress(m.From)
	if err != nil {
		return fmt.Errorf("From: %w", err)
	}
	msgID := m.MessageID
	if msgID == "" {
		msgID = messageID(rnd[:16], domainOf(m.From.Address))
	} else if err := checkMessageID(msgID); err != nil {
		return err
	}
	date := m.Date
	if date.IsZero() {
		date = time.Now()
	}

	var dbuf [64]byte
	if err := writeField(b, "Date", string(date.AppendFormat(dbuf[:0], time.RFC1123Z))); err != nil {
		return err
	}
	if err := writeField(b, "From", from); err != nil {
		return err
	}
	if len(m.To) > 0 {
		var to strings.Builder
		for i, a := range m.To {
			s, err := formatAddress(a)
			if err != nil {
				return fmt.Errorf("To: %w", err)
			}
			if i > 0 {
				to.WriteString(", ")
			}
			to.WriteString(s)
		}
		if err := writeField(b, "To", to.String()); err != nil {
			return err
		}
	}
	if m.ReplyTo != nil {
		s, err := formatAddress(*m.ReplyTo)
		if err != nil {
			return fmt.Errorf("Reply-To: %w", err)
		}
		if err := writeField(b, "Reply-To", s); err != nil {
			return err
		}
	}
	subj, err := encodeUnstructured(m.Subject)
	if err != nil {
		return fmt.Errorf("Subject: %w", err)
	}
	if err := writeField(b, "Subject", subj); err != nil {
		return err
	}
	if err := writeField(b, "Message-ID", "<"+msgID+">"); err != nil {
		return err
	}
	for _, h := range m.Headers {
		if err := checkHeaderName(h.Name); err != nil {
			return err
		}
		v, err := encodeStructured(h.Value)
		if err != nil {
			return fmt.Errorf("%s: %w", h.Name, err)
		}
		if err := writeField(b, h.Name, v); err != nil {
			return err
		}
	}
	b.WriteString("MIME-Version: 1.0\r\n")

	if m.HTML == "" {
		b.WriteString("Content-Type: text/plain; charset=utf-8\r\n" +
			"Content-Transfer-Encoding: quoted-printable\r\n\r\n")
		writeQP(b, validUTF8(text))
		if !bytes.HasSuffix(b.Bytes(), []byte("\r\n")) {
			b.WriteString("\r\n")
		}
		return nil
	}

	var bnd [len("herald-") + 24]byte
	copy(bnd[:], "herald-")
	encodeBase32(bnd[len("herald-"):], rnd[16:31])
	boundary := bnd[:]

	b.WriteString("Content-Type: multipart/alternative;\r\n boundary=\"")
	b.Write(boundary)
	b.WriteString("\"\r\n\r\n--")
	b.Write(boundary)
	b.WriteString("\r\nContent-Type: text/plain; charset=utf-8\r\n" +
		"Content-Transfer-Encoding: quoted-printable\r\n\r\n")
	writeQP(b, validUTF8(text))
	b.WriteString("\r\n--")
	b.Write(boundary)
	b.WriteString("\r\nContent-Type: text/html; charset=utf-8\r\n" +
		"Content-Transfer-Encoding: quoted-printable\r\n\r\n")
	writeQP(b, validUTF8(m.HTML))
	b.WriteString("\r\n--")
	b.Write(boundary)
	b.WriteString("--\r\n")
	return nil
}

func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// NewMessageID returns a unique, unguessable Message-ID (without angle
// brackets): 26 base32 characters of randomness, "@" and domain.
func NewMessageID(domain string) string {
	var rnd [16]byte
	_, _ = rand.Read(rnd[:])
	return messageID(rnd[:], domain)
}

func messageID(rnd []byte, domain string) string {
	if domain == "" {
		domain = "localhost"
	}
	buf := make([]byte, 26, 27+len(domain))
	encodeBase32(buf, rnd[:16])
	buf = append(buf, '@')
	buf = append(buf, domain...)
	return string(buf)
}

func domainOf(addr string) string {
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		return addr[i+1:]
	}
	return ""
}

func checkMessageID(id string) error {
	if hasCRLFNUL(id) {
		return fmt.Errorf("Message-ID: %w", ErrHeaderInjection)
	}
	at := strings.IndexByte(id, '@')
	if at <= 0 || at == len(id)-1 || len(id) > 900 {
		return fmt.Errorf("%w: Message-ID %q: want local@domain without angle brackets", ErrInvalidHeader, id)
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c <= ' ' || c >= 0x7f || c == '<' || c == '>' {
			return fmt.Errorf("%w: Message-ID %q: want local@domain without angle brackets", ErrInvalidHeader, id)
		}
	}
	return nil
}

func hasCRLFNUL(s string) bool {
	return strings.ContainsAny(s, "\r\n\x00")
}

func checkHeaderName(name string) error {
	if name == "" {
		return fmt.Errorf("%w: empty header name", ErrInvalidHeader)
	}
	if hasCRLFNUL(name) {
		return fmt.Errorf("header name %q: %w", name, ErrHeaderInjection)
	}
	if len(name) > 76 {
		return fmt.Errorf("%w: header name %.20q… too long", ErrInvalidHeader, name)
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c <= ' ' || c >= 0x7f || c == ':' {
			return fmt.Errorf("%w: header name %q: want printable ASCII without colon or space", ErrInvalidHeader, name)
		}
	}
	for _, r := range reserved {
		if strings.EqualFold(name, r) {
			return fmt.Errorf("%w: header %q is generated from Message fields", ErrInvalidHeader, name)
		}
	}
	return nil
}

// formatAddress renders "Display Name <local@domain>", or the bare address
// when there is no name. Names are written as atoms when they can be, as a
// quoted-string when they hold specials, and as encoded-words when they hold
// anything outside printable ASCII.
func formatAddress(a netmail.Address) (string, error) {
	if hasCRLFNUL(a.Name) || hasCRLFNUL(a.Address) {
		return "", ErrHeaderInjection
	}
	if err := checkAddrSpec(a.Address); err != nil {
		return "", err
	}
	name := validUTF8(a.Name)
	if strings.TrimSpace(name) == "" {
		return a.Address, nil
	}
	var b strings.Builder
	b.Grow(len(name)*2 + len(a.Address) + 8)
	switch {
	case needsEncodedWord(name):
		b.WriteString(encodeWords(name, true))
	case isAtomPhrase(name):
		b.WriteString(name)
	default:
		b.WriteByte('"')
		for i := 0; i < len(name); i++ {
			if c := name[i]; c == '"' || c == '\\' {
				b.WriteByte('\\')
			}
			b.WriteByte(name[i])
		}
		b.WriteByte('"')
	}
	b.WriteString(" <")
	b.WriteString(a.Address)
	b.WriteByte('>')
	return b.String(), nil
}

// checkAddrSpec accepts the addresses a newsletter meets: dot-atom local part
// and domain, in printable ASCII or — internationalised (RFC 6531/6532),
// written as UTF-8 in the header and sent with SMTPUTF8 — letters, digits
// and marks beyond it. Quoted local parts and domain literals are refused
// rather than half-supported.
func checkAddrSpec(addr string) error {
	at := strings.LastIndexByte(addr, '@')
	if at <= 0 || at == len(addr)-1 || len(addr) > 254 || !utf8.ValidString(addr) {
		return fmt.Errorf("%w: address %q", ErrInvalidHeader, addr)
	}
	for i, r := range addr {
		if r <= ' ' || r == 0x7f || (r < 0x80 && strings.IndexByte(`"(),:;<>[\]`, byte(r)) >= 0) || (r == '@' && i != at) ||
			(r >= 0x80 && !unicode.IsLetter(r) && !unicode.IsDigit(r) && !unicode.IsMark(r)) {
			return fmt.Errorf("%w: address %q", ErrInvalidHeader, addr)
		}
	}
	return nil
}

// needsEncodedWord reports whether an unstructured text must be written as
// RFC 2047 encoded-words: it holds non-ASCII or control characters, looks
// like an encoded-word itself (so would not round-trip), or has a word too
// long to fold.
func needsEncodedWord(s string) bool {
	run := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t':
			run = 0
			continue
		case c < ' ' || c >= 0x7f:
			return true
		case c == '=' && i+1 < len(s) && s[i+1] == '?':
			return true
		}
		run++
		if run > maxPlainWord {
			return true
		}
	}
	return false
}

// isAtomPhrase reports whether s is a sequence of atoms separated by single
// spaces (RFC 5322 phrase without quoting).
func isAtomPhrase(s string) bool {
	if s[0] == ' ' || s[len(s)-1] == ' ' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == ' ' {
			if s[i-1] == ' ' {
				return false
			}
			continue
		}
		if !isAtext(c) {
			return false
		}
	}
	return true
}

func isAtext(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0
}

// encodeWords encodes s as RFC 2047 Q encoded-words of at most 75
// characters, separated by spaces, never splitting a UTF-8 sequence. In a
// phrase (display names) only letters, digits and "!*+-/" stay literal, as
// RFC 2047 section 5(3) requires; mime.WordEncoder does not restrict that
// set, and it leaves pure-ASCII text unencoded even when it has to be (a
// 2,000-character word, a literal "=?").
func encodeWords(s string, phrase bool) string {
	const (
		prefix = "=?utf-8?q?"
		suffix = "?="
		room   = 75 - len(prefix) - len(suffix)
		hex    = "0123456789ABCDEF"
	)
	b := make([]byte, 0, len(s)*3/2+len(prefix)+len(suffix))
	b = append(b, prefix...)
	n := 0 // payload characters in the current word
	var enc [4 * 3]byte
	for i := 0; i < len(s); {
		_, size := utf8.DecodeRuneInString(s[i:])
		e := enc[:0]
		for _, c := range []byte(s[i : i+size]) {
			switch {
			case c == ' ':
				e = append(e, '_')
			case 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
				strings.IndexByte("!*+-/", c) >= 0 ||
				!phrase && c > ' ' && c < 0x7f && c != '=' && c != '?' && c != '_':
				e = append(e, c)
			default:
				e = append(e, '=', hex[c>>4], hex[c&15])
			}
		}
		if n > 0 && n+len(e) > room {
			b = append(b, suffix+" "+prefix...)
			n = 0
		}
		b = append(b, e...)
		n += len(e)
		i += size
	}
	return string(append(b, suffix...))
}

// encodeUnstructured prepares Subject.
func encodeUnstructured(s string) (string, error) {
	if hasCRLFNUL(s) {
		return "", ErrHeaderInjection
	}
	return encodeMixed(validUTF8(s)), nil
}

// encodeStructured prepares an extra header's value. Such values are mostly
// structured (List-Unsubscribe: <https://…>) and must not be encoded as a
// whole; only words holding non-ASCII are turned into encoded-words, which
// covers a List-Id phrase such as "Zoë's news <news.example.com>".
func encodeStructured(s string) (string, error) {
	if hasCRLFNUL(s) {
		return "", ErrHeaderInjection
	}
	s = validUTF8(s)
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 0x7f || c < ' ' && c != '\t' {
			return encodeMixed(s), nil
		}
	}
	return s, nil
}

// encodeMixed encodes the space-separated words of s that need it (see
// needsEncodedWord) and leaves the others readable. Neighbouring encoded
// words, and the spaces between them, go into one encoded text, since
// whitespace between two encoded-words vanishes on decoding.
func encodeMixed(s string) string {
	if !needsEncodedWord(s) {
		return s
	}
	words := strings.Split(s, " ")
	var b strings.Builder
	b.Grow(len(s) * 2)
	for i := 0; i < len(words); {
		if i > 0 {
			b.WriteByte(' ')
		}
		if !needsEncodedWord(words[i]) {
			b.WriteString(words[i])
			i++
			continue
		}
		j := i + 1
		for k := j; k < len(words); k++ {
			if words[k] == "" {
				continue // a run of spaces: joins the run if an encoded word follows
			}
			if !needsEncodedWord(words[k]) {
				break
			}
			j = k + 1
		}
		b.WriteString(encodeWords(strings.Join(words[i:j], " "), false))
		i = j
	}
	return b.String()
}

// writeField writes "Name: value" CRLF, folding at whitespace so that lines
// stay within 78 characters where the value allows it. Folding never
// produces a line of only whitespace. A line that cannot be brought under
// 998 octets is an error.
func writeField(b *bytes.Buffer, name, value string) error {
	if hasCRLFNUL(value) {
		return fmt.Errorf("%s: %w", name, ErrHeaderInjection)
	}
	b.WriteString(name)
	b.WriteString(": ")
	col := len(name) + 2
	if col+len(value) <= foldLineLen {
		b.WriteString(value)
		b.WriteString("\r\n")
		return nil
	}
	last := len(value) - 1 // last non-whitespace character
	for last >= 0 && isWSP(value[last]) {
		last--
	}
	for {
		if col+len(value) <= foldLineLen {
			break
		}
		// Fold before a whitespace character that follows a non-whitespace
		// one, so both resulting lines hold something besides whitespace.
		cut := -1
		for i := min(foldLineLen-col, last); i > 0; i-- {
			if isWSP(value[i]) && !isWSP(value[i-1]) {
				cut = i
				break
			}
		}
		if cut < 0 {
			for i := max(foldLineLen-col, 0) + 1; i < last; i++ {
				if isWSP(value[i]) && !isWSP(value[i-1]) {
					cut = i
					break
				}
			}
		}
		if cut < 0 {
			break
		}
		if col+cut > maxLineLen {
			return fmt.Errorf("%w: %s: a word is too long to fold within 998 octets", ErrInvalidHeader, name)
		}
		b.WriteString(value[:cut])
		b.WriteString("\r\n")
		value = value[cut:]
		last -= cut
		col = 0
	}
	if col+len(value) > maxLineLen {
		return fmt.Errorf("%w: %s: a word is too long to fold within 998 octets", ErrInvalidHeader, name)
	}
	b.WriteString(value)
	b.WriteString("\r\n")
	return nil
}

func isWSP(c byte) bool { return c == ' ' || c == '\t' }

const b32alphabet = "abcdefghijklmnopqrstuvwxyz234567"

// encodeBase32 writes src as RFC 4648 base32 in lower case without padding
// (unguessable IDs that survive case-folding) into dst, which must hold
// ceil(len(src)*8/5) bytes.
func encodeBase32(dst, src []byte) {
	var acc uint64
	bits, n := 0, 0
	for _, c := range src {
		acc = acc<<8 | uint64(c)
		bits += 8
		for bits >= 5 {
			bits -= 5
			dst[n] = b32alphabet[(acc>>uint(bits))&31]
			n++
		}
	}
	if bits > 0 {
		dst[n] = b32alphabet[(acc<<uint(5-bits))&31]
	}
}

// qpLiteral marks the octets quoted-printable writes as themselves.
var qpLiteral = func() (t [256]bool) {
	for c := '!'; c <= '~'; c++ {
		t[c] = c != '='
	}
	t[' '], t['\t'] = true, true
	return t
}()

// writeQP writes s quoted-printable encoded (RFC 2045 6.7) to b: lines of at
// most 76 characters, CR, LF and CRLF all become CRLF, whitespace before a
// line break is encoded. It appends runs of literal octets straight into
// b's spare capacity; mime/quotedprintable's writer handles one byte at a
// time through an intermediate line buffer, at about twice the cost, on
// the hottest path of a campaign.
func writeQP(b *bytes.Buffer, s string) {
	const hex = "0123456789ABCDEF"
	const max = 75 // plus the "=" of a soft line break
	dst := b.AvailableBuffer()
	n := 0 // characters on the current output line
	for i := 0; i < len(s); {
		j, end := i, min(len(s), i+max-n)
		for j < end && qpLiteral[s[j]] {
			j++
		}
		if j > i {
			dst = append(dst, s[i:j]...)
			n += j - i
			i = j
			if i == len(s) {
				break
			}
		}
		c := s[i]
		switch {
		case qpLiteral[c]: // the line is full
			dst = append(dst, "=\r\n"...)
			n = 0
			continue
		case c == '\r' || c == '\n':
			if c == '\r' && i+1 < len(s) && s[i+1] == '\n' {
				i++
			}
			dst, n = encodeTrailingWSP(dst, n)
			dst = append(dst, '\r', '\n')
			n = 0
		default:
			if n+3 > max {
				dst = append(dst, "=\r\n"...)
				n = 0
			}
			dst = append(dst, '=', hex[c>>4], hex[c&15])
			n += 3
		}
		i++
	}
	dst, _ = encodeTrailingWSP(dst, n)
	b.Write(dst)
}

// encodeTrailingWSP encodes a space or tab that would otherwise end a line
// (RFC 2045: trailing whitespace may be stripped in transit).
func encodeTrailingWSP(dst []byte, n int) ([]byte, int) {
	const hex = "0123456789ABCDEF"
	if n == 0 || !isWSP(dst[len(dst)-1]) {
		return dst, n
	}
	ws := dst[len(dst)-1]
	dst = dst[:len(dst)-1]
	n--
	if n+3 > 75 {
		dst = append(dst, "=\r\n"...)
		n = 0
	}
	return append(dst, '=', hex[ws>>4], hex[ws&15]), n + 3
}
