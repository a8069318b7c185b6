package sqlstore_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/service"
	"github.com/heraldhq/herald/internal/sqlstore/storetest"
)

// BenchmarkSignup measures a signup through the service layer (validation)
// and the store's side of it — subscriber, subscription, consent event and
// confirmation job in one transaction — with concurrent callers, as under
// HTTP load, on every database.
func BenchmarkSignup(b *testing.B) {
	for name, u := range storetest.URLs(b) {
		db := storetest.Open(b, u)
		ctx := context.Background()
		if err := db.CreateList(ctx, &herald.List{Slug: "daily", Name: "Daily"}); err != nil {
			b.Fatal(err)
		}
		svc := service.New(db)
		var n atomic.Int64
		b.Run(name, func(b *testing.B) {
			b.SetParallelism(10) // 10 × GOMAXPROCS concurrent signups
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := n.Add(1)
					_, err := svc.Signup(ctx, service.Caller{}, herald.SignupRequest{
						Email: fmt.Sprintf("reader%d@example.com", i), Lists: []string{"daily"},
						IP: "203.0.113.7", UserAgent: "bench", SourceURL: "https://news.example/article",
					}, opt)
					if err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "signups/s")
			if g, p := db.GroupStats(); g > 0 {
				b.ReportMetric(float64(p)/float64(g), "signups/commit")
			}
		})
	}
}
