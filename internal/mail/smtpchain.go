package mail

import "context"

// chain sends the messages todo names with DATA, for servers that offer
// PIPELINING but not CHUNKING: each message's content and end of data go
// out in one write with the next message's MAIL, RCPT and DATA (RFC 2920
// lets a group follow the end of data), so a message costs one round trip
// — the wait for 354 — instead of two. It settles every message of todo.
// redo reports that the connection was found dead before the server
// answered anything, so nothing was delivered and a fresh connection may
// send them all.
func (c *smtpConn) chain(ctx context.Context, envs []Envelope, infos []msgInfo, errs []error, todo []int) (redo bool) {
	w := c.bw
	answered := false // the server has answered something of this chain
	// brk settles the messages from todo[k] on: the connection is gone.
	brk := func(k int, err error) {
		c.broken = true
		for _, i := range todo[k:] {
			errs[i] = err
		}
	}
	// dead reports whether a failure to read says the connection was dead
	// before the server took anything (closed while idle, or 421).
	dead := func(err error) bool { return !answered && ctx.Err() == nil && !isTimeout(err) }
	pending := -1 // the message whose content went out, awaiting its reply
	for k := 0; ; k++ {
		rset := false
		if k < len(todo) {
			i := todo[k]
			if rset = c.dirty; rset {
				w.WriteString("RSET\r\n")
			}
			c.wbuf = c.appendEnvelope(c.wbuf[:0], &envs[i], &infos[i], len(envs[i].Msg))
			w.Write(c.wbuf)
			w.WriteString("DATA\r\n")
			c.dirty = true
		}
		if err := c.setDeadline(ctx); err != nil {
			brk(k, err)
			if pending >= 0 {
				errs[pending] = err
			}
			return false
		}
		if err := w.Flush(); err != nil {
			err = c.netError("MAIL", err, ctx)
			if pending >= 0 {
				errs[pending] = err
			}
			brk(k, err)
			return pending < 0 && !answered
		}
		if pending >= 0 {
			r, err := c.read(ctx, "DATA")
			if err != nil {
				errs[pending] = err
				brk(k, err)
				return false
			}
			answered = true
			if r.code == 250 {
				errs[pending] = nil
			} else {
				errs[pending] = replyError("DATA", r)
			}
			pending = -1
			if r.code == 421 {
				brk(k, replyError("DATA", r))
				return false
			}
		}
		if k == len(todo) {
			return false
		}
		i := todo[k]
		if rset {
			r, err := c.read(ctx, "RSET")
			if err != nil {
				brk(k, err)
				return dead(err)
			}
			if r.code != 250 {
				brk(k, replyError("RSET", r))
				return r.code == 421 && !answered
			}
			answered = true
		}
		var first *SendError
		for step, name := range [...]string{"MAIL", "RCPT", "DATA"} {
			r, err := c.read(ctx, name)
			if err != nil {
				brk(k, err)
				return step == 0 && dead(err)
			}
			if r.code == 421 {
				brk(k, replyError(name, r))
				return step == 0 && !answered
			}
			answered = true
			ok := r.code == 250 || (step == 1 && r.code == 251) || (step == 2 && r.code == 354)
			if !ok && first == nil {
				first = replyError(name, r)
			}
			if step == 2 && r.code == 354 && first != nil {
				// The server waits for the content though MAIL or RCPT was
				// refused, and DATA cannot be aborted without delivering:
				// drop the connection; the messages behind wait for another.
				errs[i] = first
				brk(k+1, &SendError{Command: "MAIL", Temporary: true, Message: "connection dropped: the server took DATA after refusing the envelope"})
				return false
			}
		}
		if first != nil {
			errs[i] = first // the transaction may be open: RSET goes first next
			continue
		}
		infos[i].writeData(w, envs[i].Msg)
		pending = i
		c.dirty = false // the end of data ends the transaction, whatever the reply
	}
}
