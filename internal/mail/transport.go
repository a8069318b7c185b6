package mail

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"syscall"
)

// Transport delivers rendered messages. from and to are bare addresses for
// the SMTP envelope (MAIL FROM / RCPT TO); msg is the whole message with
// CRLF line endings, as Message.Bytes renders it (and DKIMSigner.Sign
// signs it). Implementations are safe for concurrent use.
type Transport interface {
	Send(ctx context.Context, from string, to []string, msg []byte) error
	Close() error
}

// SendError is what Send returns for an SMTP reply and for failures to reach
// the server. Temporary is set for 4xx replies and for network errors,
// timeouts and connection failures (retry later), not for 5xx replies to
// MAIL, RCPT or DATA. Failures while setting up the connection (Command
// "dial" to "AUTH", including a 5xx to AUTH) are Temporary too: they are
// the relay's or the configuration's, and must not fail mail for good.
type SendError struct {
	Code         int    // SMTP reply code, 0 when the server did not answer
	EnhancedCode string // RFC 3463 code such as "5.1.1", when the server gave one
	Message      string // the server's reply text, or what went wrong
	Temporary    bool
	Err          error // the underlying network or context error, if any

	// Command is the step that failed: "dial", "TLS", "greeting", "EHLO",
	// "HELO", "STARTTLS", "AUTH" (connection set-up: the relay, not the
	// recipient, is at fault, so a campaign should pause rather than mark
	// recipients failed), "RSET", "MAIL", "RCPT", "DATA", or "message" when
	// the message or envelope was refused before anything was sent.
	Command string

	// Cause and Fix explain a failure to set up the connection (Command
	// "dial" to "AUTH"): Cause is one of the Cause constants
	// ("certificate", "authentication", "refused", "timeout", …) and Fix
	// says what to change, naming the setting when one would help.
	Cause, Fix string
}

func (e *SendError) Error() string {
	s := e.error()
	if e.Cause != "" {
		s += " (cause: " + e.Cause + "; fix: " + e.Fix + ")"
	}
	return s
}

func (e *SendError) error() string {
	s := "smtp"
	if e.Command != "" {
		s += " " + e.Command
	}
	if e.Code != 0 {
		s += ": " + strconv.Itoa(e.Code)
		if e.EnhancedCode != "" {
			s += " " + e.EnhancedCode
		}
		if e.Message != "" {
			s += " " + e.Message
		}
		return s
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *SendError) Unwrap() error { return e.Err }

// IsTemporary reports whether delivery may succeed when retried later: a
// SendError marked Temporary (4xx replies, connection failures), a network
// error, an unexpected end of connection, or a cancelled or expired context.
// It is false for 5xx replies to MAIL, RCPT and DATA, and for messages or
// addresses refused before anything was sent.
func IsTemporary(err error) bool {
	if err == nil {
		return false
	}
	var se *SendError
	if errors.As(err, &se) {
		return se.Temporary
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, net.ErrClosed)
}

// OutboxWriter stores a message for the built-in outbox (the store's side of
// NewOutbox).
type OutboxWriter interface {
	WriteOutbox(ctx context.Context, from string, to []string, raw []byte) error
}

// NewOutbox returns the built-in outbox transport: Send hands the message to
// w and nothing leaves the machine. Messages are checked like on the wire
// (CRLF only, lines ≤ 998 octets) so that what the outbox shows could have
// been sent.
func NewOutbox(w OutboxWriter) Transport {
	return outbox{w: w}
}

type outbox struct{ w OutboxWriter }

func (o outbox) Send(ctx context.Context, from string, to []string, msg []byte) error {
	if err := checkEnvelope(from, to); err != nil {
		return err
	}
	if err := checkWire(msg); err != nil {
		return err
	}
	if err := o.w.WriteOutbox(ctx, from, to, msg); err != nil {
		return fmt.Errorf("mail: outbox: %w", err)
	}
	return nil
}

func (outbox) Close() error { return nil }

// checkEnvelope validates envelope addresses: they go into SMTP command
// lines, so CR, LF and angle brackets would let them inject commands.
func checkEnvelope(from string, to []string) error {
	if len(to) == 0 {
		return &SendError{Command: "message", Message: "no recipients"}
	}
	if from != "" {
		if err := checkEnvelopeAddr(from); err != nil {
			return err
		}
	}
	for _, a := range to {
		if err := checkEnvelopeAddr(a); err != nil {
			return err
		}
	}
	return nil
}

func checkEnvelopeAddr(a string) error {
	at := -1
	for i := 0; i < len(a); i++ {
		switch c := a[i]; {
		case c <= ' ' || c == 0x7f || c == '<' || c == '>':
			return &SendError{Command: "message", Message: fmt.Sprintf("invalid envelope address %q", a)}
		case c == '@':
			at = i
		}
	}
	if at <= 0 || at == len(a)-1 || len(a) > 254 {
		return &SendError{Command: "message", Message: fmt.Sprintf("invalid envelope address %q", a)}
	}
	return nil
}

// checkWire reports a message that a strict server would drop the
// connection for: a bare CR or LF, or a line over 998 octets.
func checkWire(msg []byte) error {
	_, err := inspectMessage(msg)
	return err
}
