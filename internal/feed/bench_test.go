package feed_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/sqlstore/storetest"
)

// BenchmarkPollUnchanged polls feeds that have not changed: claim, a
// conditional GET answered 304, record. It reports the process's CPU time
// per poll (user + system, from getrusage; the in-process test server's
// share included, so an overestimate) and what 1,000 such polls a minute
// would cost as a share of one core (target: ≤ 5 %). Set
// HERALD_TEST_POSTGRES_URL to measure on PostgreSQL too.
func BenchmarkPollUnchanged(b *testing.B) {
	for dialect, url := range storetest.URLs(b) {
		b.Run(dialect, func(b *testing.B) {
			db := storetest.Open(b, url)
			ctx := context.Background()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Header.Get("If-None-Match") == `"v1"` {
					w.WriteHeader(http.StatusNotModified)
					return
				}
				w.Header().Set("ETag", `"v1"`)
				io.WriteString(w, rssDoc(rssItem("a", "https://example.com/a", "A"), rssItem("b", "https://example.com/b", "B")))
			}))
			defer srv.Close()
			p := newPoller(db, loopback)
			const feeds = 50
			ids := make([]int64, feeds)
			for i := range ids {
				f, err := db.CreateFeed(ctx, srv.URL+"/feed/"+strconv.Itoa(i), nil, time.Minute)
				if err != nil {
					b.Fatal(err)
				}
				ids[i] = f.ID
				pollOnce(b, p, f.ID) // the first poll reads the feed and keeps its ETag
			}
			cpu0 := cpuTime()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				fp, err := db.ClaimFeed(ctx, ids[i%feeds], time.Minute)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := p.Poll(ctx, fp); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			perPoll := (cpuTime() - cpu0) / time.Duration(b.N)
			b.ReportMetric(float64(perPoll.Microseconds()), "cpu-µs/poll")
			b.ReportMetric(float64(perPoll)*1000/float64(time.Minute)*100, "%core@1000/min")
			if f, _ := db.GetFeed(ctx, ids[0]); f.Status != "ok" || f.Items != 2 {
				b.Fatalf("after the benchmark: %+v", f)
			}
		})
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
