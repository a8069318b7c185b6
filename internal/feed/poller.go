package feed

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"sync"
	"time"

	"github.com/heraldhq/herald/internal/netguard"
	"github.com/heraldhq/herald/internal/sqlstore"
)

// Poller defaults.
const (
	DefaultConcurrency = 4
	DefaultTick        = 5 * time.Second
	// Lease is how long a claimed feed stays with its poller: longer than a
	// fetch may take, so that a live poller never loses it; a dead one's
	// feeds come back after it.
	Lease = 2 * time.Minute
	// MaxBackoff bounds the wait after repeated errors.
	MaxBackoff = 6 * time.Hour
)

// Poller polls the feeds that are due, a few at a time.
type Poller struct {
	DB          *sqlstore.DB
	Fetcher     *Fetcher
	Log         *slog.Logger
	Concurrency int
	Tick        time.Duration // how often to look for due feeds when idle
}

// NewPoller returns a poller whose fetches reach no internal address
// outside allow (HERALD_FETCH_ALLOW).
func NewPoller(db *sqlstore.DB, allow []netip.Prefix, log *slog.Logger) *Poller {
	return &Poller{DB: db, Fetcher: NewFetcher(netguard.New(allow), DefaultTimeout), Log: log, Concurrency: DefaultConcurrency, Tick: DefaultTick}
}

// Run polls due feeds until ctx is cancelled; polls in flight finish.
func (p *Poller) Run(ctx context.Context) error {
	n := max(p.Concurrency, 1)
	tick := p.Tick
	if tick <= 0 {
		tick = DefaultTick
	}
	sem := make(chan struct{}, n)
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		free := n - len(sem) // only as many as can start now, so leases are not spent waiting
		var claimed []*sqlstore.FeedPoll
		if free > 0 {
			var err error
			claimed, err = p.DB.ClaimDueFeeds(ctx, free, Lease)
			if err != nil && ctx.Err() == nil {
				p.Log.Warn("claiming due feeds", "err", err)
			}
		}
		for _, fp := range claimed {
			sem <- struct{}{}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				// The poll is not cut short by shutdown: its outcome is
				// recorded and the lease released.
				if _, err := p.Poll(context.WithoutCancel(ctx), fp); err != nil {
					p.Log.Warn("recording a feed poll", "feed", fp.ID, "err", err)
				}
			}()
		}
		wait := tick
		if len(claimed) == free { // all slots busy, or there may be more due
			wait = 50 * time.Millisecond
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
}

// PollNow claims one feed, due or not, polls it and returns it updated.
func (p *Poller) PollNow(ctx context.Context, id int64) (*sqlstore.Feed, error) {
	fp, err := p.DB.ClaimFeed(ctx, id, Lease)
	if err != nil {
		return nil, err
	}
	if _, err := p.Poll(context.WithoutCancel(ctx), fp); err != nil {
		return nil, err
	}
	return p.DB.GetFeed(ctx, id)
}

// Poll fetches and parses one claimed feed and records the outcome: the
// items, or the error (with backoff). It returns the number of new items;
// its error is only the store's: a feed's own errors are recorded.
func (p *Poller) Poll(ctx context.Context, fp *sqlstore.FeedPoll) (int, error) {
	r := p.fetchAndParse(ctx, fp)
	r.URL = fp.URL
	if r.Err != nil {
		r.Next = Backoff(fp.Interval, fp.Errors+1)
		p.Log.Info("feed poll failed", "feed", fp.ID, "url", fp.URL, "err", r.Err, "retry_in", r.Next.Round(time.Second).String())
	} else {
		r.Next = fp.Interval
	}
	return p.DB.RecordFeedPoll(ctx, fp.ID, r)
}

func (p *Poller) fetchAndParse(ctx context.Context, fp *sqlstore.FeedPoll) *sqlstore.FeedPollResult {
	resp, err := p.Fetcher.Fetch(ctx, fp.URL, fp.ETag, fp.LastModified)
	if err != nil {
		return &sqlstore.FeedPollResult{Err: err}
	}
	if resp.NotModified {
		return &sqlstore.FeedPollResult{NotModified: true}
	}
	parsed, err := Parse(resp.Body, resp.ContentType, resp.URL)
	if err != nil {
		return &sqlstore.FeedPollResult{Err: err}
	}
	return &sqlstore.FeedPollResult{ETag: resp.ETag, LastModified: resp.LastModified, Title: parsed.Title, Items: parsed.Items}
}

// Backoff is the wait before polling again after the given number of
// consecutive errors: the interval doubled per error, at most MaxBackoff
// (or the interval, if longer), with up to 10 % jitter so that feeds that
// failed together do not retry together.
func Backoff(interval time.Duration, errors int) time.Duration {
	d := interval
	for i := 1; i < errors && d < MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, max(MaxBackoff, interval))
	return d + time.Duration(rand.Int64N(int64(d/10)+1))
}
