// Package bounce reads what comes back after a message is sent — delivery
// status notifications (RFC 3464), complaint reports (ARF, RFC 5965), the
// plain-text bounces of MTAs and providers that follow neither, delay
// notices and auto-replies — and says, for each recipient it names, what
// happened: status code, diagnostic text, a Reason and a Kind (hard, soft,
// complaint, ignore).
//
// It only reads: no database, no network, no side effects. The later
// layers build on its Report: the VERP token is found among
// Report.Envelope's addresses (the bounce's To, Delivered-To and
// X-Original-To), the message we sent among Report.Original's headers
// (Message-ID, List-Id, X-Herald-*), and the rules decide from Kind and
// SenderProblem whom to suppress. A refusal that is about the sender
// (SPF, DKIM, DMARC, a blocklisted IP, content taken for spam) has
// SenderProblem set and is never hard: it must raise an alert, not
// suppress a reader.
//
// Parse never fails on bad input: garbage, broken MIME, missing
// boundaries, unknown charsets and huge messages give a Report with what
// could be read (often nothing: Kind ignore, Reason not-a-bounce). It
// reads at most MaxRead bytes of a message, follows multiparts to a fixed
// depth and decodes a bounded prefix of each part, so time and memory are
// bounded whatever comes in.
package bounce

import (
	"bytes"
	"fmt"
	"io"
	"net/mail"
	"regexp"
	"strings"
)

// Kind is what a result means for the reader it names.
type Kind string

const (
	Hard      Kind = "hard"      // the address cannot receive mail (no such user or domain, disabled)
	Soft      Kind = "soft"      // this delivery failed, a later one may not (full, throttled, expired, sender problems)
	Complaint Kind = "complaint" // the reader reported the message as spam
	Ignore    Kind = "ignore"    // not a failure: a delay notice, an auto-reply, a success report, or nothing usable
)

// Reason says why, in a word.
type Reason string

const (
	ReasonUserUnknown   Reason = "user-unknown"     // no such mailbox
	ReasonHostUnknown   Reason = "host-unknown"     // no such domain, no MX
	ReasonDisabled      Reason = "mailbox-disabled" // the mailbox exists but is disabled, suspended or closed
	ReasonMailboxFull   Reason = "mailbox-full"     // over quota
	ReasonTooBig        Reason = "too-big"          // the message exceeds a size limit
	ReasonRateLimited   Reason = "rate-limited"     // too much mail, too fast: deferred or refused
	ReasonExpired       Reason = "expired"          // the relay gave up retrying
	ReasonSpam          Reason = "spam-block"       // refused as spam, virus or for its content
	ReasonPolicy        Reason = "policy"           // authentication or policy failure: SPF, DKIM, DMARC, PTR, TLS
	ReasonSenderBlocked Reason = "sender-blocked"   // the sending IP or the sender address is blocked or has a bad reputation
	ReasonRelayDenied   Reason = "relay-denied"     // a server refused to relay
	ReasonSystemError   Reason = "system-error"     // the remote mail system failed: loops, syntax, configuration
	ReasonPermanent     Reason = "permanent"        // a permanent failure of no more precise reason
	ReasonTemporary     Reason = "temporary"        // a temporary failure of no more precise reason (network, service)
	ReasonUnknown       Reason = "unknown"          // a failure without code or words we know
	ReasonDelay         Reason = "delay"            // a delay notice: the relay is still trying
	ReasonDelivered     Reason = "delivered"        // a success report (Action: delivered, relayed or expanded)
	ReasonAutoReply     Reason = "auto-reply"       // out-of-office and other automatic replies
	ReasonComplaint     Reason = "complaint"        // an ARF report: abuse, fraud, virus or other
	ReasonNotSpam       Reason = "not-spam"         // an ARF report that the message was not spam
	ReasonNotBounce     Reason = "not-a-bounce"     // nothing usable was found
)

// MaxRead is how much of a message Parse reads. The reports come first in
// a bounce; beyond this is the returned original message, which only
// needs its headers.
const MaxRead = 2 << 20

// Report is what Parse found in one message.
type Report struct {
	// Format is how the message reported: "dsn" (RFC 3464), "arf" (RFC
	// 5965), "text" (an MTA's own words), "auto-reply", or "" (nothing).
	Format     string      `json:"format,omitempty"`
	Recipients []Recipient `json:"recipients,omitempty"`

	// Kind and Reason sum up a message without recipients: ignore and
	// why (not-a-bounce). With recipients, each has its own.
	Kind   Kind   `json:"kind"`
	Reason Reason `json:"reason"`

	Subject   string   `json:"subject,omitempty"`
	From      string   `json:"from,omitempty"`      // the bounce's From (often MAILER-DAEMON)
	Envelope  Envelope `json:"envelope,omitempty"`  // where the bounce was delivered: the VERP token is there
	Original  Original `json:"original,omitempty"`  // the headers of the message that bounced, when returned
	Truncated bool     `json:"truncated,omitempty"` // the message was longer than MaxRead

	// From the DSN's per-message fields.
	ReportingMTA string `json:"reporting_mta,omitempty"`
	EnvelopeID   string `json:"envelope_id,omitempty"`   // Original-Envelope-Id: the ENVID we gave, if any
	FeedbackType string `json:"feedback_type,omitempty"` // ARF Feedback-Type (abuse, fraud, ...)
}

// Recipient is one recipient's outcome.
type Recipient struct {
	Address        string `json:"address"`                   // the address we sent to: Original-Recipient, else Final-Recipient, else found in the text; "" when redacted
	FinalRecipient string `json:"final_recipient,omitempty"` // Final-Recipient when it differs
	Action         string `json:"action,omitempty"`          // DSN Action (failed, delayed, delivered, relayed, expanded), lowercase
	Status         string `json:"status"`                    // enhanced status code, e.g. "5.1.1"; "" when there is none
	Diagnostic     string `json:"diagnostic,omitempty"`      // the remote server's words, on one line
	RemoteMTA      string `json:"remote_mta,omitempty"`
	Reason         Reason `json:"reason"`
	Kind           Kind   `json:"kind"`
	// SenderProblem: the refusal is about the sender or the message
	// (authentication, IP reputation, content, size, rate), not about
	// the reader's address. Never suppress a reader for it; alert.
	SenderProblem bool `json:"sender_problem,omitempty"`
}

// Envelope holds the addresses the bounce itself was delivered to.
type Envelope struct {
	To          []string `json:"to,omitempty"`
	DeliveredTo []string `json:"delivered_to,omitempty"`
	OriginalTo  []string `json:"original_to,omitempty"` // X-Original-To, Envelope-To, X-Envelope-To
	ReturnPath  string   `json:"return_path,omitempty"`
}

// Addresses lists the envelope's addresses, To first, without repeats: a
// VERP token is in one of them.
func (e Envelope) Addresses() []string {
	var out []string
	seen := map[string]bool{}
	for _, list := range [][]string{e.To, e.DeliveredTo, e.OriginalTo} {
		for _, a := range list {
			if k := strings.ToLower(a); !seen[k] {
				seen[k] = true
				out = append(out, a)
			}
		}
	}
	return out
}

// Original holds headers of the message that bounced (the returned
// message, its headers, or what a reply refers to).
type Original struct {
	MessageID  string            `json:"message_id,omitempty"`  // Message-ID, without angle brackets
	InReplyTo  string            `json:"in_reply_to,omitempty"` // of an auto-reply: the message it answers
	ListID     string            `json:"list_id,omitempty"`     // List-Id
	From       string            `json:"from,omitempty"`        // an address
	To         string            `json:"to,omitempty"`          // the first address
	Subject    string            `json:"subject,omitempty"`
	ReturnPath string            `json:"return_path,omitempty"` // the envelope sender we used: a VERP address
	Herald     map[string]string `json:"herald,omitempty"`      // X-Herald-* headers, by canonical name
}

// Parse reads one message from r (at most MaxRead bytes) and reports what
// it says. Its error is only ever r's.
func Parse(r io.Reader) (*Report, error) {
	buf, err := io.ReadAll(io.LimitReader(r, MaxRead+1))
	if err != nil {
		return nil, fmt.Errorf("reading the message: %w", err)
	}
	truncated := len(buf) > MaxRead
	if truncated {
		buf = buf[:MaxRead]
	}
	rep := ParseBytes(buf)
	rep.Truncated = truncated
	return rep, nil
}

// ParseBytes is Parse of a message in memory; it reads at most MaxRead
// bytes of raw.
func ParseBytes(raw []byte) *Report {
	if len(raw) > MaxRead {
		raw = raw[:MaxRead]
	}
	// An mbox "From " line before the headers.
	if bytes.HasPrefix(raw, []byte("From ")) {
		if i := bytes.IndexByte(raw, '\n'); i >= 0 {
			raw = raw[i+1:]
		}
	}
	h, body := splitHeader(raw)
	rep := &Report{
		Subject: decodeWords(h.get("Subject")),
		From:    firstAddress(h.get("From")),
		Envelope: Envelope{
			To:          addresses(h["To"]),
			DeliveredTo: addresses(h["Delivered-To"]),
			OriginalTo:  addresses(append(append(append([]string(nil), h["X-Original-To"]...), h["Envelope-To"]...), h["X-Envelope-To"]...)),
			ReturnPath:  firstAddress(h.get("Return-Path")),
		},
	}

	var m message
	walk(h, body, m.collect)

	for _, o := range m.originals {
		rep.Original.merge(o)
	}
	text := m.text()
	switch {
	case len(m.feedback) > 0:
		parseARF(rep, h, m.feedback[0])
	case len(m.dsns) > 0:
		human, _ := cutOriginal(text)
		for _, d := range m.dsns {
			parseDSN(rep, d, human)
		}
	}
	if len(rep.Recipients) == 0 {
		rep.Format = ""
		switch {
		case looksLikeBounce(h, rep.From, rep.Subject, text, true):
			parseBounceText(rep, text, fromDaemon(h, rep.From))
		case isAutoReply(h, rep.Subject):
			rep.Format = "auto-reply"
			rep.Recipients = []Recipient{{Address: rep.From, Reason: ReasonAutoReply, Kind: Ignore}}
			rep.Original.InReplyTo = trimID(h.get("In-Reply-To"))
			if rep.Original.InReplyTo == "" {
				refs := strings.Fields(h.get("References"))
				if len(refs) > 0 {
					rep.Original.InReplyTo = trimID(refs[len(refs)-1])
				}
			}
		case looksLikeBounce(h, rep.From, rep.Subject, text, false):
			parseBounceText(rep, text, fromDaemon(h, rep.From))
		}
	}
	if len(rep.Recipients) == 0 {
		rep.Kind, rep.Reason = Ignore, ReasonNotBounce
	}
	return rep
}

// message gathers the parts that matter while walking.
type message struct {
	dsns      [][]byte
	feedback  [][]byte
	originals []header
	plain     [][]byte
	html      [][]byte
}

func (m *message) collect(p part) {
	switch p.mediaType {
	case "message/delivery-status", "message/global-delivery-status", "text/delivery-status":
		m.dsns = append(m.dsns, p.body)
	case "message/feedback-report":
		m.feedback = append(m.feedback, p.body)
	case "message/rfc822", "message/global", "text/rfc822-headers", "message/rfc822-headers", "message/global-headers":
		oh, _ := splitHeader(p.body)
		m.originals = append(m.originals, oh)
	case "text/plain", "text", "":
		if p.header.get("Content-Disposition") != "" && strings.HasPrefix(strings.ToLower(p.header.get("Content-Disposition")), "attachment") && len(m.plain) > 0 {
			return
		}
		m.plain = append(m.plain, p.body)
		// A delivery-status part labelled as text.
		if len(m.dsns) == 0 && dsnFields.Match(p.body[:min(len(p.body), 8192)]) {
			m.dsns = append(m.dsns, p.body)
		}
	case "text/html":
		m.html = append(m.html, p.body)
	}
}

var dsnFields = regexp.MustCompile(`(?im)^final-recipient:[^\n]*\n(?:[^\n]*\n){0,6}?status:`)

// text is the human-readable text of the message: its plain parts, else
// its HTML parts without tags.
func (m *message) text() string {
	parts := m.plain
	if len(parts) == 0 {
		for _, h := range m.html {
			parts = append(parts, stripTags(h))
		}
	}
	var b strings.Builder
	for _, p := range parts {
		if b.Len() > partTextCap {
			break
		}
		b.Write(p)
		b.WriteByte('\n')
	}
	return b.String()
}

func (o *Original) merge(h header) {
	set := func(dst *string, v string) {
		if *dst == "" {
			*dst = v
		}
	}
	set(&o.MessageID, trimID(h.get("Message-Id")))
	set(&o.ListID, decodeWords(h.get("List-Id")))
	set(&o.From, firstAddress(h.get("From")))
	set(&o.To, firstAddress(h.get("To")))
	set(&o.Subject, decodeWords(h.get("Subject")))
	set(&o.ReturnPath, firstAddress(h.get("Return-Path")))
	for k, v := range h {
		if strings.HasPrefix(k, "X-Herald-") && len(v) > 0 {
			if o.Herald == nil {
				o.Herald = map[string]string{}
			}
			if _, ok := o.Herald[k]; !ok {
				o.Herald[k] = clean(v[0])
			}
		}
	}
}

func trimID(s string) string {
	return strings.Trim(clean(s), "<> ")
}

// --- RFC 3464 ---

// parseDSN reads a delivery-status body: per-message fields, then a block
// of fields per recipient.
//
// human is the notice's text without the returned message, for recipients
// whose fields give no diagnostic.
func parseDSN(rep *Report, body []byte, human string) {
	rest := body
	for len(rest) > 0 && len(rep.Recipients) < maxRecipients {
		// Skip blank lines between blocks.
		trimmed := bytes.TrimLeft(rest, "\r\n \t")
		if len(trimmed) == 0 {
			break
		}
		var h header
		h, rest = splitHeader(trimmed)
		if len(h) == 0 {
			// Not a field: skip the line.
			if i := bytes.IndexByte(trimmed, '\n'); i >= 0 {
				rest = trimmed[i+1:]
				continue
			}
			break
		}
		if v := h.get("Reporting-Mta"); v != "" && rep.ReportingMTA == "" {
			rep.ReportingMTA = dsnValue(v)
		}
		if v := h.get("Original-Envelope-Id"); v != "" && rep.EnvelopeID == "" {
			rep.EnvelopeID = clean(v)
		}
		finals, origs := h["Final-Recipient"], h["Original-Recipient"]
		n := max(len(finals), len(origs))
		for i := 0; i < n && len(rep.Recipients) < maxRecipients; i++ {
			r := Recipient{
				FinalRecipient: dsnAddress(at(finals, i)),
				Address:        dsnAddress(at(origs, i)),
				Action:         strings.ToLower(clean(at(h["Action"], i))),
				Status:         statusCode(at(h["Status"], i)),
				Diagnostic:     dsnValue(at(h["Diagnostic-Code"], i)),
				RemoteMTA:      dsnValue(at(h["Remote-Mta"], i)),
			}
			if r.Address == "" {
				r.Address = r.FinalRecipient
			}
			if r.Address == "" {
				r.Address = dsnAddress(at(h["X-Actual-Recipient"], i))
			}
			if strings.EqualFold(r.Address, r.FinalRecipient) {
				r.FinalRecipient = ""
			}
			if r.Diagnostic == "" && r.Address != "" && len(rep.Recipients) < 10 {
				// The human-readable part may say what the fields do not.
				if segs := segments(human, []string{r.Address}); len(segs) == 1 {
					if r.Diagnostic = diagnosticLine(segs[0].text); r.Diagnostic == "" {
						r.Diagnostic = contextLine(segs[0].text)
					}
				}
			}
			better := statusCode(r.Diagnostic)
			if r.Status == "" || strings.HasSuffix(r.Status, ".0.0") && better != "" && better[0] == r.Status[0] {
				if better != "" {
					r.Status = better
				}
			}
			if r.Status == "" {
				r.Status = smtpClass(r.Diagnostic)
			}
			finish(&r)
			rep.Recipients = append(rep.Recipients, r)
		}
	}
	if len(rep.Recipients) == 1 && rep.Recipients[0].Address == "" && rep.Original.To != "" {
		// A final recipient that is no address (a mailbox path): the one
		// recipient is whom the returned message was for.
		rep.Recipients[0].Address = rep.Original.To
	}
	if len(rep.Recipients) > 0 {
		rep.Format = "dsn"
	}
}

const maxRecipients = 100

func at(v []string, i int) string {
	if i < len(v) {
		return v[i]
	}
	if len(v) == 1 {
		return v[0]
	}
	return ""
}

// finish sets the recipient's reason and kind from its action, status and
// diagnostic.
func finish(r *Recipient) {
	switch r.Action {
	case "delayed":
		r.Reason, r.Kind = ReasonDelay, Ignore
		return
	case "delivered", "relayed", "expanded":
		r.Reason, r.Kind = ReasonDelivered, Ignore
		return
	}
	if r.Action == "" && r.Status != "" && r.Status[0] == '2' {
		r.Reason, r.Kind = ReasonDelivered, Ignore
		return
	}
	r.Reason, r.Kind, r.SenderProblem = classify(r.Status, r.Diagnostic)
}

// dsnValue strips a DSN field's type ("smtp; ", "dns; ") and unfolds it.
func dsnValue(v string) string {
	v = clean(v)
	if i := strings.IndexByte(v, ';'); i > 0 && i < 12 && !strings.ContainsAny(v[:i], " <@") {
		v = strings.TrimSpace(v[i+1:])
	}
	if len(v) > 1000 {
		v = v[:1000]
	}
	return strings.ToValidUTF8(v, "")
}

func dsnAddress(v string) string {
	v = dsnValue(v)
	if a := firstAddress(v); a != "" {
		return a
	}
	v = strings.Trim(v, "<> ")
	if strings.Contains(v, "@") && !strings.ContainsAny(v, " ,;") {
		return v
	}
	return ""
}

var (
	statusRe = regexp.MustCompile(`\b([245])\.(\d{1,3})\.(\d{1,3})\b`)
	smtpRe   = regexp.MustCompile(`(?:^|[^\d.])([45])\d\d(?:[ \-:]|$)`)
)

// statusCode finds an enhanced status code in s: not a piece of an IP
// address or a version number ("[192.0.2.10]" holds no 2.0.2).
func statusCode(s string) string {
	for _, m := range statusRe.FindAllStringSubmatchIndex(s, 20) {
		if m[0] > 0 && (isDigit(s[m[0]-1]) || s[m[0]-1] == '.') {
			continue
		}
		if m[1] < len(s) && s[m[1]] == '.' && m[1]+1 < len(s) && isDigit(s[m[1]+1]) {
			continue
		}
		return s[m[2]:m[3]] + "." + s[m[4]:m[5]] + "." + s[m[6]:m[7]]
	}
	return ""
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// smtpClass is "5.0.0" or "4.0.0" from a basic SMTP reply code in s.
func smtpClass(s string) string {
	if m := smtpRe.FindStringSubmatch(s); m != nil {
		return m[1] + ".0.0"
	}
	return ""
}

// --- RFC 5965 ---

// parseARF reads a feedback report; top is the report's own header.
func parseARF(rep *Report, top header, body []byte) {
	h, _ := splitHeader(bytes.TrimLeft(body, "\r\n"))
	rep.Format = "arf"
	ft := strings.ToLower(clean(h.get("Feedback-Type")))
	rep.FeedbackType = ft
	r := Recipient{Reason: ReasonComplaint, Kind: Complaint}
	switch ft {
	case "not-spam":
		r.Reason, r.Kind = ReasonNotSpam, Ignore
	case "auth-failure":
		// RFC 6591: a report of our authentication failing.
		r.Reason, r.Kind, r.SenderProblem = ReasonPolicy, Ignore, true
	}
	r.Diagnostic = clean("feedback-type " + ft + " " + h.get("User-Agent"))
	addrs := addresses(h["Original-Rcpt-To"])
	if len(addrs) == 0 {
		// Outlook.com's feedback loop names the reader in its own header.
		addrs = addresses(top["X-Hmxmroriginalrecipient"])
	}
	if len(addrs) == 0 && rep.Original.To != "" && !redacted(rep.Original.To) {
		addrs = []string{rep.Original.To}
	}
	if len(addrs) == 0 {
		addrs = []string{""}
	}
	for _, a := range addrs {
		if redacted(a) {
			a = ""
		}
		r.Address = a
		rep.Recipients = append(rep.Recipients, r)
		if len(rep.Recipients) >= maxRecipients {
			break
		}
	}
}

// redacted: an address a feedback loop has hidden ("redacted@",
// "xxxxxxx@example.com", "****@").
func redacted(a string) bool {
	local, _, ok := strings.Cut(strings.ToLower(a), "@")
	if !ok || strings.Contains(local, "redacted") {
		return true
	}
	return strings.Trim(local, "x*.#-_") == ""
}

// --- headers ---

var addrRe = regexp.MustCompile(`[A-Za-z0-9.!#$%&'*+/=?^_{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+`)

// firstAddress is the first address in a header value, parsed by
// net/mail when it can, found by pattern when it cannot.
func firstAddress(v string) string {
	if v == "" {
		return ""
	}
	if len(v) > 2000 {
		v = v[:2000]
	}
	if a, err := mail.ParseAddress(v); err == nil {
		return a.Address
	}
	return addrRe.FindString(v)
}

func addresses(values []string) []string {
	var out []string
	for _, v := range values {
		if len(out) >= maxRecipients {
			break
		}
		if len(v) > 4000 {
			v = v[:4000]
		}
		if list, err := mail.ParseAddressList(v); err == nil {
			for _, a := range list {
				out = append(out, a.Address)
			}
			continue
		}
		out = append(out, addrRe.FindAllString(v, 20)...)
	}
	return out
}

// isAutoReply: RFC 3834's Auto-Submitted, the common X- headers and
// Precedence, or the subjects of out-of-office replies.
func isAutoReply(h header, subject string) bool {
	if v := strings.ToLower(h.get("Auto-Submitted")); v != "" && v != "no" {
		return true
	}
	for _, k := range []string{"X-Autoreply", "X-Autorespond", "X-Autoresponder", "X-Auto-Reply"} {
		if h.get(k) != "" {
			return true
		}
	}
	for _, k := range []string{"Precedence", "X-Precedence"} {
		if strings.Contains(strings.ToLower(h.get(k)), "auto_reply") {
			return true
		}
	}
	s := strings.ToLower(subject)
	for _, p := range []string{"out of office", "out of the office", "automatic reply", "auto-reply", "autoreply",
		"auto reply", "auto:", "autoresponse", "auto response", "vacation", "abwesenheit", "réponse automatique",
		"respuesta automática", "risposta automatica", "away from the office", "on leave", "i am away", "i'm away",
		"absence", "automatisch antwoord", "afwezig"} {
		if strings.Contains(s, p) {
			return true
		}
	}
	return false
}
