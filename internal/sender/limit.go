package sender

import (
	"context"
	"sync"
	"time"
)

// reserver is the store's side of the installation-wide send limits.
type reserver interface {
	ReserveSends(ctx context.Context, n int, interval time.Duration, burst int, hourly int) (start time.Time, granted int, retryAt time.Time, err error)
}

// limiter hands out send slots: slot i of a reservation may be used at
// start + i·interval and not before. Reservations come from the database
// in chunks of about a tenth of a second's worth, so every process on the
// database draws from one token bucket (and one hourly cap), and the rate
// is exact over any window longer than a chunk: over a minute the only
// slack is one chunk of burst, 0.17 %. Workers take slots from this one
// schedule; none of them paces itself.
type limiter struct {
	db       reserver
	interval time.Duration // 0: no rate, only the hourly cap
	hourly   int           // 0: no cap
	chunk    int
	now      func() time.Time
	sleep    func(ctx context.Context, d time.Duration) error

	mu      sync.Mutex
	next    time.Time
	left    int
	retryAt time.Time
}

// newLimiter returns nil when there is nothing to limit.
func newLimiter(db reserver, rate float64, hourly int) *limiter {
	if rate <= 0 && hourly <= 0 {
		return nil
	}
	l := &limiter{db: db, hourly: hourly, chunk: 100, now: time.Now, sleep: sleepCtx}
	if rate > 0 {
		l.interval = time.Duration(float64(time.Second) / rate)
		l.chunk = min(1000, max(1, int(rate/10)))
	}
	if hourly > 0 {
		l.chunk = min(l.chunk, max(1, hourly/100))
	}
	return l
}

// take returns the time at which the caller may send one message.
func (l *limiter) take(ctx context.Context) (time.Time, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for l.left == 0 {
		if wait := l.retryAt.Sub(l.now()); wait > 0 {
			// The hourly cap is spent: wait until messages leave the window.
			l.mu.Unlock()
			err := l.sleep(ctx, min(wait, 10*time.Second))
			l.mu.Lock()
			if err != nil {
				return time.Time{}, err
			}
			continue
		}
		start, n, retryAt, err := l.db.ReserveSends(ctx, l.chunk, l.interval, l.chunk, l.hourly)
		if err != nil {
			return time.Time{}, err
		}
		if n == 0 {
			l.retryAt = retryAt
			continue
		}
		l.next, l.left = start, n
	}
	t := l.next
	l.next = l.next.Add(l.interval)
	l.left--
	return t, nil
}

// wait blocks until the caller may send one message.
func (l *limiter) wait(ctx context.Context) error {
	if l == nil {
		return nil
	}
	t, err := l.take(ctx)
	if err != nil {
		return err
	}
	if d := t.Sub(l.now()); d > 0 {
		return l.sleep(ctx, d)
	}
	return nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
