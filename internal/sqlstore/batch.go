package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
)

// Group commit. Hot, small writes (signups) arrive concurrently; on SQLite
// every commit goes through the one writer connection, so committing them
// one by one caps throughput at the commit rate. writeGrouped queues the
// work; one committer runs everything queued so far in a single
// transaction and commits once. Each piece keeps its own atomicity — its
// changes and the jobs it enqueues are committed together or not at all:
// if any piece fails, the shared transaction is rolled back and every piece
// runs again in a transaction of its own. A piece may therefore run twice,
// so it must only touch the database (side effects go through jobs).

const maxGroup = 128

type groupReq struct {
	fn   func(*Tx) error
	done chan error
}

type grouper struct {
	stats struct{ groups, pieces atomic.Int64 }
	once  sync.Once
	ch    chan *groupReq
	quit  chan struct{}
	wg    sync.WaitGroup
}

var errClosed = errors.New("database is closed")

// committers is how many grouped transactions run at once: SQLite has one
// writer, so one; on PostgreSQL each statement is a network round trip, so
// a few groups overlap their waiting. Only a few: a transaction that
// appends events commits under the events lock (events.go), one at a
// time, so fewer, larger groups pay that wait less often (the signup
// benchmark: about 5 signups per commit and the speed of before the
// events with 3 committers, 2 per commit and half the speed with 8).
func (db *DB) committers() int {
	if db.dialect.name() == "postgres" {
		return 3
	}
	return 1
}

func (db *DB) startGrouper() {
	db.group.ch = make(chan *groupReq, 4*maxGroup)
	db.group.quit = make(chan struct{})
	for range db.committers() {
		db.group.wg.Add(1)
		go db.committer()
	}
}

func (db *DB) stopGrouper() {
	if db.group.quit == nil {
		return
	}
	db.group.once.Do(func() { close(db.group.quit) })
	db.group.wg.Wait()
}

// writeGrouped runs fn in a shared write transaction (see above). The
// caller's ctx bounds only the wait to enter the queue: once queued, the
// work is committed or refused as a whole, and the caller learns which.
func (db *DB) writeGrouped(ctx context.Context, fn func(*Tx) error) error {
	req := &groupReq{fn: fn, done: make(chan error, 1)}
	select {
	case db.group.ch <- req:
	case <-ctx.Done():
		return ctx.Err()
	case <-db.group.quit:
		return errClosed
	}
	return <-req.done
}

func (db *DB) committer() {
	defer db.group.wg.Done()
	batch := make([]*groupReq, 0, maxGroup)
	for {
		select {
		case <-db.group.quit:
			// Finish what is queued, then refuse.
			for {
				select {
				case r := <-db.group.ch:
					batch = append(batch[:0], r)
					db.commitGroup(batch)
				default:
					return
				}
			}
		case r := <-db.group.ch:
			batch = append(batch[:0], r)
			// Let writers that are about to queue do so: a moment's yield
			// turns many one-piece transactions into a few larger ones.
			runtime.Gosched()
		drain:
			for len(batch) < maxGroup {
				select {
				case r := <-db.group.ch:
					batch = append(batch, r)
				default:
					break drain
				}
			}
			db.group.stats.groups.Add(1)
			db.group.stats.pieces.Add(int64(len(batch)))
			db.commitGroup(batch)
		}
	}
}

// GroupStats reports how many grouped transactions were committed and how
// many pieces they held (pieces/groups is the mean batch size).
func (db *DB) GroupStats() (groups, pieces int64) {
	return db.group.stats.groups.Load(), db.group.stats.pieces.Load()
}

func (db *DB) commitGroup(batch []*groupReq) {
	ctx := context.Background()
	if len(batch) > 1 {
		// Optimistic: everything in one transaction. Callers validate before
		// queueing, so a failure here is rare; then each piece runs again
		// in a transaction of its own, so one failure cannot sink the rest.
		failed := false
		err := db.write(ctx, func(tx *Tx) error {
			for _, r := range batch {
				if err := safeCall(r.fn, tx); err != nil {
					failed = true
					return err
				}
			}
			return nil
		})
		if err == nil {
			for _, r := range batch {
				r.done <- nil
			}
			return
		}
		if !failed {
			// The commit itself failed: nothing was written.
			for _, r := range batch {
				r.done <- err
			}
			return
		}
	}
	for _, r := range batch {
		r.done <- db.write(ctx, func(tx *Tx) error { return safeCall(r.fn, tx) })
	}
}

func safeCall(fn func(*Tx) error, tx *Tx) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("panic in grouped write: %v", v)
		}
	}()
	return fn(tx)
}

// Prepared statements. SQLite spends a good part of a small write compiling
// its SQL; database/sql reuses a statement already prepared on the
// transaction's connection. A statement cannot be prepared while the one
// writer connection is inside a transaction, so the first use of a query
// runs unprepared and asks for it to be prepared once the transaction ends.

func (db *DB) stmtCache(write bool) *sync.Map {
	if write {
		return &db.stmts
	}
	return &db.rstmts
}

func (db *DB) preparedStmt(write bool, query string) *sql.Stmt {
	if v, ok := db.stmtCache(write).Load(query); ok {
		return v.(*sql.Stmt)
	}
	return nil
}

// prepareWanted prepares the queries that transactions asked for.
func (db *DB) prepareWanted(ctx context.Context, pool *sql.DB, write bool, queries []string) {
	m := db.stmtCache(write)
	for _, q := range queries {
		if _, ok := m.Load(q); ok {
			continue
		}
		st, err := pool.PrepareContext(ctx, db.q(q))
		if err != nil {
			continue // the plain path keeps working and reports errors
		}
		if _, loaded := m.LoadOrStore(q, st); loaded {
			st.Close()
		}
	}
}
