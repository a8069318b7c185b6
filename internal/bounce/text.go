package bounce

// Bounces in words: the MTAs and providers that send no RFC 3464 report
// (qmail, Yahoo, old Exim and Sendmail, Exchange's and Gmail's text) name
// the recipient and quote the remote server in prose. The reader here is
// generic rather than one parser per MTA: it cuts the returned original
// message off, finds the addresses the text names (not ours, not the
// daemon's), and takes for each the first line after it that carries an
// SMTP reply or status code — which is how all of them write it.

import (
	"strings"
)

// looksLikeBounce: from a mailer daemon or postmaster, or a bounce's
// subject (strict); or, when not strict, the body's own words.
func looksLikeBounce(h header, from, subject, text string, strict bool) bool {
	if strict {
		if fromDaemon(h, from) {
			return true
		}
		s := strings.ToLower(subject)
		for _, p := range bounceSubjects {
			if strings.Contains(s, p) {
				return true
			}
		}
		return false
	}
	lt := asciiLower(text[:min(len(text), 8192)])
	for _, p := range bounceBodies {
		if strings.Contains(lt, p) {
			return true
		}
	}
	return false
}

// fromDaemon: the message comes from a mail system, not a person.
func fromDaemon(h header, from string) bool {
	local, _, _ := strings.Cut(strings.ToLower(from), "@")
	switch local {
	case "mailer-daemon", "mailerdaemon", "mail-daemon", "postmaster", "mail.delivery.system", "mailer_daemon":
		return true
	}
	name := strings.ToLower(h.get("From"))
	return strings.Contains(name, "mail delivery") || strings.Contains(name, "mailer-daemon") || strings.Contains(name, "mail administrator")
}

var bounceSubjects = []string{
	"undeliverable", "undelivered", "undeliverable mail", "delivery status notification", "delivery failure",
	"failure notice", "returned mail", "mail delivery failed", "delivery failed", "delivery has failed",
	"could not be delivered", "nondeliverable", "non-deliverable", "not delivered", "mail system error",
	"delivery notification", "delayed mail", "delivery delayed", "returned to sender", "mail delivery problem",
	"message not delivered", "warning: could not send", "delivery report", "unzustellbar", "non remis",
	"no se puede entregar", "notificación de estado", "mail could not be delivered",
}

var bounceBodies = []string{
	"this is the qmail-send program", "wasn't able to deliver your message", "the following address(es) failed",
	"had permanent fatal errors", "delivery has failed to these recipients", "could not be delivered to",
	"wasn't delivered to", "unable to deliver your message", "was not delivered to", "delivery to the following recipient",
	"message could not be delivered", "your message couldn't be delivered", "delivery to the following recipients failed",
	"this is a permanent error", "mail delivery failed", "undeliverable", "the mail system",
}

// parseBounceText reads recipients and diagnostics from a text bounce.
// When the message is not from a mail system (a subject or sentences made
// it look like a bounce: it may be a person's reply), an address with
// neither code nor known words is no result.
func parseBounceText(rep *Report, text string, daemon bool) {
	human, rest := cutOriginal(text)
	if rest != "" {
		oh, _ := splitHeader([]byte(strings.TrimLeft(rest, "\r\n \t")))
		rep.Original.merge(oh)
	}
	lower := asciiLower(human)
	delay := isDelay(strings.ToLower(rep.Subject), lower)

	exclude := map[string]bool{}
	for _, a := range append(rep.Envelope.Addresses(), rep.From, rep.Envelope.ReturnPath, rep.Original.From, rep.Original.ReturnPath) {
		if a != "" {
			exclude[strings.ToLower(a)] = true
		}
	}
	addrs := candidates(human, exclude)
	if to := strings.ToLower(rep.Original.To); to != "" {
		for _, a := range addrs {
			if strings.ToLower(a) == to {
				addrs = []string{a}
				break
			}
		}
	}
	permanent := strings.Contains(lower, "permanent") || strings.Contains(lower, "fatal error") ||
		strings.Contains(lower, "given up") || strings.Contains(lower, "gave up")

	segs := segments(human, addrs)
	if len(segs) == 0 && rep.Original.To != "" && !exclude[strings.ToLower(rep.Original.To)] {
		// The text names nobody: the returned message says whom it was for.
		segs = []segment{{addr: rep.Original.To, text: human}}
	}
	if len(segs) == 0 {
		// No address in the text: keep what it says, with no recipient,
		// if it says something with a code.
		if d := diagnosticLine(human); d != "" && (statusCode(d) != "" || smtpClass(d) != "") {
			segs = []segment{{text: human}}
		}
	}
	for _, s := range segs {
		r := Recipient{Address: s.addr, Action: "failed"}
		r.Diagnostic = diagnosticLine(s.text)
		if r.Diagnostic == "" {
			r.Diagnostic = diagnosticLine(human)
		}
		if r.Diagnostic == "" {
			r.Diagnostic = contextLine(s.text)
		}
		r.Status = statusCode(r.Diagnostic)
		if r.Status == "" {
			r.Status = smtpClass(r.Diagnostic)
		}
		if r.Status == "" && permanent && !delay {
			r.Status = "5.0.0"
		}
		if delay {
			r.Action = "delayed"
			r.Reason, r.Kind = ReasonDelay, Ignore
		} else {
			r.Reason, r.Kind, r.SenderProblem = classify(r.Status, r.Diagnostic)
			if r.Reason == ReasonPermanent || r.Reason == ReasonTemporary || r.Reason == ReasonUnknown {
				// The prose around the address may be plainer than the code.
				seg := asciiLower(s.text[:min(len(s.text), 2048)])
				if why := classifyText(seg); why != "" && why != ReasonTemporary && why != ReasonExpired {
					r.Reason, r.Kind, r.SenderProblem = why, kindOf(why, r.Status), senderProblem(why)
				}
			}
		}
		if !daemon && r.Status == "" && r.Reason == ReasonUnknown {
			continue
		}
		rep.Recipients = append(rep.Recipients, r)
	}
	if len(rep.Recipients) > 0 {
		rep.Format = "text"
	}
}

func isDelay(subject, text string) bool {
	for _, p := range []string{"delay", "warning:", "still trying", "not yet delivered", "will retry", "(delay)"} {
		if strings.Contains(subject, p) {
			return true
		}
	}
	if strings.Contains(text, "permanent") || strings.Contains(text, "given up") || strings.Contains(text, "gave up") {
		return false
	}
	for _, p := range []string{"will continue to try", "will be retried", "will keep trying", "still trying",
		"has not yet been delivered", "not been delivered yet", "no action is required on your part",
		"this is a warning message only", "delivery attempts will continue", "will retry", "is delayed",
		"has been delayed", "not yet been delivered", "you do not need to resend"} {
		if strings.Contains(text, p) {
			return true
		}
	}
	return false
}

// originalMarkers start the copy of the original message in text bounces.
var originalMarkers = []string{
	"--- below this line is a copy of the message", "------ this is a copy of the message",
	"----- original message -----", "-----original message-----", "original message follows",
	"--- the header of the original message is following", "original message headers:",
	"----- message header follows -----", "--- original message follows", "unsent message below",
	"-------- original message --------", "----- included message", "---------- forwarded message",
	"content of the original message", "this is a copy of the first part of your message",
	"---- the message follows", "------ this is a copy of your message", "----- the header of the original message",
	"original message header:",
}

// cutOriginal splits a text bounce into its own words and the copy of the
// original message after them ("" when there is none).
func cutOriginal(text string) (human, rest string) {
	lower := asciiLower(text)
	cut := -1
	for _, m := range originalMarkers {
		if i := strings.Index(lower, m); i >= 0 && (cut < 0 || i < cut) {
			cut = i
		}
	}
	if cut < 0 {
		return text, ""
	}
	after := text[cut:]
	if i := strings.IndexByte(after, '\n'); i >= 0 {
		after = after[i+1:]
	} else {
		after = ""
	}
	return text[:cut], after
}

// skipLines: lines whose addresses are not recipients.
var skipLines = []string{"from:", "message-id:", "reply-to:", "return-path:", "sender:", "received:", "reporting-mta:",
	"in-reply-to:", "references:", "x-", "list-", "dkim-signature:", "arrival-date:", "generating server:",
	"original-envelope-id:", "for more information", "contact ", "please contact", "http"}

// candidates are the addresses a text names that may be recipients, in
// order of appearance, without repeats.
func candidates(text string, exclude map[string]bool) []string {
	var out []string
	seen := map[string]bool{}
	for _, loc := range addrRe.FindAllStringIndex(text, 200) {
		a := strings.Trim(text[loc[0]:loc[1]], ".")
		k := strings.ToLower(a)
		if seen[k] || exclude[k] || roleAddress(k) {
			continue
		}
		// Part of a URL or a Message-ID-like token?
		if loc[0] > 0 && (text[loc[0]-1] == '/' || text[loc[0]-1] == '=') {
			continue
		}
		ls := strings.LastIndexByte(text[:loc[0]], '\n') + 1
		line := strings.ToLower(strings.TrimLeft(text[ls:loc[0]], " \t>"))
		skip := false
		for _, p := range skipLines {
			if strings.HasPrefix(line, p) {
				skip = true
				break
			}
		}
		if skip {
			continue
		}
		seen[k] = true
		out = append(out, a)
		if len(out) >= maxRecipients {
			break
		}
	}
	return out
}

func roleAddress(a string) bool {
	local, _, _ := strings.Cut(a, "@")
	switch local {
	case "mailer-daemon", "mailerdaemon", "mail-daemon", "postmaster", "abuse", "hostmaster", "noreply", "no-reply", "root":
		return true
	}
	return false
}

type segment struct {
	addr, text string
}

// segments gives each address the text from its first mention to the
// first mention of the next.
func segments(text string, addrs []string) []segment {
	if len(addrs) == 0 {
		return nil
	}
	lower := asciiLower(text)
	type pos struct {
		addr string
		at   int
	}
	var ps []pos
	for _, a := range addrs {
		if i := strings.Index(lower, asciiLower(a)); i >= 0 {
			ps = append(ps, pos{a, i})
		}
	}
	// Sort by position (few addresses: insertion sort).
	for i := 1; i < len(ps); i++ {
		for j := i; j > 0 && ps[j].at < ps[j-1].at; j-- {
			ps[j], ps[j-1] = ps[j-1], ps[j]
		}
	}
	out := make([]segment, 0, len(ps))
	for i, p := range ps {
		end := len(text)
		if i+1 < len(ps) {
			end = ps[i+1].at
		}
		// Start at the beginning of the mention's line: the code may
		// stand before the address on it.
		start := strings.LastIndexByte(text[:p.at], '\n') + 1
		out = append(out, segment{p.addr, text[start:end]})
	}
	return out
}

// diagnosticLine is the first line of s that carries an SMTP reply or an
// enhanced status code, with the lines that continue it.
func diagnosticLine(s string) string {
	lines := strings.Split(s[:min(len(s), 16384)], "\n")
	for i, l := range lines {
		if !smtpRe.MatchString(l) && statusCode(l) == "" {
			continue
		}
		out := strings.TrimSpace(l)
		for j := i + 1; j < len(lines) && j <= i+3 && len(out) < 400; j++ {
			next := strings.TrimRight(lines[j], "\r")
			t := strings.TrimSpace(next)
			// Continuations are indented or carry on a reply ("550-").
			if t == "" || !(strings.HasPrefix(next, " ") || strings.HasPrefix(next, "\t") || smtpRe.MatchString(t)) {
				break
			}
			out += " " + t
		}
		out = clean(out)
		if len(out) > 1000 {
			out = out[:1000]
		}
		return strings.ToValidUTF8(out, "")
	}
	return ""
}

// contextLine: without a code, the line that names the recipient and the
// next few with words.
func contextLine(s string) string {
	lines := strings.SplitN(s, "\n", 6)
	var out []string
	for _, l := range lines {
		if t := strings.TrimSpace(l); t != "" {
			out = append(out, t)
			if len(out) == 4 {
				break
			}
		}
	}
	c := clean(strings.Join(out, " "))
	if len(c) > 400 {
		c = c[:400]
	}
	return strings.ToValidUTF8(c, "")
}

// stripTags turns HTML into rough text: tags out, block ends as line
// breaks, the common entities decoded; style and script dropped. It is
// linear in the input (lowered once, searched in step).
func stripTags(b []byte) []byte {
	s := string(b)
	lower := asciiLower(s)
	out := make([]byte, 0, len(s))
	i := 0
	for i < len(s) {
		j := strings.IndexByte(s[i:], '<')
		if j < 0 {
			out = append(out, s[i:]...)
			break
		}
		out = append(out, s[i:i+j]...)
		i += j
		k := strings.IndexByte(s[i:], '>')
		if k < 0 {
			break
		}
		tag := lower[i+1 : i+k]
		i += k + 1
		closing := strings.HasPrefix(tag, "/")
		name := strings.TrimPrefix(tag, "/")
		if e := strings.IndexAny(name, " \t\r\n/"); e >= 0 {
			name = name[:e]
		}
		switch name {
		case "style", "script":
			if !closing {
				if e := strings.Index(lower[i:], "</"+name); e >= 0 {
					i += e
				} else {
					i = len(s) // unclosed: it runs to the end, as in browsers
				}
			}
		case "br", "p", "div", "tr", "li", "h1", "h2", "h3", "table", "pre", "blockquote":
			out = append(out, '\n')
		case "td":
			out = append(out, ' ')
		}
	}
	r := strings.NewReplacer("&nbsp;", " ", "&lt;", "<", "&gt;", ">", "&amp;", "&", "&quot;", `"`, "&#39;", "'")
	return []byte(r.Replace(string(out)))
}
