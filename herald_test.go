package herald_test

import (
	"net/mail"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/heraldhq/herald"
	hmail "github.com/heraldhq/herald/internal/mail"
)

// checkFieldError fails unless err is a validation error about field.
func checkFieldError(t *testing.T, err error, field string) {
	t.Helper()
	if herald.ErrorCode(err) != herald.EINVALID || herald.ErrorField(err) != field {
		t.Fatalf("error %v: want code %q on field %q", err, herald.EINVALID, field)
	}
	if msg := herald.ErrorMessage(err); msg == "" || msg == "Internal error." {
		t.Fatalf("error %v has no message for the reader", err)
	}
}

func TestNormalizeEmail(t *testing.T) {
	valid := []struct{ in, addr, key string }{
		{"zoe@example.com", "zoe@example.com", "zoe@example.com"},
		{"  Zoe.Reader@Example.COM \t", "Zoe.Reader@Example.COM", "zoe.reader@example.com"},
		{"a+news@sub.example.co.uk", "a+news@sub.example.co.uk", "a+news@sub.example.co.uk"},
		{"o'brien@example.ie", "o'brien@example.ie", "o'brien@example.ie"},
		{"a/b=c%d!#$&*?^`{|}~@example.com", "a/b=c%d!#$&*?^`{|}~@example.com", "a/b=c%d!#$&*?^`{|}~@example.com"},
		{"user@localhost", "user@localhost", "user@localhost"},
		{"user@xn--bcher-kva.example", "user@xn--bcher-kva.example", "user@xn--bcher-kva.example"},
		{"a@b.c", "a@b.c", "a@b.c"},
		// Internationalised addresses (RFC 6531), sent with SMTPUTF8.
		{"Zoë@example.com", "Zoë@example.com", "zoë@example.com"},
		{"zoe@exämple.com", "zoe@exämple.com", "zoe@exämple.com"},
		{"用户@例子.广告", "用户@例子.广告", "用户@例子.广告"},
		{"JÜRGEN@BÜCHER.EXAMPLE", "JÜRGEN@BÜCHER.EXAMPLE", "jürgen@bücher.example"},
		// Surrounding line breaks are trimmed, not carried into headers.
		{"eve@example.com\r\n", "eve@example.com", "eve@example.com"},
		{strings.Repeat("l", 64) + "@example.com", strings.Repeat("l", 64) + "@example.com", strings.Repeat("l", 64) + "@example.com"},
		{strings.Repeat("l", 64) + "@" + strings.Repeat("d", 185) + ".com", strings.Repeat("l", 64) + "@" + strings.Repeat("d", 185) + ".com", strings.Repeat("l", 64) + "@" + strings.Repeat("d", 185) + ".com"},
	}
	for _, c := range valid {
		addr, key, err := herald.NormalizeEmail(c.in)
		if err != nil || addr != c.addr || key != c.key {
			t.Errorf("NormalizeEmail(%q) = %q, %q, %v; want %q, %q", c.in, addr, key, err, c.addr, c.key)
		}
	}

	invalid := []struct{ why, in string }{
		{"empty", ""},
		{"blank", "  \t "},
		{"no at", "plainaddress"},
		{"no local part", "@example.com"},
		{"no domain", "zoe@"},
		{"two ats", "a@b@example.com"},
		{"double at", "a@@example.com"},
		{"dotless domain", "zoe@example"},
		{"leading dot in domain", "zoe@.example.com"},
		{"trailing dot in domain", "zoe@example.com."},
		{"empty domain label", "zoe@example..com"},
		{"leading dot in local part", ".zoe@example.com"},
		{"trailing dot in local part", "zoe.@example.com"},
		{"double dot in local part", "zo..e@example.com"},
		{"space inside", "zoe reader@example.com"},
		{"tab inside", "zoe\treader@example.com"},
		{"display name", "Zoe <zoe@example.com>"},
		{"angle address", "<zoe@example.com>"},
		{"comment", "zoe@example.com (Zoe)"},
		{"quoted local part", `"zoe"@example.com`},
		{"quoted local part with space", `"zoe reader"@example.com`},
		{"address list", "zoe@example.com, eve@example.com"},
		{"semicolon list", "zoe@example.com;eve@example.com"},
		{"domain literal", "zoe@[127.0.0.1]"},
		{"backslash", `zo\e@example.com`},
		{"local part of 65", strings.Repeat("l", 65) + "@example.com"},
		{"255 characters", strings.Repeat("l", 64) + "@" + strings.Repeat("d", 186) + ".com"},
		{"300 characters", strings.Repeat("a", 288) + "@example.com"},
		{"invalid UTF-8", "zo\xffe@example.com"},
		{"truncated UTF-8", "zo\xc3@example.com"},
		{"NUL", "zoe\x00@example.com"},
		{"DEL", "zoe\x7f@example.com"},
		{"escape", "zoe\x1b@example.com"},
		// Header injection.
		{"CRLF Bcc", "eve@example.com\r\nBcc: victim@example.com"},
		{"LF Bcc", "eve@example.com\nBcc: victim@example.com"},
		{"CR Bcc", "eve@example.com\rBcc: victim@example.com"},
		{"CRLF inside", "eve\r\n@example.com"},
		{"folded header", "eve@example.com\r\n\tBcc: victim@example.com"},
		{"SMTP command", "eve@example.com\r\nRCPT TO:<victim@example.com>"},
		// Unicode that hides or fakes characters.
		{"line separator", "zoe\u2028@example.com"},
		{"paragraph separator", "zoe@example.com\u2029x"},
		{"next line (C1)", "zoe\u0085x@example.com"},
		{"C1 control", "zoe\u009b@example.com"},
		{"no-break space", "zoe\u00a0reader@example.com"},
		{"ideographic space", "zoe\u3000reader@example.com"},
		{"zero-width space", "zoe@example.com\u200bx"},
		{"right-to-left override", "zoe\u202e@example.com"},
		{"byte order mark", "\ufeffzoe@example.com"},
		{"fullwidth at", "zoe＠example.com"},
		{"colon", "zoe:reader@example.com"},
		{"group syntax", "undisclosed:;@example.com"},
		{"replacement character from a bad decoder", "zo\ufffde@example.com"},
	}
	for _, c := range invalid {
		addr, key, err := herald.NormalizeEmail(c.in)
		if err == nil {
			t.Errorf("%s: NormalizeEmail(%q) = %q, %q; want an error", c.why, c.in, addr, key)
			continue
		}
		if addr != "" || key != "" {
			t.Errorf("%s: NormalizeEmail(%q) returned %q, %q with its error", c.why, c.in, addr, key)
		}
		checkFieldError(t, err, "email")
	}
}

func TestCleanName(t *testing.T) {
	valid := []struct{ in, want string }{
		{"", ""},
		{"   ", ""},
		{"Zoë", "Zoë"},
		{"  Zoë Reader \t", "Zoë Reader"},
		{`Dr. "Zoë" O'Brien, Ph.D. (editor)`, `Dr. "Zoë" O'Brien, Ph.D. (editor)`},
		{"李小龍", "李小龍"},
		{"مريم", "مريم"},
		{"Zoë 🎉", "Zoë 🎉"},
		{"=?utf-8?q?Eve?=", "=?utf-8?q?Eve?="},
		// HTML is text here; pages and mail escape it.
		{"<script>alert(1)</script>", "<script>alert(1)</script>"},
		{"Eve <eve@example.com>", "Eve <eve@example.com>"},
		// Line breaks at the edges are trimmed away, never kept.
		{"Eve\r\n", "Eve"},
		{strings.Repeat("é", 200), strings.Repeat("é", 200)},
	}
	for _, c := range valid {
		got, err := herald.CleanName(c.in)
		if err != nil || got != c.want {
			t.Errorf("CleanName(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}

	invalid := []struct{ why, in string }{
		{"CRLF Bcc", "Eve\r\nBcc: victim@example.com"},
		{"LF Bcc", "Eve\nBcc: victim@example.com"},
		{"CR", "Eve\rBcc: victim@example.com"},
		{"CRLF space folding", "Eve\r\n Bcc: victim@example.com"},
		{"NUL", "Eve\x00"},
		{"tab", "Eve\tReader"},
		{"escape", "Eve\x1b[31m"},
		{"DEL", "Eve\x7f"},
		{"next line (C1)", "Eve\u0085Bcc: victim@example.com"},
		{"C1 control", "Eve\u009b"},
		{"line separator", "Eve\u2028Bcc: victim@example.com"},
		{"paragraph separator", "Eve\u2029x"},
		{"invalid UTF-8", "Eve\xff"},
		{"truncated UTF-8", "Zo\xc3"},
		{"201 characters", strings.Repeat("é", 201)},
		{"a very long name", strings.Repeat("x", 10000)},
	}
	for _, c := range invalid {
		got, err := herald.CleanName(c.in)
		if err == nil {
			t.Errorf("%s: CleanName(%q) = %q; want an error", c.why, c.in, got)
			continue
		}
		checkFieldError(t, err, "name")
	}
}

func TestListValidate(t *testing.T) {
	good := func() herald.List {
		return herald.List{Slug: "daily", Name: "The Daily Briefing", Description: "Top stories every morning"}
	}
	l := good()
	l.Slug, l.Name = "  daily ", "  The Daily Briefing "
	if err := l.Validate(); err != nil {
		t.Fatal(err)
	}
	if l.Slug != "daily" || l.Name != "The Daily Briefing" || l.Visibility != herald.Public || l.OptIn != herald.Double {
		t.Fatalf("Validate did not trim and fill defaults: %+v", l)
	}
	for _, c := range []struct {
		why    string
		edit   func(*herald.List)
		field  string // "" = valid
		expect string // visibility and opt-in after Validate, when valid
	}{
		{"private single", func(l *herald.List) { l.Visibility, l.OptIn = herald.Private, herald.Single }, "", ""},
		{"one-character slug", func(l *herald.List) { l.Slug = "x" }, "", ""},
		{"digits and hyphens", func(l *herald.List) { l.Slug = "2026-world-cup" }, "", ""},
		{"63-character slug", func(l *herald.List) { l.Slug = strings.Repeat("a", 63) }, "", ""},
		{"unicode name", func(l *herald.List) { l.Name = "Le Quotidien — édition du matin" }, "", ""},
		{"200-character name", func(l *herald.List) { l.Name = strings.Repeat("é", 200) }, "", ""},
		{"multi-line description", func(l *herald.List) { l.Description = "Line one.\nLine two." }, "", ""},
		{"2000-character description", func(l *herald.List) { l.Description = strings.Repeat("é", 2000) }, "", ""},

		{"empty slug", func(l *herald.List) { l.Slug = "" }, "slug", ""},
		{"upper-case slug", func(l *herald.List) { l.Slug = "Daily" }, "slug", ""},
		{"slug starting with a hyphen", func(l *herald.List) { l.Slug = "-daily" }, "slug", ""},
		{"slug with a space", func(l *herald.List) { l.Slug = "daily news" }, "slug", ""},
		{"slug with a slash", func(l *herald.List) { l.Slug = "daily/news" }, "slug", ""},
		{"slug with a comma", func(l *herald.List) { l.Slug = "daily,sport" }, "slug", ""},
		{"all-digit slug would read as an id", func(l *herald.List) { l.Slug = "12" }, "slug", ""},
		{"unicode slug", func(l *herald.List) { l.Slug = "quotidién" }, "slug", ""},
		{"64-character slug", func(l *herald.List) { l.Slug = strings.Repeat("a", 64) }, "slug", ""},
		{"slug with a newline", func(l *herald.List) { l.Slug = "daily\n" + "x" }, "slug", ""},
		{"empty name", func(l *herald.List) { l.Name = " " }, "name", ""},
		{"name with CRLF", func(l *herald.List) { l.Name = "Daily\r\nBcc: victim@example.com" }, "name", ""},
		{"name with NUL", func(l *herald.List) { l.Name = "Daily\x00" }, "name", ""},
		{"name with invalid UTF-8", func(l *herald.List) { l.Name = "Daily\xff" }, "name", ""},
		{"201-character name", func(l *herald.List) { l.Name = strings.Repeat("é", 201) }, "name", ""},
		{"description with invalid UTF-8", func(l *herald.List) { l.Description = "\xff" }, "description", ""},
		{"description with NUL", func(l *herald.List) { l.Description = "a\x00b" }, "description", ""},
		{"2001-character description", func(l *herald.List) { l.Description = strings.Repeat("é", 2001) }, "description", ""},
		{"unknown visibility", func(l *herald.List) { l.Visibility = "secret" }, "visibility", ""},
		{"visibility in capitals", func(l *herald.List) { l.Visibility = "Public" }, "visibility", ""},
		{"unknown opt-in", func(l *herald.List) { l.OptIn = "triple" }, "optin", ""},
	} {
		l := good()
		c.edit(&l)
		err := l.Validate()
		if c.field == "" {
			if err != nil {
				t.Errorf("%s: %v", c.why, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("%s: %+v is valid; want an error on %s", c.why, l, c.field)
			continue
		}
		if herald.ErrorCode(err) != herald.EINVALID || herald.ErrorField(err) != c.field {
			t.Errorf("%s: error %v; want invalid %s", c.why, err, c.field)
		}
	}
}

// FuzzNormalizeEmail: whatever the input, NormalizeEmail either refuses it
// with a field error, or returns an address that cannot break a header or
// an SMTP command, survives net/mail both ways, normalises to itself, and
// that internal/mail can put in a To header (an address accepted at signup
// but refused by the mail writer would be a reader silently lost).
func FuzzNormalizeEmail(f *testing.F) {
	for _, s := range []string{
		"zoe@example.com", " Zoe@Example.COM ", "用户@例子.广告", "a+b@c.d", "user@localhost",
		"eve@example.com\r\nBcc: victim@example.com", "Eve <eve@example.com>", `"a b"@example.com`,
		"a@b@c.com", "a@[127.0.0.1]", "zoe\u2028@example.com", "\xff@example.com", "a..b@example.com",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		addr, key, err := herald.NormalizeEmail(s)
		if err != nil {
			if addr != "" || key != "" {
				t.Fatalf("returned %q, %q with error %v", addr, key, err)
			}
			if herald.ErrorCode(err) != herald.EINVALID || herald.ErrorField(err) != "email" {
				t.Fatalf("error %v is not a field error on email", err)
			}
			return
		}
		if !utf8.ValidString(addr) || len(addr) > herald.MaxEmailLength {
			t.Fatalf("accepted %q: invalid UTF-8 or longer than %d bytes", addr, herald.MaxEmailLength)
		}
		if addr != strings.TrimSpace(s) {
			t.Fatalf("accepted %q as %q: not just trimmed", s, addr)
		}
		for _, r := range addr {
			if unicode.IsSpace(r) || unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || strings.ContainsRune("<>\"\\,;()[]", r) {
				t.Fatalf("accepted %q, which contains %U", addr, r)
			}
		}
		if strings.Count(addr, "@") != 1 {
			t.Fatalf("accepted %q, which does not have exactly one @", addr)
		}
		if key != strings.ToLower(addr) {
			t.Fatalf("key %q of %q is not its lower case", key, addr)
		}
		// Round trips through net/mail: parsed bare, and formatted into a
		// header (with and without a display name) and parsed back.
		for _, h := range []string{addr, (&mail.Address{Address: addr}).String(), (&mail.Address{Name: "Zoë \"Z\" Reader", Address: addr}).String()} {
			a, err := mail.ParseAddress(h)
			if err != nil || a.Address != addr {
				t.Fatalf("%q does not parse back to %q: %v, %v", h, addr, a, err)
			}
		}
		if a2, k2, err := herald.NormalizeEmail(addr); err != nil || a2 != addr || k2 != key {
			t.Fatalf("not idempotent: %q -> %q, %q, %v", addr, a2, k2, err)
		}
		msg := hmail.Message{
			From:    mail.Address{Name: "The Daily Planet", Address: "news@planet.example"},
			To:      []mail.Address{{Name: "Zoë", Address: addr}},
			Subject: "Confirm your subscription", Text: "Hello",
		}
		if _, err := msg.Bytes(); err != nil {
			t.Fatalf("accepted %q, but a mail to it cannot be written: %v", addr, err)
		}
	})
}
