package queue_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/queue"
	"github.com/heraldhq/herald/internal/sqlstore"
	"github.com/heraldhq/herald/internal/sqlstore/storetest"
)

// runDelayWorker runs a worker whose own backoff is far too long to be
// seen in the test, so only a handler's delays can bring a job back soon.
func runDelayWorker(t *testing.T, db *sqlstore.DB, kind string, h queue.Handler) {
	t.Helper()
	w := &queue.Worker{DB: db, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Concurrency: 2,
		Poll: 10 * time.Millisecond, BaseBackoff: time.Hour, MaxBackoff: time.Hour}
	w.Handle(kind, h)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = w.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestRetryAfterOverridesBackoff: a handler that names its delay (e.g.
// from HTTP Retry-After) is retried after that delay, not the worker's
// backoff, and the run counts as an attempt.
func TestRetryAfterOverridesBackoff(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		var mu sync.Mutex
		var runs []time.Time
		var attempts []int
		runDelayWorker(t, db, "later", func(ctx context.Context, j herald.Job) error {
			mu.Lock()
			defer mu.Unlock()
			runs = append(runs, time.Now())
			attempts = append(attempts, j.Attempts)
			if len(runs) < 3 {
				return queue.RetryAfter(errors.New("429 Too Many Requests"), 150*time.Millisecond)
			}
			return nil
		})
		if err := db.Enqueue(context.Background(), "later", nil, time.Time{}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "three runs", func() bool { mu.Lock(); defer mu.Unlock(); return len(runs) == 3 })
		mu.Lock()
		defer mu.Unlock()
		for i := 1; i < 3; i++ {
			if gap := runs[i].Sub(runs[i-1]); gap < 140*time.Millisecond || gap > 5*time.Second {
				t.Errorf("retry %d came after %v, want about 150ms", i, gap)
			}
		}
		if attempts[0] != 1 || attempts[1] != 2 || attempts[2] != 3 {
			t.Errorf("attempts %v, want 1, 2, 3", attempts)
		}
	})
}

// TestSnoozeDoesNotCountAttempts: a job that waits its turn many times is
// never failed for running out of attempts.
func TestSnoozeDoesNotCountAttempts(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		var mu sync.Mutex
		runs := 0
		var last int
		runDelayWorker(t, db, "waits", func(ctx context.Context, j herald.Job) error {
			mu.Lock()
			defer mu.Unlock()
			runs++
			last = j.Attempts
			if runs <= 15 { // more than max_attempts (10)
				return queue.Snooze(time.Millisecond, "waiting for an older job")
			}
			return nil
		})
		if err := db.Enqueue(context.Background(), "waits", nil, time.Time{}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the job to finish", func() bool {
			jobs, _, _ := db.Jobs(context.Background(), sqlstore.JobFilter{})
			mu.Lock()
			defer mu.Unlock()
			return runs > 15 && len(jobs) == 0
		})
		mu.Lock()
		defer mu.Unlock()
		if last != 1 {
			t.Errorf("the final run saw attempt %d, want 1: snoozes were counted", last)
		}
	})
}
