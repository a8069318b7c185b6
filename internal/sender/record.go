package sender

import (
	"context"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/sqlstore"
)

// Outcomes are written in small batches, one transaction each: at most
// flushCount of them, and none waits longer than flushEvery (none at all
// when flushGather or more are waiting: the ledger is behind). A crash
// repeats only what is in flight and these few milliseconds of outcomes;
// shorter waits cost more commits (on SQLite a commit costs about as much
// as writing 50 outcomes).
const (
	flushCount  = 2000
	flushEvery  = 10 * time.Millisecond
	flushGather = 100
)

func (e *Engine) record() {
	pending := make([]result, 0, flushCount)
	for {
		// Idle until a result comes; then let results gather for
		// flushEvery (the channel holds them) and take what is there: one
		// wake-up per batch rather than one per message.
		r, ok := <-e.outs
		if !ok {
			return
		}
		pending = append(pending[:0], r)
		if len(e.outs) < flushGather {
			// Little is waiting: let this batch gather. With more
			// waiting (sending outpaces the ledger), write at once:
			// every outcome not yet written is a message that a crash
			// would send again.
			time.Sleep(flushEvery)
		}
	drain:
		for len(pending) < flushCount {
			select {
			case r, ok = <-e.outs:
				if !ok {
					break drain
				}
				pending = append(pending, r)
			default:
				break drain
			}
		}
		e.flush(pending)
		if !ok {
			return
		}
	}
}

// flush writes one batch of results, retrying until the database takes
// it: outcomes must not be lost while their messages are out. Workers
// wait meanwhile (the results channel fills), so nothing more goes out
// unrecorded.
func (e *Engine) flush(rs []result) {
	outs := make([]sqlstore.Outcome, 0, len(rs))
	count := map[*batchState]int{}
	released := map[*batchState]bool{}
	for i := range rs {
		r := &rs[i]
		count[r.batch]++
		switch {
		case r.released:
			released[r.batch] = true
			if r.batch.b == nil && !r.marker {
				// A claimed retry goes back to the queue at once.
				outs = append(outs, sqlstore.Outcome{CampaignID: r.out.CampaignID, SubscriberID: r.out.SubscriberID, Status: sqlstore.OutcomeRelease})
			}
		case !r.marker:
			outs = append(outs, r.out)
		}
	}
	var ends []sqlstore.BatchEnd
	for st, n := range count {
		if st.b != nil && st.remaining == n {
			ends = append(ends, sqlstore.BatchEnd{ID: st.b.ID, LeaseToken: st.b.LeaseToken,
				Release: st.released || released[st] || st.lost.Load()})
		}
	}
	ctx := context.Background()
	for delay := 50 * time.Millisecond; ; delay = min(2*delay, 5*time.Second) {
		_, err := e.DB.RecordOutcomes(ctx, outs, ends)
		if err == nil {
			break
		}
		e.Log.Error("sender: writing outcomes to the ledger (retrying)", "n", len(outs), "err", err)
		time.Sleep(delay)
	}
	for st, n := range count {
		st.remaining -= n
		if released[st] {
			st.released = true
		}
		st.camp.inflight.Add(-int64(n))
		if st.remaining == 0 {
			e.mu.Lock()
			delete(e.live, st)
			e.mu.Unlock()
		}
	}
	for i := range rs {
		r := &rs[i]
		if r.marker || r.released {
			continue
		}
		switch r.out.Status {
		case herald.DeliverySent:
			e.Stats.Sent.Add(1)
			t := r.sentAt.UnixNano()
			e.Stats.first.CompareAndSwap(0, t)
			for {
				l := e.Stats.last.Load()
				if t <= l || e.Stats.last.CompareAndSwap(l, t) {
					break
				}
			}
		case herald.DeliveryFailed:
			e.Stats.Failed.Add(1)
		case herald.DeliverySkipped:
			e.Stats.Skipped.Add(1)
		case herald.DeliveryRetry:
			e.Stats.Retried.Add(1)
		}
	}
	select {
	case e.wake <- struct{}{}:
	default:
	}
}
