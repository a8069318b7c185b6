package e2e_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/heraldhq/herald/internal/apptest"
	"github.com/heraldhq/herald/internal/sqlstore/storetest"
)

// BenchmarkSubscribeHTTP posts signups over real HTTP to a whole Herald
// (20 concurrent clients, a new address each time, mail to the outbox),
// on every database.
func BenchmarkSubscribeHTTP(b *testing.B) {
	for name, u := range storetest.URLs(b) {
		in := apptest.Start(b, apptest.Options{DatabaseURL: u})
		in.MustAPI(b, 201, "POST", "/lists", map[string]any{"slug": "daily", "name": "Daily"}, nil)
		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
		var n atomic.Int64
		b.Run(name, func(b *testing.B) {
			b.SetParallelism(10)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := n.Add(1)
					body := fmt.Sprintf("email=r%d%%40example.com&lists=daily&source=https%%3A%%2F%%2Fnews.example%%2Fa", i)
					req, _ := http.NewRequest("POST", in.URL+"/subscribe", strings.NewReader(body))
					req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
					req.Header.Set("Accept", "application/json")
					res, err := client.Do(req)
					if err != nil {
						b.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, res.Body)
					res.Body.Close()
					if res.StatusCode != 200 {
						b.Errorf("status %d", res.StatusCode)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "signups/s")
		})
	}
}
