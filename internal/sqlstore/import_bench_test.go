package sqlstore_test

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/sqlstore"
	"github.com/heraldhq/herald/internal/sqlstore/storetest"
)

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkImportBatch measures the store's side of an import: b.N rows
// in batches of ImportBatchSize, two consent events each. cpu-µs/row is
// this process's CPU time per row (on PostgreSQL the server's is extra).
func BenchmarkImportBatch(b *testing.B) {
	for _, dialect := range []string{"sqlite", "postgres"} {
		b.Run(dialect, func(b *testing.B) {
			url, ok := storetest.URLs(b)[dialect]
			if !ok {
				b.Skip("HERALD_TEST_POSTGRES_URL not set")
			}
			db := storetest.Open(b, url)
			ctx := context.Background()
			l := &herald.List{Slug: "daily", Name: "Daily"}
			if err := db.CreateList(ctx, l); err != nil {
				b.Fatal(err)
			}
			lists := []*herald.List{l}
			at := time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC)
			rows := make([]sqlstore.ImportRow, 0, sqlstore.ImportBatchSize)
			b.ResetTimer()
			cpu0 := cpuTime()
			for i := 0; i < b.N; i++ {
				email := fmt.Sprintf("member%07d@example.com", i)
				rows = append(rows, sqlstore.ImportRow{File: "s.csv", Line: i + 2, Email: email, Key: email, Name: "First Last",
					Attributes: map[string]string{"Company": "Acme"}, Status: herald.StatusConfirmed, Lists: []int64{l.ID},
					OptinAt: at, OptinIP: "198.51.100.1", ConfirmAt: at.Add(time.Minute), ConfirmIP: "203.0.113.1"})
				if len(rows) == cap(rows) || i == b.N-1 {
					if _, _, err := db.ImportBatch(ctx, lists, rows); err != nil {
						b.Fatal(err)
					}
					rows = rows[:0]
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
			b.ReportMetric(float64(cpuTime()-cpu0)/float64(time.Microsecond)/float64(b.N), "cpu-µs/row")
		})
	}
}
