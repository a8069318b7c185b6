package mail

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
)

// smtpConn is one client connection to the relay. The protocol is written
// here rather than taken from go-smtp's Client, which sends every command
// and waits for its reply: PIPELINING (RFC 2920) halves the round trips per
// message, and in a loopback test against a go-smtp server that nearly
// doubles messages per second per core. Owning the connection also lets
// EHLO carry our name before STARTTLS (go-smtp's STARTTLS is unexported),
// and lets a cancelled context abort a blocked read by closing the socket.
//
// A smtpConn is used by one goroutine at a time (the pool hands it out).
type smtpConn struct {
	t    *SMTPTransport
	raw  net.Conn // the TCP connection; closing it aborts anything blocked
	conn net.Conn // raw, or TLS over raw
	br   *bufio.Reader
	bw   *bufio.Writer
	wbuf []byte            // SendBatch's round, reused
	ext  map[string]string // EHLO keywords (upper case) and their parameters
	tls  bool
	helo string // the name sent with EHLO
	// sent counts the mail transactions begun on this connection, for
	// MaxPerConn.
	sent int
	// trace, when set, hears each step of the set-up (herald smtp test).
	trace func(step, detail string)

	idleSince time.Time
	// broken: the connection must not be used again.
	broken bool
	// dirty: a transaction was left open; send RSET before the next MAIL.
	dirty bool
	// deadBeforeMail: the last send failed because the connection was
	// dead (closed, reset, 421) before MAIL was accepted, so nothing was
	// delivered and the message may be sent again on a fresh connection.
	deadBeforeMail bool
}

// reply is one SMTP reply.
type reply struct {
	code int
	enh  string // enhanced status code, e.g. "5.1.1"
	text string // lines joined by a space, enhanced codes removed
}

func (t *SMTPTransport) dial(ctx context.Context) (*smtpConn, error) {
	c, err := t.dialTrace(ctx, nil)
	t.noteDial(err)
	return c, err
}

// dialTrace connects and sets the connection up, telling trace (if not
// nil) what it finds at each step. A failure is a *SendError whose Cause
// and Fix say why and what to change.
func (t *SMTPTransport) dialTrace(ctx context.Context, trace func(step, detail string)) (*smtpConn, error) {
	dctx, cancel := context.WithTimeout(ctx, t.cfg.DialTimeout)
	defer cancel()
	var d net.Dialer
	raw, err := d.DialContext(dctx, "tcp", t.addr)
	if err != nil {
		se := &SendError{Command: "dial", Message: t.addr, Temporary: true, Err: ctxErr(ctx, err)}
		diagnose(se, &t.cfg)
		return nil, se
	}
	c := &smtpConn{t: t, raw: raw, conn: raw, trace: trace}
	c.tracef("connect", "connected to %s (%s)", t.addr, raw.RemoteAddr())
	stop := context.AfterFunc(ctx, func() { raw.Close() })
	err = c.setup(ctx, dctx)
	if !stop() && err == nil {
		err = &SendError{Command: "dial", Temporary: true, Err: ctx.Err()}
	}
	if err != nil {
		raw.Close()
		// Whatever fails before MAIL (TLS, a 5xx greeting, AUTH refused,
		// credentials we will not send in clear) is about the relay or its
		// configuration, not this message or recipient. It is reported as
		// temporary so that a queue retries and the mail is not dropped
		// for good; Command says what went wrong.
		var se *SendError
		if errors.As(err, &se) {
			se.Temporary = true
			if ctx.Err() == nil {
				diagnose(se, &t.cfg)
			}
		}
		return nil, err
	}
	return c, nil
}

func (c *smtpConn) tracef(step, format string, args ...any) {
	if c.trace != nil {
		c.trace(step, fmt.Sprintf(format, args...))
	}
}

// ctxErr prefers the context's error, which says why a socket was closed
// under us or timed out (the socket's deadline is the context's when that
// is sooner, and may fire first), to the socket's.
func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if dl, ok := ctx.Deadline(); ok && isTimeout(err) && !time.Now().Before(dl) {
		return context.DeadlineExceeded
	}
	return err
}

// setup runs the greeting, EHLO, STARTTLS and AUTH.
func (c *smtpConn) setup(ctx, dctx context.Context) error {
	cfg := &c.t.cfg
	c.helo = cfg.HelloName
	if c.helo == "" {
		c.helo = addressLiteral(c.raw.LocalAddr())
	}
	if strings.ContainsAny(c.helo, " \t\r\n\x00") {
		return &SendError{Command: "EHLO", Message: fmt.Sprintf("invalid HelloName %q", c.helo)}
	}
	if cfg.ImplicitTLS {
		if err := c.startTLS(dctx); err != nil {
			return err
		}
	} else {
		c.setIO()
	}
	r, err := c.expect(ctx, "greeting", 220)
	if err != nil {
		return err
	}
	c.tracef("greeting", "%d %s", r.code, strings.ReplaceAll(r.text, "\n", " "))
	if err := c.hello(ctx); err != nil {
		return err
	}
	_, offered := c.ext["STARTTLS"]
	switch {
	case c.tls || cfg.NoTLS:
		if !c.tls {
			c.tracef("tls", "not used (tls=none)")
		}
	case offered:
		if err := c.cmd(ctx, "STARTTLS", 220, "STARTTLS"); err != nil {
			return err
		}
		if err := c.startTLS(dctx); err != nil {
			return err
		}
		if err := c.hello(ctx); err != nil {
			return err
		}
	case cfg.RequireTLS:
		return &SendError{Command: "STARTTLS", Message: "tls=starttls, but the relay does not offer STARTTLS",
			Cause: CauseTLSNotOffered, Fix: "enable STARTTLS on the relay; or, if it speaks TLS from the first byte (usually port 465), use smtps:// or tls=implicit; " +
				"or, for a relay on this host or a network you trust, tls=none"}
	default:
		c.tracef("tls", "not offered by the relay: the connection stays unencrypted (tls=starttls would refuse it)")
	}
	if cfg.Username != "" || cfg.Password != "" {
		if err := c.auth(ctx); err != nil {
			return err
		}
		c.tracef("auth", "accepted as %q", cfg.Username)
	} else {
		c.tracef("auth", "no credentials configured: none sent")
	}
	return nil
}

// addressLiteral is the EHLO argument for a host without a domain name
// (RFC 5321 4.1.3): its address in brackets.
func addressLiteral(a net.Addr) string {
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return "[127.0.0.1]"
	}
	if ip4 := ta.IP.To4(); ip4 != nil {
		return "[" + ip4.String() + "]"
	}
	return "[IPv6:" + ta.IP.String() + "]"
}

func (c *smtpConn) setIO() {
	c.br = bufio.NewReaderSize(c.conn, 4096)
	c.bw = bufio.NewWriterSize(c.conn, 32<<10)
}

func (c *smtpConn) startTLS(dctx context.Context) error {
	tc := tls.Client(c.raw, c.t.tls)
	if err := tc.HandshakeContext(dctx); err != nil {
		return &SendError{Command: "TLS", Message: "handshake with " + c.t.addr, Temporary: true, Err: ctxErr(dctx, err)}
	}
	c.conn, c.tls = tc, true
	c.setIO()
	if c.trace != nil {
		st := tc.ConnectionState()
		how := "certificate verified"
		switch {
		case c.t.tls.InsecureSkipVerify:
			how = "certificate NOT verified (tls_skip_verify=true)"
		case c.t.cfg.TLSCAFile != "":
			how = "certificate verified against tls_ca=" + c.t.cfg.TLSCAFile
		}
		peer := ""
		if len(st.PeerCertificates) > 0 {
			pc := st.PeerCertificates[0]
			peer = fmt.Sprintf("; certificate for %q issued by %q, valid until %s", pc.Subject.CommonName, pc.Issuer.CommonName, pc.NotAfter.UTC().Format("2006-01-02"))
		}
		mode := "STARTTLS"
		if c.t.cfg.ImplicitTLS {
			mode = "implicit TLS"
		}
		c.tracef("tls", "%s: %s, %s; %s%s", mode, tls.VersionName(st.Version), tls.CipherSuiteName(st.CipherSuite), how, peer)
	}
	return nil
}

func (c *smtpConn) hello(ctx context.Context) error {
	c.bw.WriteString("EHLO " + c.helo + "\r\n")
	r, err := c.flushRead(ctx, "EHLO")
	if err != nil {
		return err
	}
	c.ext = map[string]string{}
	if r.code == 250 {
		var kws []string
		for i, line := range strings.Split(r.text, "\n") {
			if i == 0 {
				continue // the server's greeting line
			}
			k, v, _ := strings.Cut(line, " ")
			c.ext[strings.ToUpper(k)] = v
			kws = append(kws, line)
		}
		c.tracef("ehlo", "EHLO %s accepted; the relay offers: %s", c.helo, strings.Join(kws, ", "))
		return nil
	}
	if r.code != 500 && r.code != 502 {
		return replyError("EHLO", r)
	}
	// An old server without ESMTP.
	c.tracef("ehlo", "EHLO refused (%d): falling back to HELO, without extensions", r.code)
	return c.cmd(ctx, "HELO", 250, "HELO "+c.helo)
}

func (c *smtpConn) auth(ctx context.Context) error {
	cfg := &c.t.cfg
	if !c.tls && !isLoopback(c.raw.RemoteAddr()) {
		return &SendError{Command: "AUTH", Message: "refusing to send credentials over an unencrypted connection: the server offers no STARTTLS (use smtps:// or a relay that offers STARTTLS)"}
	}
	mechs, ok := c.ext["AUTH"]
	if !ok {
		return &SendError{Command: "AUTH", Message: "credentials are configured but the server offers no AUTH"}
	}
	var client sasl.Client
	for _, m := range strings.Fields(mechs) {
		switch strings.ToUpper(m) {
		case sasl.Plain:
			client = sasl.NewPlainClient("", cfg.Username, cfg.Password)
		case sasl.Login:
			if client == nil {
				client = sasl.NewLoginClient(cfg.Username, cfg.Password)
			}
		}
	}
	if client == nil {
		return &SendError{Command: "AUTH", Message: "the server offers neither AUTH PLAIN nor LOGIN (offers " + mechs + ")"}
	}
	mech, ir, err := client.Start()
	if err != nil {
		return &SendError{Command: "AUTH", Err: err}
	}
	line := "AUTH " + mech
	if ir != nil {
		line += " " + encodeSASL(ir)
	}
	for {
		c.bw.WriteString(line)
		c.bw.WriteString("\r\n")
		// The reply never echoes credentials; errors name "AUTH" only.
		r, err := c.flushRead(ctx, "AUTH")
		if err != nil {
			return err
		}
		switch r.code {
		case 235:
			return nil
		case 334:
			challenge, err := base64.StdEncoding.DecodeString(r.text)
			var resp []byte
			if err == nil {
				resp, err = client.Next(challenge)
			}
			if err != nil {
				// Cancel the exchange; the server answers 501.
				c.bw.WriteString("*\r\n")
				_, _ = c.flushRead(ctx, "AUTH")
				return &SendError{Command: "AUTH", Message: "unexpected challenge from server", Err: err}
			}
			line = encodeSASL(resp)
		default:
			return replyError("AUTH", r)
		}
	}
}

func encodeSASL(p []byte) string {
	if len(p) == 0 {
		return "="
	}
	return base64.StdEncoding.EncodeToString(p)
}

func isLoopback(a net.Addr) bool {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.IP.IsLoopback()
	}
	return false
}

// send runs one mail transaction. Failures leave the connection usable
// (dirty, to be RSET) unless they are network failures or 421.
func (c *smtpConn) send(ctx context.Context, from string, to []string, msg []byte) (err error) {
	c.deadBeforeMail = false
	info, err := inspectMessage(msg)
	if err != nil {
		return err
	}
	if max, ok := c.maxSize(); ok && len(msg) > max {
		return &SendError{Command: "message", Code: 552, EnhancedCode: "5.3.4",
			Message: fmt.Sprintf("message of %d octets exceeds the server's limit of %d", len(msg), max)}
	}
	smtputf8 := !isASCII(from)
	for _, a := range to {
		smtputf8 = smtputf8 || !isASCII(a)
	}
	if _, ok := c.ext["SMTPUTF8"]; smtputf8 && !ok {
		return errNoSMTPUTF8()
	}
	c.sent++

	stop := context.AfterFunc(ctx, func() { c.raw.Close() })
	defer func() {
		if !stop() {
			// The socket was closed under us: unusable, whatever happened.
			c.broken = true
			var se *SendError
			if errors.As(err, &se) && se.Code == 0 {
				se.Err, se.Temporary = ctx.Err(), true
			}
		}
	}()

	_, pipelining := c.ext["PIPELINING"]
	pipelining = pipelining && !c.t.noPipelining
	w := c.bw
	rset := c.dirty
	if rset {
		w.WriteString("RSET\r\n")
		if !pipelining {
			if err := c.checkRSET(ctx, true); err != nil {
				return err
			}
			rset = false
		}
	}
	w.WriteString("MAIL FROM:<")
	w.WriteString(from)
	w.WriteByte('>')
	if _, ok := c.ext["SIZE"]; ok {
		w.WriteString(" SIZE=")
		w.WriteString(strconv.Itoa(len(msg)))
	}
	if _, ok := c.ext["8BITMIME"]; ok && info.eightBit {
		w.WriteString(" BODY=8BITMIME")
	}
	if smtputf8 {
		w.WriteString(" SMTPUTF8")
	}
	w.WriteString("\r\n")
	c.dirty = true

	if !pipelining {
		if err := c.readMail(ctx, false); err != nil {
			return err
		}
		for _, a := range to {
			w.WriteString("RCPT TO:<" + a + ">\r\n")
			if err := c.cmdReply(ctx, "RCPT", 250, 251); err != nil {
				return err
			}
		}
		w.WriteString("DATA\r\n")
		if err := c.cmdReply(ctx, "DATA", 354); err != nil {
			return err
		}
	} else {
		for _, a := range to {
			w.WriteString("RCPT TO:<")
			w.WriteString(a)
			w.WriteString(">\r\n")
		}
		w.WriteString("DATA\r\n")
		if err := c.setDeadline(ctx); err != nil {
			return err
		}
		if err := w.Flush(); err != nil {
			c.deadBeforeMail = true
			return c.netError("MAIL", err, ctx)
		}
		if rset {
			if err := c.checkRSET(ctx, false); err != nil {
				return err
			}
		}
		// Read every reply of the group, keeping the first refusal.
		first := c.readMail(ctx, true)
		if first != nil && c.broken {
			return first
		}
		for range to {
			r, err := c.read(ctx, "RCPT")
			if err != nil {
				return err
			}
			if first == nil && r.code != 250 && r.code != 251 {
				first = replyError("RCPT", r)
			}
		}
		r, err := c.read(ctx, "DATA")
		if err != nil {
			return err
		}
		if r.code != 354 {
			if first == nil {
				first = replyError("DATA", r)
			}
			return first
		}
		if first != nil {
			// The server waits for the message although a recipient was
			// refused. There is no way to abort DATA without delivering to
			// the others, so drop the connection: all or nothing.
			c.broken = true
			return first
		}
	}

	info.writeData(w, msg)
	if err := c.setDeadline(ctx); err != nil {
		return err
	}
	r, err := c.flushRead(ctx, "DATA")
	if err != nil {
		return err
	}
	if r.code != 250 {
		return replyError("DATA", r)
	}
	c.dirty = false
	return nil
}

// readMail reads the reply to MAIL. A connection that turns out to be gone
// at this point (reset, EOF, 421 after an idle timeout) is marked
// deadBeforeMail so that the caller may retry on a fresh one.
func (c *smtpConn) readMail(ctx context.Context, pipelined bool) error {
	if !pipelined {
		if err := c.setDeadline(ctx); err != nil {
			return err
		}
		if err := c.bw.Flush(); err != nil {
			c.deadBeforeMail = true
			return c.netError("MAIL", err, ctx)
		}
	}
	r, err := c.read(ctx, "MAIL")
	if err != nil {
		c.deadBeforeMail = ctx.Err() == nil && !isTimeout(err)
		return err
	}
	if r.code != 250 {
		c.deadBeforeMail = r.code == 421
		return replyError("MAIL", r)
	}
	return nil
}

func (c *smtpConn) checkRSET(ctx context.Context, flush bool) error {
	var r reply
	var err error
	if flush {
		r, err = c.flushRead(ctx, "RSET")
	} else {
		r, err = c.read(ctx, "RSET")
	}
	if err == nil && r.code != 250 {
		c.broken = true
		err = replyError("RSET", r)
	}
	if err != nil {
		c.deadBeforeMail = ctx.Err() == nil && !isTimeout(err)
		return err
	}
	c.dirty = false
	return nil
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func (c *smtpConn) maxSize() (int, bool) {
	v := c.ext["SIZE"]
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		return 0, false
	}
	return n, true
}

// cmd writes line and expects one of codes.
func (c *smtpConn) cmd(ctx context.Context, name string, code int, line string) error {
	c.bw.WriteString(line)
	c.bw.WriteString("\r\n")
	return c.cmdReply(ctx, name, code)
}

// cmdReply flushes what is buffered and expects one of codes.
func (c *smtpConn) cmdReply(ctx context.Context, name string, codes ...int) error {
	r, err := c.flushRead(ctx, name)
	if err != nil {
		return err
	}
	for _, code := range codes {
		if r.code == code {
			return nil
		}
	}
	return replyError(name, r)
}

func (c *smtpConn) expect(ctx context.Context, name string, code int) (reply, error) {
	if err := c.setDeadline(ctx); err != nil {
		return reply{}, err
	}
	r, err := c.read(ctx, name)
	if err == nil && r.code != code {
		err = replyError(name, r)
	}
	return r, err
}

func (c *smtpConn) flushRead(ctx context.Context, name string) (reply, error) {
	if err := c.setDeadline(ctx); err != nil {
		return reply{}, err
	}
	if err := c.bw.Flush(); err != nil {
		return reply{}, c.netError(name, err, ctx)
	}
	return c.read(ctx, name)
}

// setDeadline bounds the next write and read by CommandTimeout and ctx.
func (c *smtpConn) setDeadline(ctx context.Context) error {
	d := time.Now().Add(c.t.cfg.CommandTimeout)
	if dl, ok := ctx.Deadline(); ok && dl.Before(d) {
		d = dl
	}
	if err := c.conn.SetDeadline(d); err != nil {
		return c.netError("", err, ctx)
	}
	return nil
}

func (c *smtpConn) netError(name string, err error, ctx context.Context) error {
	c.broken = true
	return &SendError{Command: name, Temporary: true, Err: ctxErr(ctx, err)}
}

// replyError turns a refusal into a SendError. 421 means the server is
// closing the connection.
func replyError(name string, r reply) *SendError {
	return &SendError{
		Command:      name,
		Code:         r.code,
		EnhancedCode: r.enh,
		Message:      strings.ReplaceAll(r.text, "\n", " "),
		Temporary:    r.code/100 == 4,
	}
}

// read reads one reply, possibly multi-line ("250-…" then "250 …"). Lines
// of text are joined with "\n" (EHLO needs them apart); errors join them
// with spaces.
func (c *smtpConn) read(ctx context.Context, name string) (reply, error) {
	var r reply
	var text strings.Builder
	for n := 0; ; n++ {
		line, err := c.br.ReadSlice('\n')
		if err != nil {
			if errors.Is(err, bufio.ErrBufferFull) {
				err = errors.New("reply line too long")
			}
			return r, c.netError(name, err, ctx)
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) < 3 || n > 100 {
			return r, c.netError(name, fmt.Errorf("malformed reply %q", line), ctx)
		}
		code := 0
		for _, d := range line[:3] {
			code = code*10 + int(d) - '0'
			if d < '0' || d > '9' {
				code = -1
				break
			}
		}
		if code < 200 || code > 599 || (n > 0 && code != r.code) {
			return r, c.netError(name, fmt.Errorf("malformed reply %q", line), ctx)
		}
		r.code = code
		more := len(line) > 3 && line[3] == '-'
		if len(line) > 3 && line[3] != ' ' && line[3] != '-' {
			return r, c.netError(name, fmt.Errorf("malformed reply %q", line), ctx)
		}
		var t []byte
		if len(line) > 4 {
			t = line[4:]
		}
		if enh, rest, ok := splitEnhanced(t, code); ok {
			if n == 0 {
				r.enh = enh
			}
			t = rest
		}
		if n > 0 {
			text.WriteByte('\n')
		}
		text.Write(t)
		if !more {
			break
		}
	}
	r.text = text.String()
	if r.code == 421 {
		c.broken = true
	}
	return r, nil
}

// splitEnhanced splits an RFC 2034 enhanced status code ("5.1.1 ") off t.
func splitEnhanced(t []byte, code int) (string, []byte, bool) {
	sp := bytes.IndexByte(t, ' ')
	enh := t
	rest := []byte(nil)
	if sp >= 0 {
		enh, rest = t[:sp], t[sp+1:]
	}
	if len(enh) < 5 || len(enh) > 11 || int(enh[0]-'0') != code/100 || enh[1] != '.' {
		return "", t, false
	}
	dots := 0
	for _, ch := range enh[2:] {
		switch {
		case ch == '.':
			dots++
		case ch < '0' || ch > '9':
			return "", t, false
		}
	}
	if dots != 1 || enh[len(enh)-1] == '.' || enh[2] == '.' {
		return "", t, false
	}
	return string(enh), rest, true
}

func (c *smtpConn) quit() {
	c.conn.SetDeadline(time.Now().Add(2 * time.Second))
	c.bw.WriteString("QUIT\r\n")
	if c.bw.Flush() == nil {
		c.br.ReadSlice('\n')
	}
	c.close()
}

func (c *smtpConn) close() {
	c.broken = true
	c.raw.Close()
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// msgInfo is what inspectMessage learnt about a message.
type msgInfo struct {
	eightBit  bool // has octets ≥ 0x80: BODY=8BITMIME
	dotLine   bool // has a line starting with ".": needs dot-stuffing
	finalCRLF bool // ends with CRLF
	smtputf8  bool // the envelope needs SMTPUTF8 (set by checkOne)
}

// inspectMessage checks that msg can go on the wire as is: CRLF line
// endings only and no line over 998 octets. A strict server (go-smtp)
// drops the connection on either; catching it here costs one message, not
// the connection and everything queued behind it.
func inspectMessage(msg []byte) (msgInfo, error) {
	var info msgInfo
	if len(msg) == 0 {
		return info, &SendError{Command: "message", Message: "empty message"}
	}
	for i := 0; i < len(msg); i++ {
		if msg[i] >= 0x80 {
			info.eightBit = true
			break
		}
	}
	rest := msg
	for lineNo := 1; len(rest) > 0; lineNo++ {
		if rest[0] == '.' {
			info.dotLine = true
		}
		i := bytes.IndexByte(rest, '\n')
		line := rest
		if i >= 0 {
			if i == 0 || rest[i-1] != '\r' {
				return info, &SendError{Command: "message", Message: fmt.Sprintf("bare LF on line %d (lines must end with CRLF)", lineNo)}
			}
			line, rest = rest[:i-1], rest[i+1:]
		} else {
			rest = nil
		}
		if bytes.IndexByte(line, '\r') >= 0 {
			return info, &SendError{Command: "message", Message: fmt.Sprintf("bare CR on line %d", lineNo)}
		}
		if len(line) > maxLineLen {
			return info, &SendError{Command: "message", Message: fmt.Sprintf("line %d is %d octets long (at most 998)", lineNo, len(line))}
		}
	}
	info.finalCRLF = bytes.HasSuffix(msg, []byte("\r\n"))
	return info, nil
}

// writeData writes msg dot-stuffed, followed by the end-of-data line.
func (info msgInfo) writeData(w *bufio.Writer, msg []byte) {
	if !info.dotLine {
		w.Write(msg)
	} else {
		for len(msg) > 0 {
			if msg[0] == '.' {
				w.WriteByte('.')
			}
			i := bytes.IndexByte(msg, '\n')
			if i < 0 {
				w.Write(msg)
				break
			}
			w.Write(msg[:i+1])
			msg = msg[i+1:]
		}
	}
	if !info.finalCRLF {
		w.WriteString("\r\n")
	}
	w.WriteString(".\r\n")
}
