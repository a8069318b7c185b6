package sqlstore_test

import (
	"context"
	"database/sql"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/sqlstore"
	"github.com/heraldhq/herald/internal/sqlstore/storetest"
)

func countRows(t *testing.T, path, table string) int {
	t.Helper()
	c, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var n int
	if err := c.QueryRow(`SELECT COUNT(*) FROM ` + table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestBackupWhileWriting: a backup taken while another goroutine keeps
// writing holds everything committed before it began, passes the checks
// restore makes, and restores into a database that opens and migrates.
func TestBackupWhileWriting(t *testing.T) {
	ctx := context.Background()
	db := storetest.Open(t, storetest.URLs(t)["sqlite"])
	if err := db.CreateList(ctx, &herald.List{Slug: "daily", Name: "Daily"}); err != nil {
		t.Fatal(err)
	}
	if err := db.SeedSubscribers(ctx, "daily", 5000, "before"); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	writes := 0
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if err := db.SeedSubscribers(ctx, "daily", 200, "during"+strings.Repeat("x", i%5)+string(rune('a'+i%26))+string(rune('a'+i/26%26))+string(rune('a'+i/676%26))); err != nil {
				t.Error(err)
				return
			}
			writes++
		}
	}()
	dir := t.TempDir()
	path := filepath.Join(dir, "backup.db")
	var calls int
	res, err := db.Backup(ctx, path, func(int64) { calls++ })
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if res.Bytes == 0 || calls == 0 {
		t.Fatalf("result %+v, progress calls %d", res, calls)
	}
	if n := countRows(t, path, "subscribers"); n < 5000 {
		t.Fatalf("backup holds %d subscribers, want at least the 5000 committed before it began", n)
	}
	t.Logf("writes during the backup: %d batches of 200", writes)
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("the backup directory holds %d entries, want only the backup: %v", len(entries), entries)
	}
	if v, err := sqlstore.CheckBackup(ctx, path); err != nil || v == 0 {
		t.Fatalf("CheckBackup: %d, %v", v, err)
	}

	// Restore, then open the copy as Herald would.
	dst := filepath.Join(t.TempDir(), "data", "herald.db")
	if _, err := sqlstore.Restore(ctx, path, dst); err != nil {
		t.Fatal(err)
	}
	restored := storetest.Open(t, "sqlite:"+dst)
	var n int
	if err := restoredCount(restored, &n); err != nil {
		t.Fatal(err)
	}
	if want := countRows(t, path, "subscribers"); n != want {
		t.Fatalf("restored database holds %d subscribers, the backup %d", n, want)
	}
	if _, err := sqlstore.Restore(ctx, path, dst); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("restore over a database: %v", err)
	}
}

func restoredCount(db *sqlstore.DB, n *int) error {
	cols, err := db.Columns(context.Background())
	if err != nil {
		return err
	}
	if len(cols["subscribers"]) == 0 {
		return os.ErrNotExist
	}
	c, err := db.TableCounts(context.Background())
	*n = int(c["subscribers"])
	return err
}

// TestBackupBadInput: each mistake is refused with a clear error and
// leaves no file behind.
func TestBackupBadInput(t *testing.T) {
	ctx := context.Background()
	db := storetest.Open(t, storetest.URLs(t)["sqlite"])
	dir := t.TempDir()
	existing := filepath.Join(dir, "existing.db")
	if err := os.WriteFile(existing, []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	aFile := filepath.Join(dir, "plain")
	if err := os.WriteFile(aFile, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ path, want string }{
		{existing, "already exists"},
		{filepath.Join(dir, "missing", "b.db"), "does not exist"},
		{filepath.Join(aFile, "b.db"), "is not a directory"},
	} {
		_, err := db.Backup(ctx, tc.path, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("backup to %s: %v, want an error containing %q", tc.path, err, tc.want)
		}
	}
	if b, _ := os.ReadFile(existing); string(b) != "keep me" {
		t.Fatalf("existing file changed: %q", b)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Fatalf("left behind: %v", entries)
	}
	if err := db.Ping(ctx); err != nil {
		t.Fatal(err)
	}

	// Not a backup: a text file, a SQLite database that is not Herald's,
	// a damaged Herald database.
	other := filepath.Join(dir, "other.db")
	c, err := sql.Open("sqlite", "file:"+other)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Exec(`CREATE TABLE t (x INTEGER)`); err != nil {
		t.Fatal(err)
	}
	c.Close()
	good := filepath.Join(dir, "good.db")
	if _, err := db.Backup(ctx, good, nil); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(good)
	for i := 4096; i < len(raw) && i < 4096*4; i++ {
		raw[i] = 0xA5 // scribble over the second to fourth pages
	}
	damaged := filepath.Join(dir, "damaged.db")
	if err := os.WriteFile(damaged, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ path, want string }{
		{existing, "not a SQLite database"},
		{other, "not Herald's"},
		{damaged, ""},
		{filepath.Join(dir, "nothing.db"), "no such file"},
	} {
		_, err := sqlstore.CheckBackup(ctx, tc.path)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("CheckBackup(%s): %v, want an error containing %q", filepath.Base(tc.path), err, tc.want)
		}
		dst := filepath.Join(t.TempDir(), "herald.db")
		if _, err := sqlstore.Restore(ctx, tc.path, dst); err == nil {
			t.Errorf("Restore(%s) succeeded", filepath.Base(tc.path))
		}
		if _, err := os.Stat(dst); err == nil {
			t.Errorf("Restore(%s) left %s", filepath.Base(tc.path), dst)
		}
	}
}

// mountTmpfs mounts a tmpfs of the given size with the given options, for
// the duration of the test; it skips the test where mounting is not
// allowed (it needs root).
func mountTmpfs(t *testing.T, opts string) string {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", opts, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs here (%v: %s)", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", dir).Run() })
	return dir
}

// TestBackupFullOrReadOnlyDisk: a backup onto a disk that fills up, or
// onto a read-only one, fails with a clear error, leaves no file and
// leaves the database working.
func TestBackupFullOrReadOnlyDisk(t *testing.T) {
	ctx := context.Background()
	db := storetest.Open(t, storetest.URLs(t)["sqlite"])
	if err := db.CreateList(ctx, &herald.List{Slug: "daily", Name: "Daily"}); err != nil {
		t.Fatal(err)
	}
	if err := db.SeedSubscribers(ctx, "daily", 5000, "reader"); err != nil {
		t.Fatal(err)
	}
	full := mountTmpfs(t, "size=256k")
	readOnly := mountTmpfs(t, "size=256k,ro")
	for _, tc := range []struct{ dir, want string }{
		{full, "is full: the backup needs"},
		{readOnly, "cannot write in"},
	} {
		_, err := db.Backup(ctx, filepath.Join(tc.dir, "backup.db"), nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("backup into %s: %v, want an error containing %q", tc.dir, err, tc.want)
		}
		t.Log(err)
		if entries, _ := os.ReadDir(tc.dir); len(entries) != 0 {
			t.Errorf("left in %s: %v", tc.dir, entries)
		}
	}
	if err := db.SeedSubscribers(ctx, "daily", 10, "after"); err != nil {
		t.Fatalf("the database after the failed backups: %v", err)
	}
}
