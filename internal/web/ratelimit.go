package web

import (
	"sync"
	"time"

	"github.com/heraldhq/herald/internal/config"
)

// limiter is a token bucket per key (client IP): burst of N, refilled at N
// per period. Idle buckets are dropped so memory stays bounded.
type limiter struct {
	rate    config.Rate
	mu      sync.Mutex
	buckets map[string]*bucket
	swept   time.Time
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newLimiter(r config.Rate) *limiter {
	return &limiter{rate: r, buckets: map[string]*bucket{}}
}

// allow takes a token for key; false means the key is over its rate, and
// the duration says when the next token comes.
func (l *limiter) allow(key string, now time.Time) (bool, time.Duration) {
	if l.rate.N == 0 {
		return true, 0
	}
	perToken := l.rate.Per / time.Duration(l.rate.N)
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.swept) > l.rate.Per {
		for k, b := range l.buckets {
			if now.Sub(b.last) > l.rate.Per {
				delete(l.buckets, k)
			}
		}
		l.swept = now
	}
	b, ok := l.buckets[key]
	if !ok {
		b = &bucket{tokens: float64(l.rate.N), last: now}
		l.buckets[key] = b
	}
	b.tokens = min(float64(l.rate.N), b.tokens+float64(now.Sub(b.last))/float64(perToken))
	b.last = now
	if b.tokens < 1 {
		return false, time.Duration((1 - b.tokens) * float64(perToken))
	}
	b.tokens--
	return true, 0
}
