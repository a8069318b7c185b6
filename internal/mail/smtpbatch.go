package mail

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
)

// Envelope is one message of a batch: one sender, one recipient.
type Envelope struct {
	From, To string
	Msg      []byte
}

// BatchTransport is a Transport that can send several single-recipient
// messages in one exchange with the server.
type BatchTransport interface {
	Transport
	// SendBatch sends each envelope on its own: errs[i] (len(errs) ≥
	// len(envs)) is set to what Send would have returned for envs[i].
	SendBatch(ctx context.Context, envs []Envelope, errs []error)
}

// SendAll sends envs through t, in batches when t can, one by one when
// it cannot.
func SendAll(ctx context.Context, t Transport, envs []Envelope, errs []error) {
	if bt, ok := t.(BatchTransport); ok {
		bt.SendBatch(ctx, envs, errs)
		return
	}
	for i := range envs {
		errs[i] = t.Send(ctx, envs[i].From, []string{envs[i].To}, envs[i].Msg)
	}
}

// batchBytes bounds what one round writes before it reads the replies:
// enough messages to make a write syscall and a wait for the server rare,
// few enough that a slow server's replies are not long in coming.
const batchBytes = 256 << 10

// SendBatch implements BatchTransport. On a server that offers PIPELINING
// and CHUNKING (RFC 2920, RFC 3030) the messages go out in rounds: every
// message of a round as MAIL, RCPT and BDAT … LAST with its content, in
// one write, then all their replies. No reply is waited for between
// messages, as DATA's 354 would make us. A server with PIPELINING but not
// CHUNKING gets them chained (see chain): one round trip per message.
// Other servers get the messages one by one, as Send sends them.
//
// A refusal inside a round leaves the server's transaction state in doubt
// for the messages after it (a MAIL still open, a BDAT refused), so a
// message that fails after an earlier failure in its round is sent again
// in the next round, after RSET, and only the first failure of a round is
// taken as the server's word. A message whose BDAT was accepted was
// delivered, whatever came before. When the connection breaks, messages
// without an accepted BDAT get a temporary error (those written before
// the break may still have been delivered: in flight).
func (t *SMTPTransport) SendBatch(ctx context.Context, envs []Envelope, errs []error) {
	fail := func(err error) {
		for i := range envs {
			errs[i] = err
		}
	}
	select {
	case t.slots <- struct{}{}:
	case <-ctx.Done():
		fail(&SendError{Command: "dial", Message: "waiting for a connection", Temporary: true, Err: ctx.Err()})
		return
	}
	c, reused, err := t.get(ctx)
	if err != nil {
		<-t.slots
		fail(err)
		return
	}
	if m := t.cfg.MaxPerConn; m > 0 && len(envs) > max(1, m-c.sent) {
		// The rest go on the next connection, once this one is back in
		// the pool (closed, as it has had its share) and its slot free.
		n := max(1, m-c.sent)
		defer t.SendBatch(ctx, envs[n:], errs[n:])
		envs = envs[:n]
	}
	bdat := c.canBatch()
	if !bdat && !c.canChain() {
		t.put(c)
		<-t.slots
		for i := range envs {
			errs[i] = t.Send(ctx, envs[i].From, []string{envs[i].To}, envs[i].Msg)
		}
		return
	}
	defer func() { <-t.slots }()

	infos := make([]msgInfo, len(envs))
	todo := make([]int, 0, len(envs))
	for i := range envs {
		if errs[i] = c.checkOne(&envs[i], &infos[i]); errs[i] == nil {
			todo = append(todo, i)
		}
	}
	redialled, first := false, true
	for len(todo) > 0 {
		stop := context.AfterFunc(ctx, func() { c.raw.Close() })
		var rest []int
		var redo bool
		if bdat {
			rest, redo = c.round(ctx, envs, infos, errs, todo)
		} else {
			redo = c.chain(ctx, envs, infos, errs, todo)
		}
		if !stop() {
			// The socket was closed under us: what failed on the network
			// failed because of the context, and what is left waits.
			c.broken = true
			cerr := &SendError{Command: "MAIL", Temporary: true, Err: ctx.Err()}
			for _, i := range todo {
				var se *SendError
				if errors.As(errs[i], &se) && se.Code == 0 && se.Err != nil {
					se.Err, se.Temporary = ctx.Err(), true
				}
			}
			for _, i := range rest {
				errs[i] = cerr
			}
			break
		}
		if c.broken && redo && reused && first && !redialled {
			// The pooled connection was dead before the server took
			// anything of the first round (it timed out while idle): a
			// fresh one may send it all.
			c.close()
			redialled = true
			if c, err = t.dial(ctx); err != nil {
				for _, i := range todo {
					errs[i] = err
				}
				return
			}
			continue
		}
		if c.broken {
			break // round settled everything
		}
		todo, first = rest, false
	}
	c.sent += len(envs)
	t.put(c)
}

// canChain reports whether the server lets SendBatch pipeline each
// message's end of data with the next message's commands.
func (c *smtpConn) canChain() bool {
	_, p := c.ext["PIPELINING"]
	return p && !c.t.noPipelining
}

// canBatch reports whether the server lets SendBatch pipeline BDAT.
func (c *smtpConn) canBatch() bool {
	_, p := c.ext["PIPELINING"]
	_, ch := c.ext["CHUNKING"]
	return p && ch && !c.t.noPipelining && !c.t.noChunking
}

// checkOne refuses what Send would refuse before writing anything.
func (c *smtpConn) checkOne(e *Envelope, info *msgInfo) error {
	if err := checkEnvelope(e.From, []string{e.To}); err != nil {
		return err
	}
	var err error
	if *info, err = inspectMessage(e.Msg); err != nil {
		return err
	}
	if max, ok := c.maxSize(); ok && len(e.Msg) > max {
		return &SendError{Command: "message", Code: 552, EnhancedCode: "5.3.4",
			Message: fmt.Sprintf("message of %d octets exceeds the server's limit of %d", len(e.Msg), max)}
	}
	if !isASCII(e.From) || !isASCII(e.To) {
		if _, ok := c.ext["SMTPUTF8"]; !ok {
			return errNoSMTPUTF8()
		}
		info.smtputf8 = true
	}
	return nil
}

// appendEnvelope appends MAIL FROM (with SIZE, BODY and SMTPUTF8 as the
// server takes them; size is the octets on the wire) and RCPT TO for e.
func (c *smtpConn) appendEnvelope(w []byte, e *Envelope, info *msgInfo, size int) []byte {
	w = append(w, "MAIL FROM:<"...)
	w = append(w, e.From...)
	w = append(w, '>')
	if _, ok := c.ext["SIZE"]; ok {
		w = append(w, " SIZE="...)
		w = strconv.AppendInt(w, int64(size), 10)
	}
	if _, ok := c.ext["8BITMIME"]; ok && info.eightBit {
		w = append(w, " BODY=8BITMIME"...)
	}
	if info.smtputf8 {
		w = append(w, " SMTPUTF8"...)
	}
	w = append(w, "\r\nRCPT TO:<"...)
	w = append(w, e.To...)
	return append(w, ">\r\n"...)
}

// round sends the messages todo names, as many as batchBytes allows, and
// reads their replies. It sets errs for the messages it settles and
// returns the others. redo reports that the connection broke before the
// server answered anything of the round, so nothing of it was delivered.
func (c *smtpConn) round(ctx context.Context, envs []Envelope, infos []msgInfo, errs []error, todo []int) (rest []int, redo bool) {
	w := c.wbuf[:0]
	rset := c.dirty
	if rset {
		w = append(w, "RSET\r\n"...)
	}
	n := 0
	for _, i := range todo {
		if n > 0 && len(w) >= batchBytes {
			break
		}
		e, info := &envs[i], &infos[i]
		body := len(e.Msg)
		if !info.finalCRLF {
			body += 2
		}
		w = c.appendEnvelope(w, e, info, body)
		w = append(w, "BDAT "...)
		w = strconv.AppendInt(w, int64(body), 10)
		w = append(w, " LAST\r\n"...)
		w = append(w, e.Msg...)
		if !info.finalCRLF {
			w = append(w, "\r\n"...)
		}
		n++
	}
	if cap(w) <= 4*batchBytes {
		c.wbuf = w[:0]
	} else {
		c.wbuf = nil // one huge message: do not keep its buffer
	}
	sent, rest := todo[:n], append([]int(nil), todo[n:]...)
	c.dirty = true

	// brk settles every message from sent[k] on, and every one left for
	// later, with err: the connection is gone.
	brk := func(k int, err error) ([]int, bool) {
		c.broken = true
		for _, i := range sent[k:] {
			errs[i] = err
		}
		for _, i := range rest {
			errs[i] = err
		}
		return nil, false
	}
	if err := c.setDeadline(ctx); err != nil {
		return brk(0, err)
	}
	if _, err := c.conn.Write(w); err != nil {
		// Like a failed pipelined MAIL: if the server took nothing, a
		// fresh connection may try again.
		brk(0, c.netError("MAIL", err, ctx))
		return nil, true
	}
	if rset {
		r, err := c.read(ctx, "RSET")
		if err != nil {
			brk(0, err)
			return nil, ctx.Err() == nil && !isTimeout(err)
		}
		if r.code != 250 {
			return brk(0, replyError("RSET", r))
		}
	}
	failed := false
	for k, i := range sent {
		var first *SendError
		delivered := false
		for step, name := range [...]string{"MAIL", "RCPT", "DATA"} {
			r, err := c.read(ctx, name)
			if err != nil {
				brk(k, err)
				return nil, k == 0 && step == 0 && !rset && ctx.Err() == nil && !isTimeout(err)
			}
			if r.code == 421 {
				if k == 0 && step == 0 && !rset {
					// Closing before it took anything: like a dead pooled
					// connection.
					brk(k, replyError(name, r))
					return nil, true
				}
				return brk(k, replyError(name, r))
			}
			ok := r.code == 250 || (step == 1 && r.code == 251)
			switch {
			case step == 2 && ok:
				delivered = true
			case !ok && first == nil:
				first = replyError(name, r)
			}
		}
		switch {
		case delivered:
			errs[i] = nil
		case !failed:
			errs[i], failed = first, true
		default:
			rest = append(rest, i)
		}
	}
	c.dirty = failed
	// Those to try again go first, in their original order.
	slices.Sort(rest)
	return rest, false
}
