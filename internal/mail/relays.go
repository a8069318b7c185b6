package mail

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// RelayState is what Herald knows of one relay, for the API and the log.
type RelayState struct {
	URL    string `json:"url"` // scheme://host:port, never the credentials
	Active bool   `json:"active"`
	// State is "ok" (the last connection worked), "failing" (the last
	// attempt to connect failed) or "unknown" (not tried yet).
	State       string      `json:"state"`
	TLS         string      `json:"tls"` // auto, starttls, implicit or none
	LastOKAt    *time.Time  `json:"last_ok_at,omitempty"`
	LastErrorAt *time.Time  `json:"last_error_at,omitempty"`
	Error       *RelayError `json:"error,omitempty"` // the last failure, while State is "failing"
}

// RelayError is a failure to use a relay: its cause (one of the Cause
// constants), the error itself and what to change.
type RelayError struct {
	Cause   string `json:"cause"`
	Message string `json:"message"`
	Fix     string `json:"fix"`
}

// RelayErrorOf explains err: its cause and fix when it is a failure to set
// up a connection to the relay (see Diagnosis), its text in any case.
func RelayErrorOf(err error) *RelayError {
	if err == nil {
		return nil
	}
	var se *SendError
	if errors.As(err, &se) {
		return &RelayError{Cause: se.Cause, Message: se.error(), Fix: se.Fix}
	}
	return &RelayError{Message: err.Error()}
}

// StatusReporter is a transport that can say how its relays are doing.
type StatusReporter interface {
	Relays() []RelayState
}

// relayHealth is an SMTPTransport's record of its last connection
// attempts. It is written when a connection is dialled, never per message.
type relayHealth struct {
	mu      sync.Mutex
	okAt    time.Time
	errAt   time.Time
	lastErr *SendError
}

// noteDial records the outcome of dialling a connection.
func (t *SMTPTransport) noteDial(err error) {
	var se *SendError
	if err != nil && (!errors.As(err, &se) || errors.Is(err, context.Canceled) || errors.Is(err, errTransportClosed)) {
		return // our own cancellation says nothing about the relay
	}
	h := &t.health
	h.mu.Lock()
	defer h.mu.Unlock()
	if err == nil {
		h.okAt = time.Now()
		return
	}
	h.errAt, h.lastErr = time.Now(), se
}

func (t *SMTPTransport) state() RelayState {
	h := &t.health
	h.mu.Lock()
	defer h.mu.Unlock()
	s := RelayState{URL: t.cfg.Name(), State: "unknown", TLS: t.cfg.TLSMode()}
	if !h.okAt.IsZero() {
		at := h.okAt.UTC()
		s.LastOKAt, s.State = &at, "ok"
	}
	if !h.errAt.IsZero() {
		at := h.errAt.UTC()
		s.LastErrorAt = &at
		if h.errAt.After(h.okAt) {
			s.State = "failing"
			s.Error = RelayErrorOf(h.lastErr)
		}
	}
	return s
}

// TLSMode is the tls option in effect: implicit, none, starttls
// (required) or auto (STARTTLS when offered).
func (cfg *SMTPConfig) TLSMode() string {
	switch {
	case cfg.ImplicitTLS:
		return "implicit"
	case cfg.NoTLS:
		return "none"
	case cfg.RequireTLS:
		return "starttls"
	}
	return "auto"
}

// Relays implements StatusReporter for one relay.
func (t *SMTPTransport) Relays() []RelayState {
	s := t.state()
	s.Active = true
	return []RelayState{s}
}

// ParseSMTPURLs parses HERALD_SMTP_URL: one relay URL, or several
// separated by commas for failover (the first is preferred). A comma
// inside a URL's password is kept: a new URL starts only where smtp:// or
// smtps:// follows the comma.
func ParseSMTPURLs(raw string) ([]SMTPConfig, error) {
	var parts []string
	rest := strings.TrimSpace(raw)
	for rest != "" {
		cut := -1
		for i := 0; i < len(rest); i++ {
			if rest[i] != ',' {
				continue
			}
			next := strings.TrimSpace(rest[i+1:])
			if strings.HasPrefix(next, "smtp://") || strings.HasPrefix(next, "smtps://") || next == "" {
				cut = i
				break
			}
		}
		if cut < 0 {
			parts = append(parts, strings.TrimSpace(rest))
			break
		}
		parts = append(parts, strings.TrimSpace(rest[:cut]))
		rest = strings.TrimSpace(rest[cut+1:])
		if rest == "" {
			parts = append(parts, "") // a trailing comma
		}
	}
	if len(parts) == 0 {
		return nil, errors.New("mail: invalid SMTP URL: empty")
	}
	cfgs := make([]SMTPConfig, 0, len(parts))
	for i, p := range parts {
		if p == "" {
			return nil, errors.New("mail: invalid SMTP URL: an empty entry in the comma-separated list")
		}
		cfg, err := ParseSMTPURL(p)
		if err != nil {
			if len(parts) > 1 {
				return nil, fmt.Errorf("relay %d of %d: %w", i+1, len(parts), err)
			}
			return nil, err
		}
		cfgs = append(cfgs, cfg)
	}
	return cfgs, nil
}

// Failover sends through the first of several relays that works. It
// keeps using the relay that last worked (the active one); when a
// connection to it cannot be set up (refused, timeout, TLS, AUTH — not a
// refusal of a message or recipient) it tries the others in order and
// switches to the first that works. While a relay other than the first
// is active, the first is tried again now and then (PrimaryRetry), and
// taken back when it works.
type Failover struct {
	relays []*SMTPTransport
	log    *slog.Logger
	// PrimaryRetry is how often the first relay is tried again while
	// another one is active (default 1 min).
	PrimaryRetry time.Duration

	active      atomic.Int32
	mu          sync.Mutex
	primaryTry  time.Time // when the first relay was last tried while not active
	switchCount atomic.Int64
}

// NewFailover returns a transport over relays, the first preferred.
// log hears every switch.
func NewFailover(relays []*SMTPTransport, log *slog.Logger) *Failover {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Failover{relays: relays, log: log, PrimaryRetry: time.Minute}
}

var (
	_ BatchTransport = (*Failover)(nil)
	_ StatusReporter = (*Failover)(nil)
	_ StatusReporter = (*SMTPTransport)(nil)
)

// setupFailure reports whether err is a failure to set up a connection
// (nothing of the message reached the relay), which another relay may not
// have.
func setupFailure(err error) bool {
	var se *SendError
	if !errors.As(err, &se) || errors.Is(err, context.Canceled) || errors.Is(err, errTransportClosed) {
		return false
	}
	switch se.Command {
	case "dial", "TLS", "greeting", "EHLO", "HELO", "STARTTLS", "AUTH":
		return true
	}
	return false
}

// order is the relays to try, in order: the active one first, except that
// now and then the first relay goes first while another is active.
func (f *Failover) order() []int {
	a := int(f.active.Load())
	out := make([]int, 0, len(f.relays))
	if a != 0 {
		f.mu.Lock()
		if time.Since(f.primaryTry) >= f.PrimaryRetry {
			f.primaryTry = time.Now()
			out = append(out, 0)
		}
		f.mu.Unlock()
	}
	out = append(out, a)
	for i := range f.relays {
		if i != a && (len(out) == 0 || out[0] != i) {
			out = append(out, i)
		}
	}
	return out
}

// settle makes relay i the active one when it is not, and says so.
func (f *Failover) settle(i int, failed map[int]error) {
	old := int(f.active.Load())
	if old == i || !f.active.CompareAndSwap(int32(old), int32(i)) {
		return
	}
	f.switchCount.Add(1)
	to := f.relays[i].cfg.Name()
	if err, ok := failed[old]; ok {
		why := RelayErrorOf(err)
		f.log.Warn("mail: SMTP relay failing: switched to the next one", "from", f.relays[old].cfg.Name(), "to", to, "cause", why.Cause, "err", why.Message, "fix", why.Fix)
		return
	}
	f.log.Info("mail: the first SMTP relay works again: switched back to it", "from", f.relays[old].cfg.Name(), "to", to)
}

// Send implements Transport.
func (f *Failover) Send(ctx context.Context, from string, to []string, msg []byte) error {
	var first error
	failed := map[int]error{}
	for _, i := range f.order() {
		err := f.relays[i].Send(ctx, from, to, msg)
		if !setupFailure(err) {
			f.settle(i, failed)
			return err
		}
		failed[i] = err
		if first == nil {
			first = err
		}
		if ctx.Err() != nil {
			break
		}
	}
	return first
}

// SendBatch implements BatchTransport.
func (f *Failover) SendBatch(ctx context.Context, envs []Envelope, errs []error) {
	failed := map[int]error{}
	var firstErrs []error
	for _, i := range f.order() {
		f.relays[i].SendBatch(ctx, envs, errs)
		all := true
		for k := range envs {
			if !setupFailure(errs[k]) {
				all = false
				break
			}
		}
		if !all {
			f.settle(i, failed)
			return
		}
		failed[i] = errs[0]
		if firstErrs == nil {
			firstErrs = append([]error(nil), errs[:len(envs)]...)
		}
		if ctx.Err() != nil {
			break
		}
	}
	copy(errs, firstErrs)
}

// Close closes every relay's connections.
func (f *Failover) Close() error {
	for _, t := range f.relays {
		t.Close()
	}
	return nil
}

// Relays implements StatusReporter.
func (f *Failover) Relays() []RelayState {
	a := int(f.active.Load())
	out := make([]RelayState, len(f.relays))
	for i, t := range f.relays {
		out[i] = t.state()
		out[i].Active = i == a
	}
	return out
}

// Active is the relay in use now, as scheme://host:port.
func (f *Failover) Active() string { return f.relays[f.active.Load()].cfg.Name() }

// NewTransport builds the transport for HERALD_SMTP_URL's relays: one
// SMTPTransport, or a Failover over several.
func NewTransport(cfgs []SMTPConfig, log *slog.Logger) Transport {
	if len(cfgs) == 1 {
		return NewSMTP(cfgs[0])
	}
	ts := make([]*SMTPTransport, len(cfgs))
	for i, c := range cfgs {
		ts[i] = NewSMTP(c)
	}
	return NewFailover(ts, log)
}
