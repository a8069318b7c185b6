package queue_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/queue"
	"github.com/heraldhq/herald/internal/sqlstore"
	"github.com/heraldhq/herald/internal/sqlstore/storetest"
)

// TestUnavailablePausesTheKind: a handler that finds its service down
// costs one run, not one per job: the job waits without spending an
// attempt, the worker stops claiming that kind for the pause, and other
// kinds keep running.
func TestUnavailablePausesTheKind(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		w := newWorker(db)
		w.Concurrency = 1
		var down atomic.Bool
		down.Store(true)
		var mailRuns, otherRuns atomic.Int32
		w.Handle("mail", func(ctx context.Context, j herald.Job) error {
			mailRuns.Add(1)
			if down.Load() {
				return queue.Unavailable(errors.New("dial: connection refused"), time.Second)
			}
			return nil
		})
		w.Handle("other", func(ctx context.Context, j herald.Job) error {
			otherRuns.Add(1)
			return nil
		})
		for range 20 {
			enqueue(t, db, "mail")
		}
		run(t, w)
		deadline := time.Now().Add(500 * time.Millisecond)
		for mailRuns.Load() == 0 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		for range 5 {
			enqueue(t, db, "other")
		}
		for otherRuns.Load() < 5 && time.Now().Before(deadline.Add(5*time.Second)) {
			time.Sleep(5 * time.Millisecond)
		}
		if otherRuns.Load() != 5 {
			t.Fatalf("other kinds ran %d times while mail was paused, want 5", otherRuns.Load())
		}
		if n := mailRuns.Load(); n != 1 {
			t.Fatalf("%d mail jobs ran while their service was down and paused, want 1 probe", n)
		}
		jobs, _, err := db.Jobs(context.Background(), sqlstore.JobFilter{Status: herald.JobPending})
		if err != nil {
			t.Fatal(err)
		}
		for _, j := range jobs {
			if j.Attempts != 0 {
				t.Fatalf("job %d spent %d attempts waiting for the service", j.ID, j.Attempts)
			}
		}
		// The service returns: after the pause every job is delivered.
		down.Store(false)
		deadline = time.Now().Add(10 * time.Second)
		for mailRuns.Load() < 21 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if n := mailRuns.Load(); n != 21 {
			t.Fatalf("after the service came back, %d mail runs, want 21", n)
		}
	})
}
