package queue_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/queue"
	"github.com/heraldhq/herald/internal/sqlstore"
	"github.com/heraldhq/herald/internal/sqlstore/storetest"
)

// newWorker is a worker tuned for tests: it polls often and retries soon.
func newWorker(db *sqlstore.DB) *queue.Worker {
	return &queue.Worker{
		DB:          db,
		Log:         slog.New(slog.NewTextHandler(io.Discard, nil)),
		Concurrency: 4,
		Poll:        10 * time.Millisecond,
		BaseBackoff: 2 * time.Millisecond,
		MaxBackoff:  5 * time.Millisecond,
	}
}

// run starts w until the returned stop is called (or the test ends);
// stop fails the test if Run does not return in time.
func run(t *testing.T, w *queue.Worker) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Errorf("Run did not return after its context was cancelled")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func enqueue(t *testing.T, db *sqlstore.DB, kind string) {
	t.Helper()
	if err := db.Enqueue(context.Background(), kind, map[string]string{"k": kind}, time.Time{}); err != nil {
		t.Fatal(err)
	}
}

func jobs(t *testing.T, db *sqlstore.DB, status string) []herald.Job {
	t.Helper()
	js, _, err := db.Jobs(context.Background(), sqlstore.JobFilter{Status: status, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return js
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// settle waits long enough for a worker to have run anything it would run.
func settle() { time.Sleep(100 * time.Millisecond) }

func TestRetryThenSucceed(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		w := newWorker(db)
		var calls atomic.Int32
		var attempts []int
		var mu sync.Mutex
		w.Handle("flaky", func(ctx context.Context, j herald.Job) error {
			mu.Lock()
			attempts = append(attempts, j.Attempts)
			mu.Unlock()
			if calls.Add(1) <= 2 {
				return errors.New("temporary: try again")
			}
			return nil
		})
		enqueue(t, db, "flaky")
		run(t, w)
		eventually(t, "the job to be completed", func() bool { return calls.Load() >= 3 && len(jobs(t, db, "")) == 0 })
		settle()
		if n := calls.Load(); n != 3 {
			t.Fatalf("handler ran %d times, want 3", n)
		}
		mu.Lock()
		defer mu.Unlock()
		if len(attempts) != 3 || attempts[0] != 1 || attempts[1] != 2 || attempts[2] != 3 {
			t.Fatalf("attempts seen by the handler: %v, want [1 2 3]", attempts)
		}
	})
}

// TestRetryIsScheduled: a temporary failure puts the job back as pending,
// with its error and a run time one backoff away, and does not run it again
// before then.
func TestRetryIsScheduled(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		w := newWorker(db)
		w.BaseBackoff, w.MaxBackoff = time.Hour, 2*time.Hour
		var calls atomic.Int32
		w.Handle("later", func(ctx context.Context, j herald.Job) error {
			calls.Add(1)
			return errors.New("smtp: 451 try later")
		})
		enqueue(t, db, "later")
		before := time.Now()
		run(t, w)
		eventually(t, "the retry to be recorded", func() bool {
			js := jobs(t, db, herald.JobPending)
			return len(js) == 1 && js[0].Attempts == 1 && js[0].LastError != ""
		})
		settle()
		j := jobs(t, db, "")[0]
		if j.Status != herald.JobPending || j.LastError != "smtp: 451 try later" {
			t.Fatalf("job after a temporary failure: %+v", j)
		}
		if lo, hi := before.Add(48*time.Minute), time.Now().Add(72*time.Minute); j.RunAt.Before(lo) || j.RunAt.After(hi) {
			t.Fatalf("retry at %v, want within [%v, %v] (1h ± 20%%)", j.RunAt, lo, hi)
		}
		if n := calls.Load(); n != 1 {
			t.Fatalf("handler ran %d times before the retry was due", n)
		}
	})
}

func TestPermanentFailure(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		w := newWorker(db)
		var calls atomic.Int32
		w.Handle("doomed", func(ctx context.Context, j herald.Job) error {
			calls.Add(1)
			return queue.Permanent(errors.New("smtp: 550 no such user"))
		})
		enqueue(t, db, "doomed")
		run(t, w)
		eventually(t, "the job to fail", func() bool { return len(jobs(t, db, herald.JobFailed)) == 1 })
		settle()
		j := jobs(t, db, herald.JobFailed)[0]
		if j.Attempts != 1 || j.Kind != "doomed" || !strings.Contains(j.LastError, "550 no such user") {
			t.Fatalf("failed job: %+v", j)
		}
		if n := calls.Load(); n != 1 {
			t.Fatalf("a permanent failure ran %d times", n)
		}
		// Wrapped permanent errors are permanent too.
		if err := fmt.Errorf("sending: %w", queue.Permanent(io.EOF)); !errors.Is(err, io.EOF) {
			t.Fatalf("Permanent hides the error it wraps")
		}
	})
}

func TestMaxAttempts(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		w := newWorker(db)
		var calls atomic.Int32
		w.Handle("hopeless", func(ctx context.Context, j herald.Job) error {
			calls.Add(1)
			return errors.New("still down")
		})
		enqueue(t, db, "hopeless")
		run(t, w)
		eventually(t, "the job to run out of attempts", func() bool { return len(jobs(t, db, herald.JobFailed)) == 1 })
		settle()
		j := jobs(t, db, herald.JobFailed)[0]
		if j.Attempts != j.MaxAttempts || j.MaxAttempts < 1 || j.LastError != "still down" {
			t.Fatalf("failed job: %+v", j)
		}
		if n := int(calls.Load()); n != j.MaxAttempts {
			t.Fatalf("handler ran %d times, want max attempts %d", n, j.MaxAttempts)
		}
	})
}

func TestPanicFailsJobAndWorkerSurvives(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		w := newWorker(db)
		var panics, oks atomic.Int32
		w.Handle("boom", func(ctx context.Context, j herald.Job) error {
			panics.Add(1)
			var m map[string]int
			m["nil map"]++ // a real runtime panic
			return nil
		})
		w.Handle("fine", func(ctx context.Context, j herald.Job) error {
			oks.Add(1)
			return nil
		})
		enqueue(t, db, "boom")
		run(t, w)
		eventually(t, "the panicking job to fail", func() bool { return len(jobs(t, db, herald.JobFailed)) == 1 })
		j := jobs(t, db, herald.JobFailed)[0]
		if j.Kind != "boom" || j.Attempts != 1 || !strings.Contains(j.LastError, "panic") {
			t.Fatalf("failed job: %+v", j)
		}
		// The worker is still running jobs.
		for range 3 {
			enqueue(t, db, "fine")
		}
		eventually(t, "later jobs to run", func() bool { return oks.Load() == 3 && len(jobs(t, db, herald.JobPending)) == 0 })
		if n := panics.Load(); n != 1 {
			t.Fatalf("panicking handler ran %d times, want 1", n)
		}
	})
}

func TestUnknownKindFails(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		w := newWorker(db)
		enqueue(t, db, "no-such-kind")
		run(t, w)
		eventually(t, "the job to fail", func() bool { return len(jobs(t, db, herald.JobFailed)) == 1 })
		if j := jobs(t, db, herald.JobFailed)[0]; !strings.Contains(j.LastError, "no-such-kind") {
			t.Fatalf("failed job: %+v", j)
		}
	})
}

// TestGracefulStop: cancelling Run's context while a handler runs neither
// cancels the handler nor returns before it finished and its outcome is
// recorded.
func TestGracefulStop(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		for _, outcome := range []string{"success", "failure"} {
			t.Run(outcome, func(t *testing.T) {
				w := newWorker(db)
				w.BaseBackoff, w.MaxBackoff = time.Hour, time.Hour
				started, release := make(chan struct{}), make(chan struct{})
				var handlerErr atomic.Value
				kind := "slow-" + outcome
				w.Handle(kind, func(ctx context.Context, j herald.Job) error {
					close(started)
					<-release
					handlerErr.Store(fmtErr(ctx.Err()))
					if outcome == "failure" {
						return errors.New("interrupted")
					}
					return nil
				})
				enqueue(t, db, kind)
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				returned := make(chan error, 1)
				go func() { returned <- w.Run(ctx) }()
				select {
				case <-started:
				case <-time.After(10 * time.Second):
					t.Fatal("handler never started")
				}
				cancel()
				select {
				case <-returned:
					t.Fatal("Run returned while a handler was still running")
				case <-time.After(150 * time.Millisecond):
				}
				close(release)
				select {
				case err := <-returned:
					if err != nil {
						t.Fatalf("Run: %v", err)
					}
				case <-time.After(10 * time.Second):
					t.Fatal("Run did not return after the handler finished")
				}
				if e := handlerErr.Load(); e != "" {
					t.Fatalf("the handler's context was cancelled by the stop: %v", e)
				}
				// The outcome is in the database by the time Run returns.
				js := jobs(t, db, "")
				switch {
				case outcome == "success" && len(js) != 0:
					t.Fatalf("completed job still stored: %+v", js)
				case outcome == "failure" && (len(js) != 1 || js[0].Status != herald.JobPending || js[0].LastError != "interrupted"):
					t.Fatalf("failed job not rescheduled: %+v", js)
				}
				_ = db.CompleteJobs(context.Background(), ids(js)...)
			})
		}
	})
}

func fmtErr(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func ids(js []herald.Job) []int64 {
	out := make([]int64, len(js))
	for i, j := range js {
		out[i] = j.ID
	}
	return out
}

// TestLeaseExpiry: a job claimed by a worker that died (it never finishes
// it) runs again on a live worker once the lease runs out.
func TestLeaseExpiry(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		enqueue(t, db, "orphan")
		claimed, err := db.ClaimJobs(context.Background(), 10, time.Millisecond)
		if err != nil || len(claimed) != 1 || claimed[0].Attempts != 1 {
			t.Fatalf("claim by the dead worker: %+v, %v", claimed, err)
		}
		// While the lease holds nobody else may claim it.
		if again, err := db.ClaimJobs(context.Background(), 10, time.Minute); err != nil || len(again) != 0 {
			t.Fatalf("a leased job was claimed twice: %+v, %v", again, err)
		}
		time.Sleep(20 * time.Millisecond) // the lease runs out

		w := newWorker(db)
		w.Lease = 500 * time.Millisecond
		var got atomic.Int32
		var attempt atomic.Int32
		w.Handle("orphan", func(ctx context.Context, j herald.Job) error {
			got.Add(1)
			attempt.Store(int32(j.Attempts))
			return nil
		})
		run(t, w)
		eventually(t, "the orphaned job to run and complete", func() bool { return got.Load() == 1 && len(jobs(t, db, "")) == 0 })
		settle()
		if got.Load() != 1 || attempt.Load() != 2 {
			t.Fatalf("orphan ran %d times, at attempt %d; want once, at attempt 2", got.Load(), attempt.Load())
		}
	})
}

// TestEachJobRunsOnce: two workers on one database share the jobs without
// running any twice, and never exceed their concurrency.
func TestEachJobRunsOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		const n = 60
		var mu sync.Mutex
		seen := map[int64]int{}
		var running, peak atomic.Int32
		h := func(ctx context.Context, j herald.Job) error {
			r := running.Add(1)
			defer running.Add(-1)
			for {
				p := peak.Load()
				if r <= p || peak.CompareAndSwap(p, r) {
					break
				}
			}
			time.Sleep(2 * time.Millisecond)
			mu.Lock()
			seen[j.ID]++
			mu.Unlock()
			return nil
		}
		for range n {
			enqueue(t, db, "work")
		}
		for range 2 {
			w := newWorker(db)
			w.Concurrency = 3
			w.Handle("work", h)
			run(t, w)
		}
		eventually(t, "all jobs to complete", func() bool { return len(jobs(t, db, "")) == 0 })
		mu.Lock()
		defer mu.Unlock()
		if len(seen) != n {
			t.Fatalf("%d distinct jobs ran, want %d", len(seen), n)
		}
		for id, c := range seen {
			if c != 1 {
				t.Fatalf("job %d ran %d times", id, c)
			}
		}
		if p := peak.Load(); p > 6 {
			t.Fatalf("%d handlers ran at once; two workers of 3 allow 6", p)
		}
	})
}

func TestBackoff(t *testing.T) {
	w := &queue.Worker{BaseBackoff: 10 * time.Second, MaxBackoff: time.Hour}
	for attempt, base := range map[int]time.Duration{1: 10 * time.Second, 2: 20 * time.Second, 3: 40 * time.Second, 8: 1280 * time.Second, 9: 2560 * time.Second, 10: time.Hour, 50: time.Hour} {
		for range 50 {
			d := w.Backoff(attempt)
			if lo, hi := time.Duration(float64(base)*0.8), time.Duration(float64(base)*1.2); d < lo || d > hi {
				t.Fatalf("Backoff(%d) = %v, want %v ± 20%%", attempt, d, base)
			}
		}
	}
}
