package mcsync_test

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/mcsync"
	"github.com/heraldhq/herald/internal/sqlstore/storetest"
)

// TestImportMemoryStaysSmall (issue 14 item 7): an import holds a few
// small batches, not a few large ones: the live heap (measured after each
// garbage collection, so independent of timing) stays under 48 MB while
// 200,000 rows are imported. Holding three 20,000-row batches prepared and
// a sorted copy, as before, kept ~95 MB live.
func TestImportMemoryStaysSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("imports 200,000 rows")
	}
	path := filepath.Join(t.TempDir(), "export.zip")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mcsync.GenerateExport(f, mcsync.GenOptions{Rows: 200_000}); err != nil {
		t.Fatal(err)
	}
	f.Close()
	db := storetest.Open(t, storetest.URLs(t)["sqlite"])
	mustList(t, db, "daily")
	runtime.GC()
	var peak atomic.Uint64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
		for {
			select {
			case <-stop:
				return
			default:
			}
			metrics.Read(s)
			if v := s[0].Value.Uint64(); v > peak.Load() {
				peak.Store(v)
			}
			time.Sleep(time.Millisecond)
		}
	}()
	res, err := mcsync.Import(context.Background(), db, []string{path}, mcsync.ImportOptions{List: "daily"})
	close(stop)
	<-done
	if err != nil {
		t.Fatal(err)
	}
	if res.Added != 200_000 {
		t.Fatalf("added %d", res.Added)
	}
	t.Logf("peak live heap %d MB", peak.Load()>>20)
	if p := peak.Load(); p > 48<<20 {
		t.Fatalf("peak live heap %d MB while importing, want < 48 MB", p>>20)
	}
}
