package mail

import (
	"bytes"
	"errors"
	"mime"
	netmail "net/mail"
	"strings"
	"testing"
)

// FuzzMessageBytes renders messages from arbitrary subject, display name and
// bodies. Bytes must never panic; when it succeeds, the output must be
// wire-safe and parse back to the same subject and name.
func FuzzMessageBytes(f *testing.F) {
	f.Add("Hello", "Herald", "text", "<p>html</p>")
	f.Add("Zoë Ünïcode — 新闻", "Zoë, Ünïcode (Dr.)", "", "<ul><li>a<li>b</ul>")
	f.Add("=?utf-8?q?x?=", `"quoted" \ name`, "line\rbreaks\nmixed\r\n", "")
	f.Add(strings.Repeat("x", 2000), strings.Repeat("y ", 600), strings.Repeat("z", 5000), strings.Repeat("<b>w</b>", 700))
	f.Add("a\r\nBcc: x@example.net", "n\x00", "\xff\xfe", "<a href='\xff'>\xc3</a>")
	f.Fuzz(func(t *testing.T, subject, name, text, html string) {
		m := Message{
			From:    netmail.Address{Name: name, Address: "news@example.com"},
			To:      []netmail.Address{{Name: name, Address: "reader@example.org"}},
			Subject: subject,
			Headers: []Header{{"List-Id", name + " <list.example.com>"}},
			Text:    text,
			HTML:    html,
		}
		p, err := m.Bytes()
		if err != nil {
			if !errors.Is(err, ErrHeaderInjection) && !errors.Is(err, ErrInvalidHeader) {
				t.Fatalf("unexpected error type: %v", err)
			}
			if !hasCRLFNUL(subject + name) {
				// Only a header too long to fold may fail otherwise.
				if !strings.Contains(err.Error(), "too long") {
					t.Fatalf("Bytes() = %v for input without CR, LF or NUL", err)
				}
			}
			return
		}
		if hasCRLFNUL(subject + name) {
			t.Fatalf("CR, LF or NUL in subject or name passed through:\n%s", p)
		}
		if err := wireFormatError(p); err != nil {
			t.Fatalf("%v\n%q", err, p)
		}
		msg, err := netmail.ReadMessage(bytes.NewReader(p))
		if err != nil {
			t.Fatalf("net/mail: %v\n%q", err, p)
		}
		var dec mime.WordDecoder
		got, err := dec.DecodeHeader(msg.Header.Get("Subject"))
		if err != nil || norm(got) != norm(validUTF8(subject)) {
			t.Fatalf("Subject = %q, %v; want %q", got, err, subject)
		}
		from, err := msg.Header.AddressList("From")
		if err != nil || len(from) != 1 || from[0].Address != "news@example.com" || norm(from[0].Name) != norm(validUTF8(name)) {
			t.Fatalf("From = %v, %v; want name %q\n%q", from, err, name, msg.Header.Get("From"))
		}
	})
}
