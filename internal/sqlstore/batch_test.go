package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
)

// TestGroupCommitIsolatesFailures: pieces that share a grouped transaction
// keep their own atomicity — a failing piece leaves nothing behind and
// does not take the others down with it.
func TestGroupCommitIsolatesFailures(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "g.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	const n = 200
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = db.writeGrouped(ctx, func(tx *Tx) error {
				if _, err := tx.exec(ctx, `INSERT INTO settings (key, value) VALUES (?, 'x')`, fmt.Sprintf("k%d", i)); err != nil {
					return err
				}
				if i%7 == 0 {
					return boom // after writing: the write must be undone
				}
				return nil
			})
		}()
	}
	wg.Wait()
	var rows int
	if err := db.r.QueryRow(`SELECT COUNT(*) FROM settings WHERE key LIKE 'k%'`).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	want := 0
	for i, err := range errs {
		if (i%7 == 0) != errors.Is(err, boom) {
			t.Fatalf("piece %d: err %v", i, err)
		}
		if err == nil {
			want++
		}
	}
	if rows != want {
		t.Fatalf("%d rows committed, want %d", rows, want)
	}
	if g, p := db.GroupStats(); p != n || g < 1 {
		t.Fatalf("group stats: %d groups, %d pieces", g, p)
	}
}
