// Package logging builds Herald's logger (log/slog): text or JSON lines at
// a level (HERALD_LOG_FORMAT, HERALD_LOG_LEVEL), the request id on every
// line logged for an HTTP request, and readers' addresses kept out of
// every line above debug.
//
// Addresses are kept out by the handler, not by each call site: an error
// from an SMTP relay or Mailchimp often quotes the address it is about,
// and a log line should not be where an erased reader's address survives.
// At info level and above, anything that looks like an email address in
// the message or an attribute becomes "[redacted]@domain" (the domain is
// kept: "gmail.com refuses" is what an operator needs to know). Debug
// lines are left as they are, for an operator who asks for them.
package logging

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"unicode"
	"unicode/utf8"
)

// New returns a logger writing format ("text" or "json"; anything else is
// text) lines at level and above to w.
func New(w io.Writer, format string, level slog.Leveler) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler
	if format == "json" {
		h = slog.NewJSONHandler(w, opts)
	} else {
		h = slog.NewTextHandler(w, opts)
	}
	return slog.New(Wrap(h))
}

// Wrap adds the request id and the redaction of addresses to h.
func Wrap(h slog.Handler) slog.Handler {
	return &handler{full: h, redacted: h}
}

type ctxKey struct{}

// WithRequestID returns ctx carrying the request id that every line
// logged with it (slog's …Context methods) shows as request_id.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, ctxKey{}, id)
}

// RequestID is the request id ctx carries, or "".
func RequestID(ctx context.Context) string {
	if ctx == nil {
		return ""
	}
	id, _ := ctx.Value(ctxKey{}).(string)
	return id
}

// handler keeps two views of the same handler: full, with the attributes
// given to WithAttrs as they are (for debug lines), and redacted, with
// them redacted (for the others).
type handler struct {
	full, redacted slog.Handler
}

func (h *handler) Enabled(ctx context.Context, l slog.Level) bool { return h.full.Enabled(ctx, l) }

func (h *handler) Handle(ctx context.Context, r slog.Record) error {
	id := RequestID(ctx)
	if r.Level <= slog.LevelDebug {
		if id != "" {
			r = r.Clone()
			r.AddAttrs(slog.String("request_id", id))
		}
		return h.full.Handle(ctx, r)
	}
	out := slog.NewRecord(r.Time, r.Level, Redact(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(redactAttr(a))
		return true
	})
	if id != "" {
		out.AddAttrs(slog.String("request_id", id))
	}
	return h.redacted.Handle(ctx, out)
}

func (h *handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	red := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		red[i] = redactAttr(a)
	}
	return &handler{full: h.full.WithAttrs(attrs), redacted: h.redacted.WithAttrs(red)}
}

func (h *handler) WithGroup(name string) slog.Handler {
	return &handler{full: h.full.WithGroup(name), redacted: h.redacted.WithGroup(name)}
}

func redactAttr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		if s := v.String(); strings.IndexByte(s, '@') >= 0 {
			return slog.String(a.Key, Redact(s))
		}
	case slog.KindGroup:
		g := v.Group()
		out := make([]slog.Attr, len(g))
		for i, ga := range g {
			out[i] = redactAttr(ga)
		}
		return slog.Attr{Key: a.Key, Value: slog.GroupValue(out...)}
	case slog.KindAny:
		var s string
		switch x := v.Any().(type) {
		case error:
			s = x.Error()
		case fmt.Stringer:
			s = x.String()
		default:
			s = fmt.Sprint(x)
		}
		if strings.IndexByte(s, '@') >= 0 {
			return slog.String(a.Key, Redact(s))
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}

// Redact replaces the local part of everything in s that looks like an
// email address (text@domain) with "[redacted]". It errs on the side of
// redacting: user:password@host in a URL loses its password too.
func Redact(s string) string {
	at := strings.IndexByte(s, '@')
	if at < 0 {
		return s
	}
	var b strings.Builder
	last := 0 // s[:last] is written
	for at >= 0 {
		// The local part: back from @ over what an address may hold.
		start := at
		for start > last {
			r, n := utf8.DecodeLastRuneInString(s[last:start])
			if !localRune(r) {
				break
			}
			start -= n
		}
		// The domain: on from @ over labels.
		end := at + 1
		for end < len(s) {
			r, n := utf8.DecodeRuneInString(s[end:])
			if r == '.' && end+n < len(s) && end > at+1 {
				if r2, _ := utf8.DecodeRuneInString(s[end+n:]); domainRune(r2) {
					end += n
					continue
				}
			}
			if !domainRune(r) {
				break
			}
			end += n
		}
		if start < at && end > at+1 {
			b.WriteString(s[last:start])
			b.WriteString("[redacted]")
			b.WriteString(s[at:end])
			last = end
		} else {
			b.WriteString(s[last : at+1])
			last = at + 1
		}
		next := strings.IndexByte(s[last:], '@')
		if next < 0 {
			break
		}
		at = last + next
	}
	b.WriteString(s[last:])
	return b.String()
}

// localRune: letters, digits and the specials RFC 5322 allows in a
// dot-atom, and any non-ASCII letter (RFC 6531).
func localRune(r rune) bool {
	if r >= 0x80 {
		return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r)
	}
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune(".!#$%&'*+/=?^_`{|}~-", r)
}

func domainRune(r rune) bool {
	if r >= 0x80 {
		return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r)
	}
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-'
}
