package sqlstore

// Online backup and restore of a SQLite installation. A backup is VACUUM
// INTO on a reader connection: WAL lets it read one consistent snapshot
// while the writer goes on writing, so a running Herald keeps serving and
// sending. The copy is written under a temporary name in the target's
// directory, synced, and only then given its name, so a failed or
// interrupted backup (a full disk, a killed process) leaves no file that
// looks like a backup.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// BackupResult describes a finished backup.
type BackupResult struct {
	Path     string
	Bytes    int64
	Duration time.Duration
}

// Backup writes a consistent copy of the SQLite database to path, which
// must not exist; its directory must. progress, if not nil, is called now
// and then with the bytes written so far. On PostgreSQL it refuses and
// names pg_dump.
func (db *DB) Backup(ctx context.Context, path string, progress func(written int64)) (*BackupResult, error) {
	if db.dialect.name() != "sqlite" {
		return nil, errors.New("herald backup copies SQLite installations; for PostgreSQL use pg_dump (e.g. pg_dump --format=custom --file=herald.dump DATABASE_URL), see docs/deployment.md")
	}
	start := time.Now()
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("backup path %s: %w", path, err)
	}
	dir := filepath.Dir(abs)
	if st, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("the backup's directory %s does not exist or cannot be read (%w): create it first", dir, err)
	} else if !st.IsDir() {
		return nil, fmt.Errorf("%s is not a directory", dir)
	}
	if _, err := os.Lstat(abs); err == nil {
		return nil, fmt.Errorf("%s already exists: a backup never overwrites a file, choose a new name", abs)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("backup path %s: %w", abs, err)
	}
	// An empty file made here is what VACUUM INTO accepts as its target,
	// and making it is the check that the directory is writable.
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(abs)+".partial-*")
	if err != nil {
		return nil, fmt.Errorf("cannot write in %s: %w", dir, err)
	}
	tmpName := tmp.Name()
	tmp.Close()
	done := false
	defer func() {
		if !done {
			os.Remove(tmpName)
		}
	}()

	stop := make(chan struct{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		if progress == nil {
			return
		}
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				if st, err := os.Stat(tmpName); err == nil {
					progress(st.Size())
				}
			}
		}
	}()
	err = db.vacuumInto(ctx, tmpName)
	close(stop)
	<-watched
	if err != nil {
		var se *sqlite.Error
		if errors.As(err, &se) && se.Code() == sqlite3.SQLITE_FULL {
			return nil, fmt.Errorf("the disk holding %s is full: the backup needs about as much space as the database; nothing was left behind and the running service is unaffected (%w)", dir, err)
		}
		return nil, fmt.Errorf("writing the backup in %s: %w (nothing was left behind; the running service is unaffected)", dir, err)
	}
	if err := syncFile(tmpName); err != nil {
		return nil, fmt.Errorf("syncing the backup: %w", err)
	}
	// A hard link gives the file its name only if the name is still free
	// (a rename would replace a file made meanwhile).
	if err := os.Link(tmpName, abs); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("%s appeared while the backup was written: not overwritten", abs)
		}
		return nil, fmt.Errorf("naming the backup %s: %w", abs, err)
	}
	os.Remove(tmpName)
	done = true
	if err := syncDir(dir); err != nil {
		return nil, fmt.Errorf("syncing %s: %w", dir, err)
	}
	st, err := os.Stat(abs)
	if err != nil {
		return nil, err
	}
	if progress != nil {
		progress(st.Size())
	}
	return &BackupResult{Path: abs, Bytes: st.Size(), Duration: time.Since(start)}, nil
}

// vacuumInto runs VACUUM INTO on a connection of its own: the pooled
// readers are query_only, which VACUUM INTO refuses even though it only
// reads this database, and the writer must stay free for the service.
func (db *DB) vacuumInto(ctx context.Context, target string) error {
	var seq int
	var name, file string
	if err := db.r.QueryRowContext(ctx, `SELECT seq, name, file FROM pragma_database_list WHERE name = 'main'`).Scan(&seq, &name, &file); err != nil {
		return err
	}
	if file == "" {
		return errors.New("the database has no file to back up")
	}
	c, err := sql.Open("sqlite", "file:"+(&url.URL{Path: file}).EscapedPath()+"?_pragma=busy_timeout(10000)")
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.ExecContext(ctx, `VACUUM INTO ?`, target)
	return err
}

func syncFile(name string) error {
	f, err := os.OpenFile(name, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// CheckBackup opens the SQLite file at path read-only and checks that it
// is a sound Herald database: PRAGMA integrity_check answers ok and
// schema_migrations holds a version. It returns that version.
func CheckBackup(ctx context.Context, path string) (int, error) {
	st, err := os.Stat(path)
	if err != nil {
		return 0, fmt.Errorf("backup %s: %w", path, err)
	}
	if !st.Mode().IsRegular() {
		return 0, fmt.Errorf("backup %s is not a regular file", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("backup %s: %w", path, err)
	}
	head := make([]byte, 16)
	_, err = io.ReadFull(f, head)
	f.Close()
	if err != nil || string(head) != "SQLite format 3\x00" {
		return 0, fmt.Errorf("%s is not a SQLite database (not a Herald backup)", path)
	}
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() + "?mode=ro&_pragma=query_only(1)"
	c, err := sql.Open("sqlite", dsn)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	rows, err := c.QueryContext(ctx, `PRAGMA integrity_check`)
	if err != nil {
		return 0, fmt.Errorf("%s cannot be read as a database: %w", path, err)
	}
	var problems []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			rows.Close()
			return 0, err
		}
		if s != "ok" {
			problems = append(problems, s)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("%s cannot be read as a database: %w", path, err)
	}
	if len(problems) > 0 {
		if len(problems) > 3 {
			problems = append(problems[:3], "…")
		}
		return 0, fmt.Errorf("%s fails SQLite's integrity check: %s", path, strings.Join(problems, "; "))
	}
	var v sql.NullInt64
	if err := c.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_migrations`).Scan(&v); err != nil || !v.Valid {
		return 0, fmt.Errorf("%s is a SQLite database but not Herald's (no schema_migrations table)", path)
	}
	latest, err := LatestVersion("sqlite")
	if err != nil {
		return 0, err
	}
	if int(v.Int64) > latest {
		return 0, fmt.Errorf("%s is at schema version %d, newer than this herald knows (%d): restore it with a newer herald", path, v.Int64, latest)
	}
	return int(v.Int64), nil
}

// Restore copies the checked backup at src to dst, a SQLite database path
// that must hold no database yet (nor leftover -wal/-shm files), through a
// temporary file in dst's directory, synced before it takes its name.
func Restore(ctx context.Context, src, dst string) (int64, error) {
	if _, err := CheckBackup(ctx, src); err != nil {
		return 0, err
	}
	for _, p := range []string{dst, dst + "-wal", dst + "-shm"} {
		if st, err := os.Stat(p); err == nil {
			if p == dst && st.Size() == 0 {
				continue // an empty file is no database; replaced below
			}
			return 0, fmt.Errorf("%s already exists: restore only into an empty data location (move the old database away first)", p)
		}
	}
	dir := filepath.Dir(dst)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return 0, fmt.Errorf("data location %s: %w", dir, err)
	}
	in, err := os.Open(src)
	if err != nil {
		return 0, err
	}
	defer in.Close()
	out, err := os.CreateTemp(dir, "."+filepath.Base(dst)+".restoring-*")
	if err != nil {
		return 0, fmt.Errorf("cannot write in %s: %w", dir, err)
	}
	tmpName := out.Name()
	ok := false
	defer func() {
		if !ok {
			out.Close()
			os.Remove(tmpName)
		}
	}()
	n, err := io.Copy(out, in)
	if err != nil {
		return 0, fmt.Errorf("copying %s into %s: %w", src, dir, err)
	}
	if err := out.Chmod(0o600); err != nil {
		return 0, err
	}
	if err := out.Sync(); err != nil {
		return 0, fmt.Errorf("syncing the restored database: %w", err)
	}
	if err := out.Close(); err != nil {
		return 0, err
	}
	if err := os.Rename(tmpName, dst); err != nil {
		return 0, fmt.Errorf("putting the database in place at %s: %w", dst, err)
	}
	ok = true
	return n, syncDir(dir)
}

// LatestVersion is the highest migration this build carries for a dialect.
func LatestVersion(dialect string) (int, error) {
	entries, err := fs.ReadDir(migrationsFS, "migrations/"+dialect)
	if err != nil {
		return 0, err
	}
	latest := 0
	for _, e := range entries {
		var v int
		if _, err := fmt.Sscanf(e.Name(), "%d_", &v); err == nil && v > latest {
			latest = v
		}
	}
	return latest, nil
}
