package mail

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	netmail "net/mail"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// checkWireFormat fails unless every line of p ends in CRLF and holds at
// most 998 octets, and p has no NUL.
func checkWireFormat(t testing.TB, p []byte) {
	t.Helper()
	if err := wireFormatError(p); err != nil {
		t.Fatalf("%v\n%s", err, p)
	}
}

func wireFormatError(p []byte) error {
	if !bytes.HasSuffix(p, []byte("\r\n")) {
		return errors.New("message does not end with CRLF")
	}
	if bytes.IndexByte(p, 0) >= 0 {
		return errors.New("NUL in message")
	}
	for n, line := range bytes.Split(p[:len(p)-2], []byte("\r\n")) {
		if i := bytes.IndexAny(line, "\r\n"); i >= 0 {
			return errors.New("bare CR or LF on line " + itoa(n+1))
		}
		if len(line) > maxLineLen {
			return errors.New("line " + itoa(n+1) + " is longer than 998 octets")
		}
	}
	return nil
}

func itoa(n int) string { return strconv.Itoa(n) }

type parsedMessage struct {
	header netmail.Header
	text   string // decoded text/plain part
	html   string // decoded text/html part, "" when none
}

// parseMessage parses p with net/mail and mime/multipart and decodes the
// quoted-printable parts, checking their headers on the way.
func parseMessage(t testing.TB, p []byte) parsedMessage {
	t.Helper()
	m, err := netmail.ReadMessage(bytes.NewReader(p))
	if err != nil {
		t.Fatalf("net/mail: %v\n%s", err, p)
	}
	if v := m.Header.Get("MIME-Version"); v != "1.0" {
		t.Errorf("MIME-Version = %q", v)
	}
	pm := parsedMessage{header: m.Header}
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil {
		t.Fatalf("Content-Type: %v", err)
	}
	decode := func(h map[string][]string, r io.Reader) string {
		t.Helper()
		if cte := strings.Join(h["Content-Transfer-Encoding"], ","); cte != "quoted-printable" {
			t.Errorf("Content-Transfer-Encoding = %q", cte)
		}
		b, err := io.ReadAll(quotedprintable.NewReader(r))
		if err != nil {
			t.Fatalf("quoted-printable: %v", err)
		}
		return string(b)
	}
	switch mt {
	case "text/plain":
		if params["charset"] != "utf-8" {
			t.Errorf("charset = %q", params["charset"])
		}
		pm.text = decode(m.Header, m.Body)
	case "multipart/alternative":
		mr := multipart.NewReader(m.Body, params["boundary"])
		for i, want := range []string{"text/plain", "text/html"} {
			part, err := mr.NextRawPart()
			if err != nil {
				t.Fatalf("part %d: %v", i, err)
			}
			ct, cp, _ := mime.ParseMediaType(part.Header.Get("Content-Type"))
			if ct != want || cp["charset"] != "utf-8" {
				t.Errorf("part %d: Content-Type %q", i, part.Header.Get("Content-Type"))
			}
			body := decode(part.Header, part)
			if i == 0 {
				pm.text = body
			} else {
				pm.html = body
			}
		}
		if _, err := mr.NextRawPart(); err != io.EOF {
			t.Errorf("after two parts: %v, want EOF", err)
		}
	default:
		t.Fatalf("Content-Type %q", mt)
	}
	return pm
}

// crlf normalises line endings as quoted-printable hard breaks deliver them.
func crlf(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	return strings.ReplaceAll(s, "\n", "\r\n")
}

func TestMessageBytes(t *testing.T) {
	date := time.Date(2026, 3, 1, 9, 30, 0, 0, time.FixedZone("CET", 3600))
	const uni = "Zoë Ünïcode — 新闻"
	tests := []struct {
		name     string
		msg      Message
		wantText string // expected text part when generated
	}{
		{
			name: "text only",
			msg: Message{
				From:    netmail.Address{Name: "Herald", Address: "news@example.com"},
				To:      []netmail.Address{{Address: "reader@example.org"}},
				Subject: "Hello",
				Text:    "Line one.\nLine two with trailing space \n.starts with a dot\n",
				Date:    date,
			},
		},
		{
			name: "html and text, non-ASCII everywhere",
			msg: Message{
				From:    netmail.Address{Name: uni, Address: "zoe@example.com"},
				To:      []netmail.Address{{Name: "Ünïcode, Reader (Dr.)", Address: "reader@example.org"}, {Name: "Plain Name", Address: "b@example.org"}},
				ReplyTo: &netmail.Address{Name: `Quote "Me" \ Here`, Address: "reply@example.com"},
				Subject: uni + " — issue #12: “quotes” & ampersands",
				Headers: []Header{
					{"List-Id", "Zoë's news <news.example.com>"},
					{"List-Unsubscribe", "<https://example.com/unsubscribe/abc123>"},
					{"List-Unsubscribe-Post", "List-Unsubscribe=One-Click"},
					{"Feedback-ID", "c1:list7:herald"},
				},
				Text: "Grüße — 新闻\r\n\r\nSecond paragraph.",
				HTML: "<p>Grüße — 新闻</p><p>Second paragraph.</p>",
				Date: date,
			},
		},
		{
			name: "text generated from html",
			msg: Message{
				From:    netmail.Address{Address: "news@example.com"},
				To:      []netmail.Address{{Address: "reader@example.org"}},
				Subject: "Generated",
				HTML:    `<html><head><style>p{color:red}</style></head><body><p>Hi <b>there</b>,</p><p>Read <a href="https://example.com/x?a=1&amp;b=2">the post</a>.</p></body></html>`,
			},
			wantText: "Hi there,\n\nRead the post (https://example.com/x?a=1&b=2).",
		},
		{
			name: "long subject and many recipients fold",
			msg: Message{
				From:    netmail.Address{Name: "Herald", Address: "news@example.com"},
				To:      manyAddresses(12),
				Subject: strings.Repeat("A fairly long subject line ", 12),
				Text:    "x",
			},
		},
		{
			name: "long word subject and long name are encoded to fold",
			msg: Message{
				From:    netmail.Address{Name: strings.Repeat("N", 300), Address: "news@example.com"},
				To:      []netmail.Address{{Address: "reader@example.org"}},
				Subject: strings.Repeat("S", 2000),
				Text:    "x",
			},
		},
		{
			name: "subject that looks like an encoded-word",
			msg: Message{
				From:    netmail.Address{Address: "news@example.com"},
				To:      []netmail.Address{{Address: "reader@example.org"}},
				Subject: "=?utf-8?q?not_encoded?=",
				Text:    "x",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := tt.msg.Bytes()
			if err != nil {
				t.Fatal(err)
			}
			checkWireFormat(t, p)
			for _, line := range strings.Split(headerPart(p), "\r\n") {
				if foldable(line) {
					t.Errorf("header line of %d characters not folded: %q", len(line), line)
				}
			}
			pm := parseMessage(t, p)
			h := pm.header
			var dec mime.WordDecoder
			subj, err := dec.DecodeHeader(h.Get("Subject"))
			if err != nil {
				t.Fatal(err)
			}
			if norm(subj) != norm(tt.msg.Subject) {
				t.Errorf("Subject = %q, want %q", subj, tt.msg.Subject)
			}
			from, err := h.AddressList("From")
			if err != nil || len(from) != 1 || from[0].Name != tt.msg.From.Name || from[0].Address != tt.msg.From.Address {
				t.Errorf("From = %v, %v; want %v", from, err, tt.msg.From)
			}
			to, err := h.AddressList("To")
			if err != nil || len(to) != len(tt.msg.To) {
				t.Fatalf("To = %v, %v", to, err)
			}
			for i := range to {
				if *to[i] != tt.msg.To[i] {
					t.Errorf("To[%d] = %v, want %v", i, to[i], tt.msg.To[i])
				}
			}
			if tt.msg.ReplyTo != nil {
				rt, err := h.AddressList("Reply-To")
				if err != nil || len(rt) != 1 || *rt[0] != *tt.msg.ReplyTo {
					t.Errorf("Reply-To = %v, %v; want %v", rt, err, tt.msg.ReplyTo)
				}
			}
			for _, x := range tt.msg.Headers {
				got, err := dec.DecodeHeader(h.Get(x.Name))
				if err != nil || got != x.Value {
					t.Errorf("%s = %q, %v; want %q", x.Name, got, err, x.Value)
				}
			}
			if d, err := h.Date(); err != nil {
				t.Errorf("Date: %v", err)
			} else if !tt.msg.Date.IsZero() && !d.Equal(tt.msg.Date) {
				t.Errorf("Date = %v, want %v", d, tt.msg.Date)
			} else if tt.msg.Date.IsZero() && time.Since(d) > time.Minute {
				t.Errorf("Date = %v, want about now", d)
			}
			if id := h.Get("Message-ID"); !regexp.MustCompile(`^<[a-z2-7]{26}@` + regexp.QuoteMeta(domainOf(tt.msg.From.Address)) + `>$`).MatchString(id) {
				t.Errorf("Message-ID = %q", id)
			}
			wantText := tt.msg.Text
			if tt.wantText != "" {
				wantText = tt.wantText
			}
			if tt.msg.HTML == "" {
				// A single part ends with CRLF on the wire.
				wantText = strings.TrimSuffix(crlf(wantText), "\r\n") + "\r\n"
			}
			if pm.text != crlf(wantText) {
				t.Errorf("text part = %q, want %q", pm.text, crlf(wantText))
			}
			if pm.html != crlf(tt.msg.HTML) {
				t.Errorf("html part = %q, want %q", pm.html, tt.msg.HTML)
			}
		})
	}
}

// foldable reports whether a header line is longer than 78 characters
// although it could have been folded within them.
func foldable(line string) bool {
	if len(line) <= foldLineLen {
		return false
	}
	start := 1
	if !isWSP(line[0]) {
		start = strings.Index(line, ": ") + 2
	}
	for i := start; i <= foldLineLen; i++ {
		if isWSP(line[i]) && !isWSP(line[i-1]) && strings.TrimSpace(line[i:]) != "" {
			return true
		}
	}
	return false
}

func manyAddresses(n int) []netmail.Address {
	var as []netmail.Address
	for i := range n {
		as = append(as, netmail.Address{Name: "Reader Number " + strings.Repeat("x", i), Address: "reader" + strings.Repeat("y", i) + "@example.org"})
	}
	return as
}

func headerPart(p []byte) string {
	h, _, _ := strings.Cut(string(p), "\r\n\r\n")
	return h
}

func norm(s string) string { return strings.Join(strings.Fields(s), " ") }

func TestMessageBytesGivenIDAndHeaderOrder(t *testing.T) {
	m := Message{
		From:      netmail.Address{Address: "news@example.com"},
		To:        []netmail.Address{{Address: "r@example.org"}},
		Subject:   "s",
		Text:      "t",
		MessageID: "abc.123@example.com",
		Headers:   []Header{{"X-B", "2"}, {"X-A", "1"}},
	}
	p, err := m.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	h := headerPart(p)
	if !strings.Contains(h, "\r\nMessage-ID: <abc.123@example.com>\r\n") {
		t.Errorf("Message-ID not kept:\n%s", h)
	}
	if strings.Index(h, "X-B: 2") > strings.Index(h, "X-A: 1") {
		t.Errorf("extra headers out of order:\n%s", h)
	}
	var buf bytes.Buffer
	n, err := m.WriteTo(&buf)
	if err != nil || n != int64(buf.Len()) || !strings.HasPrefix(buf.String(), "Date: ") {
		t.Errorf("WriteTo = %d, %v", n, err)
	}
}

func TestMessageBytesRefusesInjection(t *testing.T) {
	base := func() Message {
		return Message{
			From:    netmail.Address{Name: "Herald", Address: "news@example.com"},
			To:      []netmail.Address{{Name: "Reader", Address: "reader@example.org"}},
			Subject: "Hello",
			Text:    "body",
		}
	}
	tests := []struct {
		name   string
		modify func(*Message)
		want   error
	}{
		{"subject LF", func(m *Message) { m.Subject = "Hi\nBcc: victim@example.net" }, ErrHeaderInjection},
		{"subject CRLF", func(m *Message) { m.Subject = "Hi\r\nBcc: victim@example.net" }, ErrHeaderInjection},
		{"subject CR", func(m *Message) { m.Subject = "Hi\rthere" }, ErrHeaderInjection},
		{"subject NUL", func(m *Message) { m.Subject = "Hi\x00" }, ErrHeaderInjection},
		{"from name", func(m *Message) { m.From.Name = "Evil\r\nBcc: x@example.net" }, ErrHeaderInjection},
		{"to name", func(m *Message) { m.To[0].Name = "Reader\n" }, ErrHeaderInjection},
		{"to address", func(m *Message) { m.To[0].Address = "reader@example.org\r\nBcc: x@example.net" }, ErrHeaderInjection},
		{"reply-to name", func(m *Message) { m.ReplyTo = &netmail.Address{Name: "a\nb", Address: "r@example.com"} }, ErrHeaderInjection},
		{"header value", func(m *Message) {
			m.Headers = []Header{{"List-Unsubscribe", "<https://example.com/u>\r\nBcc: x@example.net"}}
		}, ErrHeaderInjection},
		{"header value LF only", func(m *Message) { m.Headers = []Header{{"X-Test", "a\nb"}} }, ErrHeaderInjection},
		{"header name CRLF", func(m *Message) { m.Headers = []Header{{"X-Test\r\nBcc", "x"}} }, ErrHeaderInjection},
		{"header name colon", func(m *Message) { m.Headers = []Header{{"X-Test: y", "x"}} }, ErrInvalidHeader},
		{"header name space", func(m *Message) { m.Headers = []Header{{"X Test", "x"}} }, ErrInvalidHeader},
		{"header name non-ASCII", func(m *Message) { m.Headers = []Header{{"X-Tëst", "x"}} }, ErrInvalidHeader},
		{"header name empty", func(m *Message) { m.Headers = []Header{{"", "x"}} }, ErrInvalidHeader},
		{"reserved header", func(m *Message) { m.Headers = []Header{{"bcc", "x@example.net"}} }, ErrInvalidHeader},
		{"reserved header From", func(m *Message) { m.Headers = []Header{{"FROM", "x@example.net"}} }, ErrInvalidHeader},
		{"message-id LF", func(m *Message) { m.MessageID = "a@b\nBcc: x" }, ErrHeaderInjection},
		{"message-id brackets", func(m *Message) { m.MessageID = "<a@b>" }, ErrInvalidHeader},
		{"from address missing", func(m *Message) { m.From.Address = "" }, ErrInvalidHeader},
		{"from address with bracket", func(m *Message) { m.From.Address = "a>b@example.com" }, ErrInvalidHeader},
		{"to address without domain", func(m *Message) { m.To[0].Address = "reader@" }, ErrInvalidHeader},
		{"header word too long", func(m *Message) {
			m.Headers = []Header{{"List-Unsubscribe", "<https://example.com/" + strings.Repeat("x", 1000) + ">"}}
		}, ErrInvalidHeader},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := base()
			tt.modify(&m)
			p, err := m.Bytes()
			if !errors.Is(err, tt.want) {
				t.Fatalf("Bytes() error = %v, want %v; output:\n%s", err, tt.want, p)
			}
			if p != nil {
				t.Errorf("output returned with error")
			}
		})
	}
}

func TestMessageBytesLongLines(t *testing.T) {
	long := strings.Repeat("<span>word&nbsp;</span>", 5000/23) + strings.Repeat("é", 300) + strings.Repeat(" ", 20)
	tests := []Message{
		{HTML: "<p>" + long + "</p>"},
		{Text: strings.Repeat("x", 5000)},
		{Text: strings.Repeat("=", 5000) + "\n" + strings.Repeat("\t", 200) + "\n"},
		{Text: strings.Repeat("\xff\xfe", 600)},
	}
	for i, m := range tests {
		m.From = netmail.Address{Address: "news@example.com"}
		m.To = []netmail.Address{{Address: "r@example.org"}}
		m.Subject = strings.Repeat("long ", 300)
		m.Headers = []Header{{"List-Unsubscribe", "<https://example.com/unsubscribe/" + strings.Repeat("t", 900) + ">"}}
		p, err := m.Bytes()
		if err != nil {
			t.Fatalf("%d: %v", i, err)
		}
		checkWireFormat(t, p)
		pm := parseMessage(t, p)
		if m.HTML != "" && pm.html != m.HTML {
			t.Errorf("%d: html did not round-trip", i)
		}
		if m.Text != "" && strings.TrimSuffix(pm.text, "\r\n") != strings.TrimSuffix(crlf(validUTF8(m.Text)), "\r\n") {
			t.Errorf("%d: text did not round-trip", i)
		}
	}
}

func TestMessageBytesInvalidUTF8(t *testing.T) {
	m := Message{
		From:    netmail.Address{Name: "Bad \xff name", Address: "news@example.com"},
		To:      []netmail.Address{{Address: "r@example.org"}},
		Subject: "bad \xc3 subject",
		Text:    "bad \xe2\x82 text",
		HTML:    "<p>bad \xff html</p>",
	}
	p, err := m.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	pm := parseMessage(t, p)
	if pm.text != "bad \uFFFD text" || pm.html != "<p>bad \uFFFD html</p>" {
		t.Errorf("bodies = %q, %q", pm.text, pm.html)
	}
	var dec mime.WordDecoder
	if s, _ := dec.DecodeHeader(pm.header.Get("Subject")); s != "bad \uFFFD subject" {
		t.Errorf("Subject = %q", s)
	}
}

func TestNewMessageIDUnique(t *testing.T) {
	re := regexp.MustCompile(`^[a-z2-7]{26}@example\.com$`)
	seen := make(map[string]bool)
	for range 20000 {
		id := NewMessageID("example.com")
		if !re.MatchString(id) {
			t.Fatalf("NewMessageID = %q", id)
		}
		if seen[id] {
			t.Fatalf("duplicate Message-ID %q", id)
		}
		seen[id] = true
	}
	// Messages rendered without an ID get distinct ones, and distinct
	// boundaries.
	m := Message{From: netmail.Address{Address: "a@example.com"}, Text: "t", HTML: "<p>h</p>"}
	p1, _ := m.Bytes()
	p2, _ := m.Bytes()
	h1, _ := netmail.ReadMessage(bytes.NewReader(p1))
	h2, _ := netmail.ReadMessage(bytes.NewReader(p2))
	if h1.Header.Get("Message-ID") == h2.Header.Get("Message-ID") || h1.Header.Get("Content-Type") == h2.Header.Get("Content-Type") {
		t.Error("two renderings share Message-ID or boundary")
	}
}

// TestWriteQP checks the hand-written quoted-printable encoder against the
// standard library's decoder on random input.
func TestWriteQP(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte("ab =\t\r\n.\x00\xc3\xa9~!")
	for i := range 3000 {
		in := make([]byte, rng.IntN(400))
		for j := range in {
			in[j] = alphabet[rng.IntN(len(alphabet))]
		}
		var b bytes.Buffer
		writeQP(&b, string(in))
		out := b.Bytes()
		if len(out) > 0 {
			if err := wireFormatError(append(out, '\r', '\n')); err != nil {
				t.Fatalf("%d: %v: %q", i, err, out)
			}
		}
		for _, line := range bytes.Split(out, []byte("\r\n")) {
			if len(line) > 76 {
				t.Fatalf("%d: QP line of %d characters", i, len(line))
			}
			if n := len(line); n > 0 && (line[n-1] == ' ' || line[n-1] == '\t') {
				t.Fatalf("%d: QP line ends in whitespace: %q", i, line)
			}
		}
		dec, err := io.ReadAll(quotedprintable.NewReader(bytes.NewReader(out)))
		if err != nil {
			t.Fatalf("%d: decoding %q: %v", i, out, err)
		}
		if string(dec) != crlf(string(in)) {
			t.Fatalf("%d: round trip\n in  %q\n out %q\n dec %q", i, in, out, dec)
		}
	}
}

// benchHTML is a typical ~4.5 KB newsletter body.
var benchHTML = func() string {
	var b strings.Builder
	b.WriteString(`<!DOCTYPE html><html><head><meta charset="utf-8"><title>Weekly</title><style>body{font-family:sans-serif;color:#222}a{color:#06c}</style></head><body><table width="100%" cellpadding="0" cellspacing="0"><tr><td align="center"><table width="600"><tr><td>`)
	for i := 0; b.Len() < 4000; i++ {
		b.WriteString(`<h2 style="font-size:20px;margin:0 0 8px">Story number ` + string(rune('A'+i%26)) + ` — “news” about things</h2>`)
		b.WriteString(`<p style="margin:0 0 16px;line-height:1.5">Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua. <a href="https://example.com/posts/` + string(rune('a'+i%26)) + `?utm_source=herald&amp;utm_medium=email">Read more</a></p>`)
	}
	b.WriteString(`<p style="font-size:12px;color:#888">You get this because you subscribed. <a href="https://example.com/unsubscribe/0123456789abcdef">Unsubscribe</a> · <a href="https://example.com/prefs/0123456789abcdef">Preferences</a><br>Herald Inc., 1 Main Street, Springfield</p></td></tr></table></td></tr></table></body></html>`)
	return b.String()
}()

func benchMessage() Message {
	return Message{
		From:    netmail.Address{Name: "Herald Weekly", Address: "news@example.com"},
		To:      []netmail.Address{{Name: "Zoë Reader", Address: "zoe.reader@example.org"}},
		Subject: "Herald Weekly — issue 42: things that happened",
		Headers: []Header{
			{"List-Id", "Herald Weekly <weekly.example.com>"},
			{"List-Unsubscribe", "<https://example.com/unsubscribe/0123456789abcdef0123456789abcdef>"},
			{"List-Unsubscribe-Post", "List-Unsubscribe=One-Click"},
			{"Feedback-ID", "c42:weekly:herald"},
		},
		HTML: benchHTML,
	}
}

// BenchmarkMessageBytes renders a message with a ~4.5 KB HTML body and a
// pre-rendered text part, as a campaign does after converting the text once.
func BenchmarkMessageBytes(b *testing.B) {
	m := benchMessage()
	m.Text = HTMLToText(m.HTML)
	b.ReportAllocs()
	b.SetBytes(int64(len(m.HTML) + len(m.Text)))
	for b.Loop() {
		if _, err := m.Bytes(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMessageAppendBytes reuses one buffer, as a sender worker can.
func BenchmarkMessageAppendBytes(b *testing.B) {
	m := benchMessage()
	m.Text = HTMLToText(m.HTML)
	b.ReportAllocs()
	var buf []byte
	for b.Loop() {
		var err error
		if buf, err = m.AppendBytes(buf[:0]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMessageBytesGeneratedText includes HTMLToText.
func BenchmarkMessageBytesGeneratedText(b *testing.B) {
	m := benchMessage()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Bytes(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkHTMLToText(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchHTML)))
	for b.Loop() {
		HTMLToText(benchHTML)
	}
}

// BenchmarkQuotedPrintable compares writeQP with mime/quotedprintable.
func BenchmarkQuotedPrintable(b *testing.B) {
	b.Run("writeQP", func(b *testing.B) {
		var buf bytes.Buffer
		b.SetBytes(int64(len(benchHTML)))
		for b.Loop() {
			buf.Reset()
			writeQP(&buf, benchHTML)
		}
	})
	b.Run("stdlib", func(b *testing.B) {
		var buf bytes.Buffer
		b.SetBytes(int64(len(benchHTML)))
		for b.Loop() {
			buf.Reset()
			w := quotedprintable.NewWriter(&buf)
			io.WriteString(w, benchHTML)
			w.Close()
		}
	})
}
