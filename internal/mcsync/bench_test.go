package mcsync_test

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/mcsync"
	"github.com/heraldhq/herald/internal/sqlstore/storetest"
)

// BenchmarkImport imports a generated export of b.N members into a fresh
// database (go test -bench Import -benchtime 100000x); rows/s is the
// figure to read. `herald bench import-mailchimp` measures the same on a
// million rows, with CPU time and memory.
func BenchmarkImport(b *testing.B) {
	for _, dialect := range []string{"sqlite", "postgres"} {
		b.Run(dialect, func(b *testing.B) {
			url, ok := storetest.URLs(b)[dialect]
			if !ok {
				b.Skip("HERALD_TEST_POSTGRES_URL not set")
			}
			path := filepath.Join(b.TempDir(), "export.zip")
			f, err := os.Create(path)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := mcsync.GenerateExport(f, mcsync.GenOptions{Rows: b.N, BrokenEvery: 1000}); err != nil {
				b.Fatal(err)
			}
			f.Close()
			db := storetest.Open(b, url)
			mustList(b, db, "daily")
			b.ResetTimer()
			cpu0 := cpuTime()
			res, err := mcsync.Import(context.Background(), db, []string{path}, mcsync.ImportOptions{List: "daily"})
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(res.Rows)/b.Elapsed().Seconds(), "rows/s")
			b.ReportMetric(float64(cpuTime()-cpu0)/float64(time.Microsecond)/float64(b.N), "cpu-µs/row")
		})
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
