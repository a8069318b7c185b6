// Package queue runs Herald's durable background jobs. Jobs are written by
// the store in the same transaction as the change that causes them; this
// package claims them with a lease, runs their handlers, and retries
// failures with exponential backoff and jitter. A job whose process dies is
// claimed again when its lease runs out, so nothing is lost to a crash.
package queue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sort"
	"sync"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/sqlstore"
)

// Handler runs one job. Returning nil completes it; an error retries it
// later, unless the error is Permanent or the job is out of attempts.
type Handler func(ctx context.Context, job herald.Job) error

type permanent struct{ err error }

func (p permanent) Error() string { return p.err.Error() }
func (p permanent) Unwrap() error { return p.err }

// Permanent marks err as not worth retrying.
func Permanent(err error) error { return permanent{err} }

// delayed is an error that says when to run the job again.
type delayed struct {
	err   error
	after time.Duration
	free  bool // the run does not count as an attempt
}

func (d delayed) Error() string { return d.err.Error() }
func (d delayed) Unwrap() error { return d.err }

// RetryAfter retries the job after d instead of the worker's backoff: for
// a server that said when to come back (HTTP Retry-After), or a handler
// with a backoff of its own. The run counts as an attempt.
func RetryAfter(err error, d time.Duration) error { return delayed{err: err, after: max(d, 0)} }

// Snooze runs the job again after d without counting this run as an
// attempt: the handler did not try, it waited its turn (another job must
// go first, or a resource was busy).
func Snooze(d time.Duration, why string) error {
	return delayed{err: errors.New(why), after: max(d, 0), free: true}
}

// unavailable says the service a kind of job needs is down.
type unavailable struct {
	err   error
	pause time.Duration
}

func (u unavailable) Error() string { return u.err.Error() }
func (u unavailable) Unwrap() error { return u.err }

// Unavailable reports that the service this job needs (an SMTP relay, an
// API) cannot be reached: the job runs again later without the run
// counting as an attempt, and the worker claims no more jobs of its kind
// for pause, so an outage costs a few probes instead of a failed run per
// job.
func Unavailable(err error, pause time.Duration) error {
	return unavailable{err: err, pause: max(pause, time.Second)}
}

// Worker claims and runs jobs.
type Worker struct {
	DB          *sqlstore.DB
	Log         *slog.Logger
	Concurrency int           // jobs run at once (default 10)
	Lease       time.Duration // how long a claim lasts (default 5 min); handlers must finish well within it
	Poll        time.Duration // how often to look for due jobs when not woken (default 1s)
	BaseBackoff time.Duration // first retry delay (default 10s), doubled per attempt up to MaxBackoff
	MaxBackoff  time.Duration // default 1h

	handlers map[string]Handler

	pauseMu sync.Mutex
	paused  map[string]time.Time // kind → claim none before
}

// pausedKinds lists the kinds whose service is down now.
func (w *Worker) pausedKinds() []string {
	w.pauseMu.Lock()
	defer w.pauseMu.Unlock()
	var out []string
	now := time.Now()
	for k, until := range w.paused {
		if now.Before(until) {
			out = append(out, k)
		} else {
			delete(w.paused, k)
		}
	}
	return out
}

// activeKinds lists the kinds with a handler whose service is not paused,
// and whether any is paused.
func (w *Worker) activeKinds() (active []string, anyPaused bool) {
	paused := map[string]bool{}
	for _, k := range w.pausedKinds() {
		paused[k] = true
	}
	if len(paused) == 0 {
		return nil, false
	}
	for k := range w.handlers {
		if !paused[k] {
			active = append(active, k)
		}
	}
	sort.Strings(active)
	return active, true
}

func (w *Worker) pause(kind string, d time.Duration) {
	w.pauseMu.Lock()
	defer w.pauseMu.Unlock()
	if w.paused == nil {
		w.paused = map[string]time.Time{}
	}
	if until := time.Now().Add(d); until.After(w.paused[kind]) {
		w.paused[kind] = until
	}
}

// Handle registers the handler of a job kind.
func (w *Worker) Handle(kind string, h Handler) {
	if w.handlers == nil {
		w.handlers = map[string]Handler{}
	}
	w.handlers[kind] = h
}

func (w *Worker) defaults() {
	if w.Concurrency <= 0 {
		w.Concurrency = 10
	}
	if w.Lease <= 0 {
		w.Lease = 5 * time.Minute
	}
	if w.Poll <= 0 {
		w.Poll = time.Second
	}
	if w.BaseBackoff <= 0 {
		w.BaseBackoff = 10 * time.Second
	}
	if w.MaxBackoff <= 0 {
		w.MaxBackoff = time.Hour
	}
	if w.Log == nil {
		w.Log = slog.Default()
	}
}

// Backoff is the delay before retry number attempt (1-based), with ±20 % jitter.
func (w *Worker) Backoff(attempt int) time.Duration {
	d := w.BaseBackoff
	for i := 1; i < attempt && d < w.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, w.MaxBackoff)
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

// Run claims and runs jobs until ctx is cancelled, then waits for the jobs
// in flight to finish (they keep running on a context that is not
// cancelled, bounded by the lease) and returns.
func (w *Worker) Run(ctx context.Context) error {
	w.defaults()
	wake := w.DB.JobNotify()
	slots := make(chan struct{}, w.Concurrency)
	done := make(chan int64, w.Concurrency*4)
	var inflight sync.WaitGroup
	flushed := make(chan struct{})
	go func() { w.completer(done); close(flushed) }()

	defer func() {
		inflight.Wait()
		close(done)
		<-flushed
	}()
	timer := time.NewTimer(0)
	defer timer.Stop()
	var reaped time.Time
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-wake:
		case <-timer.C:
		}
		if time.Since(reaped) > w.Lease/10 {
			reaped = time.Now()
			if n, err := w.DB.ReapExpiredLeases(ctx); err != nil && ctx.Err() == nil {
				w.Log.Error("reaping expired job leases", "err", err)
			} else if n > 0 {
				w.Log.Warn("jobs whose process died will run again", "n", n)
			}
		}
		for ctx.Err() == nil {
			free := w.Concurrency - len(slots)
			if free == 0 {
				// Wait for a slot, not a poll interval.
				select {
				case slots <- struct{}{}:
					<-slots
					continue
				case <-ctx.Done():
					return nil
				}
			}
			var jobs []herald.Job
			var err error
			if active, paused := w.activeKinds(); !paused {
				jobs, err = w.DB.ClaimJobs(ctx, free, w.Lease)
			} else if len(active) > 0 {
				jobs, err = w.DB.ClaimJobsOf(ctx, free, w.Lease, active)
			} else {
				break // every kind waits for its service
			}
			if err != nil {
				if ctx.Err() == nil {
					w.Log.Error("claiming jobs", "err", err)
				}
				break
			}
			for _, j := range jobs {
				slots <- struct{}{}
				inflight.Add(1)
				go func(j herald.Job) {
					defer func() { <-slots; inflight.Done() }()
					w.run(context.WithoutCancel(ctx), j, done)
				}(j)
			}
			if len(jobs) < free {
				break
			}
		}
		timer.Reset(w.Poll)
	}
}

func (w *Worker) run(ctx context.Context, j herald.Job, done chan<- int64) {
	ctx, cancel := context.WithTimeout(ctx, w.Lease*9/10)
	defer cancel()
	h := w.handlers[j.Kind]
	var err error
	if h == nil {
		err = Permanent(fmt.Errorf("no handler for job kind %q", j.Kind))
	} else {
		err = safeRun(ctx, h, j)
	}
	if err == nil {
		done <- j.ID
		return
	}
	var p permanent
	var dl delayed
	var un unavailable
	bg := context.WithoutCancel(ctx)
	if errors.As(err, &un) {
		w.pause(j.Kind, un.pause)
		w.Log.Warn("service unavailable: pausing jobs of this kind", "kind", j.Kind, "for", un.pause, "err", err)
		if serr := w.DB.SnoozeJob(bg, j.ID, w.DB.Now().Add(un.pause)); serr != nil {
			w.Log.Error("rescheduling job", "job", j.ID, "err", serr)
		}
		return
	}
	if errors.As(err, &dl) && dl.free {
		if serr := w.DB.SnoozeJob(bg, j.ID, w.DB.Now().Add(dl.after)); serr != nil {
			w.Log.Error("rescheduling job", "job", j.ID, "err", serr)
		}
		return
	}
	if errors.As(err, &p) || j.Attempts >= j.MaxAttempts {
		w.Log.Error("job failed for good", "job", j.ID, "kind", j.Kind, "attempts", j.Attempts, "err", err)
		if ferr := w.DB.FailJob(bg, j.ID, err.Error()); ferr != nil {
			w.Log.Error("recording failed job", "job", j.ID, "err", ferr)
		}
		return
	}
	delay := w.Backoff(j.Attempts)
	if errors.As(err, &dl) {
		delay = dl.after
	}
	w.Log.Warn("job will be retried", "job", j.ID, "kind", j.Kind, "attempt", j.Attempts, "in", delay.Round(time.Second), "err", err)
	if rerr := w.DB.RetryJob(bg, j.ID, w.DB.Now().Add(delay), err.Error()); rerr != nil {
		w.Log.Error("rescheduling job", "job", j.ID, "err", rerr)
	}
}

func safeRun(ctx context.Context, h Handler, j herald.Job) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = Permanent(fmt.Errorf("job handler panicked: %v", r))
		}
	}()
	return h(ctx, j)
}

// completer deletes finished jobs in batches: under load one write per
// batch instead of one per job keeps the single SQLite writer free for
// signups.
func (w *Worker) completer(done <-chan int64) {
	var batch []int64
	flush := func() {
		if len(batch) == 0 {
			return
		}
		if err := w.DB.CompleteJobs(context.Background(), batch...); err != nil {
			w.Log.Error("completing jobs", "n", len(batch), "err", err)
		}
		batch = batch[:0]
	}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case id, ok := <-done:
			if !ok {
				flush()
				return
			}
			batch = append(batch, id)
			if len(batch) >= 200 {
				flush()
			}
		case <-tick.C:
			flush()
		}
	}
}
