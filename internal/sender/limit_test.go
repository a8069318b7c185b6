package sender

import (
	"context"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/sqlstore"
	"github.com/heraldhq/herald/internal/sqlstore/storetest"
)

// fakeClock drives the limiter and the store's "now" without waiting.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }
func (c *fakeClock) sleep(_ context.Context, d time.Duration) error {
	c.t = c.t.Add(d)
	return nil
}

func fakeLimiter(db *sqlstore.DB, rate float64, hourly int) (*limiter, *fakeClock) {
	clk := &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	db.Now = clk.now
	l := newLimiter(db, rate, hourly)
	l.now, l.sleep = clk.now, clk.sleep
	return l, clk
}

// TestLimiterExactOverAMinute: at 1000/s, a minute holds exactly 60,000
// slots plus one reservation's burst (100, 0.17 %), however the workers
// take them.
func TestLimiterExactOverAMinute(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		l, clk := fakeLimiter(db, 1000, 0)
		start := clk.t
		n := 0
		for {
			at, err := l.take(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if at.Sub(start) >= time.Minute {
				break
			}
			n++
			// A worker waits for its slot; the clock moves on.
			if at.After(clk.t) {
				clk.t = at
			}
		}
		if want := 60000 + 100; n != want {
			t.Fatalf("%d slots in a minute at 1000/s, want %d", n, want)
		}
	})
}

// TestLimiterHourlyCap: with a cap of 500 an hour, the 501st message waits
// until the first has left the hour.
func TestLimiterHourlyCap(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		l, clk := fakeLimiter(db, 0, 500)
		start := clk.t
		var last time.Time
		for i := range 501 {
			at, err := l.take(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if i < 500 && at.Sub(start) > time.Minute {
				t.Fatalf("message %d waited until %v", i, at.Sub(start))
			}
			last = at
		}
		if d := clk.t.Sub(start); d < time.Hour || d > time.Hour+3*time.Minute {
			t.Fatalf("the 501st message went %v after the first, want just over an hour", d)
		}
		_ = last
	})
}
