package sqlstore

// Domain events: a transactional outbox. A write path appends an event to
// its transaction (Tx.AppendEvent); the events are inserted just before the
// transaction commits, so they exist if and only if the change does.
//
// Consumers (internal/events) read them by id, each from its own cursor.
// That is only safe if ids appear in commit order: a cursor that has passed
// id 12 must never see an id 11 commit later. SQLite has one writer, so
// ids follow commits. PostgreSQL hands out identity values at insert and
// commits concurrently, so a transaction that took id 11 may commit after
// one that took id 12. Writers therefore insert their events under a
// transaction-level advisory lock, taken just before the commit and held
// through it: events are numbered and committed one transaction at a time,
// and PostgreSQL makes a commit visible before it releases the lock. Only
// the tail of a transaction (one INSERT and the commit) is serialised, and
// grouped signups (batch.go) share one tail per group.
//
// A consumer's batch is handled inside the transaction that advances its
// cursor: what a consumer writes (jobs, its own rows) is committed exactly
// once with the cursor. On PostgreSQL the cursor row is locked FOR UPDATE
// SKIP LOCKED for that transaction, so two processes never hand one event
// to one consumer; the lock goes with the connection if a process dies.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/heraldhq/herald"
)

// eventsLockKey is the advisory lock (with the schema's hash as second
// key) that orders event commits on PostgreSQL.
const eventsLockKey = 7346212

// ErrConsumerBusy says another process is handling the consumer's events.
var ErrConsumerBusy = errors.New("event consumer busy in another process")

type pendingEvent struct {
	kind          string
	subID, listID int64
	data          herald.EventData
}

// AppendEvent records an event in the transaction; it is written when the
// transaction commits, and only then.
func (tx *Tx) AppendEvent(kind string, subID, listID int64, d herald.EventData) {
	tx.events = append(tx.events, pendingEvent{kind, subID, listID, d})
}

// appendListEvents appends one event of kind per list.
func appendListEvents(tx *Tx, kind string, subID int64, listIDs []int64, d herald.EventData) {
	for _, id := range listIDs {
		tx.AppendEvent(kind, subID, id, d)
	}
}

// eventChunk keeps a multi-row insert well under SQLite's bound variables.
const eventChunk = 500

// flushEvents inserts the transaction's events; run calls it just before
// committing.
func (tx *Tx) flushEvents(ctx context.Context) error {
	if len(tx.events) == 0 {
		return nil
	}
	if tx.db.dialect.name() == "postgres" {
		// Keyed by schema too: schemas are separate stores (tests run many).
		if _, err := tx.exec(ctx, `SELECT pg_advisory_xact_lock(?, hashtext(current_schema()))`, int32(eventsLockKey)); err != nil {
			return fmt.Errorf("events lock: %w", err)
		}
	}
	evs := tx.events
	tx.events = nil
	for len(evs) > 0 {
		n := min(len(evs), eventChunk)
		var q strings.Builder
		q.WriteString(`INSERT INTO events (kind, subscriber_id, list_id, at, data) VALUES `)
		args := make([]any, 0, 5*n)
		for i, e := range evs[:n] {
			if i > 0 {
				q.WriteString(", ")
			}
			q.WriteString("(?, ?, ?, ?, ?)")
			data, err := json.Marshal(e.data)
			if err != nil {
				return err
			}
			args = append(args, e.kind, e.subID, e.listID, tx.now, string(data))
		}
		if _, err := tx.exec(ctx, q.String(), args...); err != nil {
			return fmt.Errorf("appending events: %w", err)
		}
		evs = evs[n:]
	}
	tx.afterCommit(tx.db.wakeConsumers)
	return nil
}

// EventNotify returns a channel that receives a value (without blocking
// the sender) whenever this process commits events.
func (db *DB) EventNotify() <-chan struct{} { return db.eventsWake.subscribe() }

func (db *DB) wakeConsumers() { db.eventsWake.wake() }

// EventHandler handles a batch of events, in id order, inside the
// transaction that advances the consumer's cursor past them. An error
// rolls both back: the batch comes again.
type EventHandler func(ctx context.Context, tx *Tx, events []herald.Event) error

// EventSkipper, when a consumer has one, says inside the batch's
// transaction that no event could matter to the consumer now (an
// integration with no list connected): its cursor then moves past every
// event without reading them.
type EventSkipper func(ctx context.Context, tx *Tx) (bool, error)

// RegisterConsumer creates a consumer's cursor if it has none. A new
// consumer starts at the first event.
func (db *DB) RegisterConsumer(ctx context.Context, name string) error {
	if name == "" {
		return errors.New("event consumer needs a name")
	}
	return db.write(ctx, func(tx *Tx) error {
		_, err := tx.exec(ctx, `INSERT INTO event_cursors (consumer, after_id, handled, updated_at) VALUES (?, 0, 0, ?)
			ON CONFLICT (consumer) DO NOTHING`, name, tx.now)
		return err
	})
}

// ConsumeEvents hands the consumer's next events (at most n) to fn and
// advances its cursor in the same transaction. It reports how many it
// handled: 0 when there is nothing new. ErrConsumerBusy when another
// process holds the consumer (PostgreSQL). skip may be nil.
func (db *DB) ConsumeEvents(ctx context.Context, name string, n int, fn EventHandler, skip EventSkipper) (int, error) {
	if n <= 0 {
		n = 256
	}
	// Look before taking the writer: an idle consumer costs a read.
	var pending bool
	if err := db.read(ctx, func(tx *Tx) error {
		return tx.queryRow(ctx, `SELECT EXISTS (SELECT 1 FROM events WHERE id > (SELECT after_id FROM event_cursors WHERE consumer = ?))`, name).Scan(&pending)
	}); err != nil {
		return 0, err
	}
	if !pending {
		return 0, nil
	}
	handled := 0
	err := db.write(ctx, func(tx *Tx) error {
		var after int64
		err := tx.queryRow(ctx, `SELECT after_id FROM event_cursors WHERE consumer = ?`+tx.db.dialect.claimSuffix(), name).Scan(&after)
		if isNoRows(err) {
			var exists bool
			if err := tx.queryRow(ctx, `SELECT EXISTS (SELECT 1 FROM event_cursors WHERE consumer = ?)`, name).Scan(&exists); err != nil {
				return err
			}
			if exists {
				return ErrConsumerBusy
			}
			return fmt.Errorf("event consumer %q is not registered", name)
		} else if err != nil {
			return err
		}
		if skip != nil {
			if idle, err := skip(ctx, tx); err != nil {
				return err
			} else if idle {
				_, err := tx.exec(ctx, `UPDATE event_cursors SET after_id = (SELECT COALESCE(MAX(id), ?) FROM events), updated_at = ?
					WHERE consumer = ?`, after, tx.now, name)
				return err
			}
		}
		evs, err := eventsAfter(ctx, tx, after, n)
		if err != nil || len(evs) == 0 {
			return err
		}
		if err := fn(ctx, tx, evs); err != nil {
			return err
		}
		handled = len(evs)
		_, err = tx.exec(ctx, `UPDATE event_cursors SET after_id = ?, handled = handled + ?, updated_at = ? WHERE consumer = ?`,
			evs[len(evs)-1].ID, len(evs), tx.now, name)
		return err
	})
	return handled, err
}

func eventsAfter(ctx context.Context, tx *Tx, after int64, n int) ([]herald.Event, error) {
	rows, err := tx.query(ctx, `SELECT id, kind, subscriber_id, list_id, at, data FROM events WHERE id > ? ORDER BY id LIMIT ?`, after, n)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []herald.Event
	for rows.Next() {
		var e herald.Event
		var data string
		if err := rows.Scan(&e.ID, &e.Kind, &e.SubscriberID, &e.ListID, &e.At, &data); err != nil {
			return nil, err
		}
		e.At = e.At.UTC()
		e.Data = json.RawMessage(data)
		out = append(out, e)
	}
	return out, rows.Err()
}

// EventCursor is a consumer's position.
type EventCursor struct {
	Consumer string
	AfterID  int64 // the last event handled
	Handled  int64 // events handed to the consumer so far (not those it skipped)
	Behind   int64 // events committed after AfterID
}

// EventCursors returns every consumer's position.
func (db *DB) EventCursors(ctx context.Context) ([]EventCursor, error) {
	var out []EventCursor
	err := db.read(ctx, func(tx *Tx) error {
		rows, err := tx.query(ctx, `SELECT c.consumer, c.after_id, c.handled,
			(SELECT COUNT(*) FROM events e WHERE e.id > c.after_id) FROM event_cursors c ORDER BY c.consumer`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var c EventCursor
			if err := rows.Scan(&c.Consumer, &c.AfterID, &c.Handled, &c.Behind); err != nil {
				return err
			}
			out = append(out, c)
		}
		return rows.Err()
	})
	return out, err
}

// Events returns up to n events after id, for inspection (the API, tests).
func (db *DB) Events(ctx context.Context, after int64, n int) ([]herald.Event, error) {
	var out []herald.Event
	err := db.read(ctx, func(tx *Tx) (err error) {
		out, err = eventsAfter(ctx, tx, after, n)
		return err
	})
	return out, err
}

// scrubEvents empties the data of an erased reader's earlier events that
// name an address of theirs.
func scrubEvents(ctx context.Context, tx *Tx, subID int64) error {
	// The kind is a literal, so that the partial index events_profile serves.
	_, err := tx.exec(ctx, `UPDATE events SET data = '{}' WHERE subscriber_id = ? AND kind = 'profile_changed'`, subID)
	return err
}

// appendEvents appends an import batch's events: one "imported" event per
// list, naming the readers whose subscription to it the batch wrote (and
// which of them it confirmed), rather than an event row per reader.
func (b *importBatch) appendEvents() {
	byList := map[int64]*herald.EventData{}
	var order []int64
	for _, w := range b.subWrites {
		d := byList[w.list]
		if d == nil {
			d = &herald.EventData{Actor: herald.ActorOperator}
			byList[w.list] = d
			order = append(order, w.list)
		}
		id := b.rowIDs[w.row]
		d.Subscribers = append(d.Subscribers, id)
		if w.status == herald.StatusConfirmed {
			d.Confirmed = append(d.Confirmed, id)
		}
	}
	for _, l := range order {
		b.tx.AppendEvent(herald.EventImported, 0, l, *byList[l])
	}
}
