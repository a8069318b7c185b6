// Package events hands Herald's domain events to the consumers that react
// to them: integrations (Mailchimp sync), and later outgoing webhooks,
// bounce audit and metrics.
//
// Write paths in the store append an event in the transaction that makes
// a change (internal/sqlstore/events.go); nothing in them names a
// consumer. A consumer registers here by name and gets the events in id
// order, which is commit order, in batches. Each batch is handled inside
// the store transaction that advances the consumer's durable cursor: what
// the handler writes (jobs, its own tables) commits together with the
// cursor, so after a crash or kill -9 the batch either counts as handled,
// with its effects, or comes again. Side effects outside the database
// belong in jobs the handler enqueues. A handler error rolls the batch
// back; it is retried with backoff, and the consumer's later events wait
// behind it (their order matters).
//
// On PostgreSQL several processes run dispatchers on one database; the
// store locks a consumer's cursor for the length of a batch (FOR UPDATE
// SKIP LOCKED), so one process at a time hands out a consumer's events and
// none is handled twice. Consumers are independent: a slow or failing one
// holds back only itself.
package events

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/heraldhq/herald/internal/sqlstore"
)

// Handler handles a batch of events inside the store transaction that
// advances the consumer's cursor.
type Handler = sqlstore.EventHandler

// Dispatcher feeds registered consumers.
type Dispatcher struct {
	DB  *sqlstore.DB
	Log *slog.Logger
	// Poll is how often a consumer looks for events committed by other
	// processes (this process's commits wake it at once). Default 1 s.
	Poll time.Duration
	// Batch is the most events handed to a consumer at once. Default 256.
	Batch int
	// Linger is how long a consumer woken by a commit of this process
	// waits for more before it reads: under a stream of signups it then
	// takes the writer a few times a second with a batch, rather than once
	// per commit. Default 50 ms.
	Linger time.Duration
	// Backoff is the first wait after a handler error, doubled per
	// failure up to MaxBackoff. Defaults 1 s and 1 min.
	Backoff, MaxBackoff time.Duration

	mu        sync.Mutex
	consumers []*consumer
}

type consumer struct {
	name string
	h    Handler
	skip sqlstore.EventSkipper
}

// Option changes how a consumer is fed.
type Option func(*consumer)

// SkipWhen gives a consumer a test, run in the batch's transaction, that
// says no event could matter to it now; its cursor then moves past every
// event without reading them. The Mailchimp sync skips while no list is
// connected, so an installation without it pays almost nothing.
func SkipWhen(idle sqlstore.EventSkipper) Option { return func(c *consumer) { c.skip = idle } }

// Register adds a consumer. Names are durable: the cursor is kept under
// the name, so renaming a consumer starts it again from the first event.
// Register before Run.
func (d *Dispatcher) Register(name string, h Handler, opts ...Option) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, c := range d.consumers {
		if c.name == name {
			panic("events: consumer " + name + " registered twice")
		}
	}
	c := &consumer{name: name, h: h}
	for _, o := range opts {
		o(c)
	}
	d.consumers = append(d.consumers, c)
}

func (d *Dispatcher) list() []*consumer {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]*consumer(nil), d.consumers...)
}

func (d *Dispatcher) defaults() {
	if d.Poll <= 0 {
		d.Poll = time.Second
	}
	if d.Batch <= 0 {
		d.Batch = 256
	}
	if d.Linger <= 0 {
		d.Linger = 50 * time.Millisecond
	}
	if d.Backoff <= 0 {
		d.Backoff = time.Second
	}
	if d.MaxBackoff <= 0 {
		d.MaxBackoff = time.Minute
	}
	if d.Log == nil {
		d.Log = slog.Default()
	}
}

// Run feeds every registered consumer until ctx is cancelled.
func (d *Dispatcher) Run(ctx context.Context) error {
	d.defaults()
	cs := d.list()
	for _, c := range cs {
		if err := d.DB.RegisterConsumer(ctx, c.name); err != nil {
			return err
		}
	}
	var wg sync.WaitGroup
	for _, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d.feed(ctx, c)
		}()
	}
	wg.Wait()
	return nil
}

func (d *Dispatcher) feed(ctx context.Context, c *consumer) {
	wake := d.DB.EventNotify()
	failures := 0
	for {
		n, err := d.DB.ConsumeEvents(ctx, c.name, d.Batch, c.h, c.skip)
		wait := d.Poll
		switch {
		case ctx.Err() != nil:
			return
		case errors.Is(err, sqlstore.ErrConsumerBusy):
			// Another process has it; look again later.
		case err != nil:
			failures++
			wait = d.Backoff << min(failures-1, 16)
			wait = min(wait, d.MaxBackoff)
			d.Log.Error("event consumer failed; its events wait and are retried", "consumer", c.name, "err", err, "retry_in", wait)
		case n >= d.Batch:
			failures = 0
			continue // more are probably waiting
		default:
			failures = 0 // a short batch: wait for the next wake, and linger
		}
		woken := wake
		if failures > 0 {
			woken = nil // a failing consumer keeps its backoff
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-woken:
			t.Stop()
			t = time.NewTimer(d.Linger)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		case <-t.C:
		}
		t.Stop()
	}
}

// Drain hands every event committed so far to every consumer, in this
// goroutine, and returns the first error. For tests and one-shot commands;
// a consumer busy in another process is waited for.
func (d *Dispatcher) Drain(ctx context.Context) error {
	d.defaults()
	for _, c := range d.list() {
		if err := d.DB.RegisterConsumer(ctx, c.name); err != nil {
			return err
		}
		for {
			n, err := d.DB.ConsumeEvents(ctx, c.name, d.Batch, c.h, c.skip)
			if errors.Is(err, sqlstore.ErrConsumerBusy) {
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(10 * time.Millisecond):
				}
				continue
			}
			if err != nil {
				return err
			}
			if n == 0 {
				break
			}
		}
	}
	return nil
}
