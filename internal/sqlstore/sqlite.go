package sqlstore

import (
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"

	"github.com/heraldhq/herald"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

type sqliteDialect struct{}

func (sqliteDialect) name() string           { return "sqlite" }
func (sqliteDialect) rebind(q string) string { return q }
func (sqliteDialect) claimSuffix() string    { return "" }
func (sqliteDialect) columnsQuery() string {
	return `SELECT m.name, p.name FROM sqlite_master m JOIN pragma_table_info(m.name) p
		WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'`
}

func (sqliteDialect) translate(err error) error {
	var se *sqlite.Error
	if err == nil || !errors.As(err, &se) {
		return err
	}
	switch se.Code() {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return &herald.Error{Code: herald.ECONFLICT, Message: "It already exists."}
	case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
		return &herald.Error{Code: herald.ECONFLICT, Message: "It is still referenced."}
	case sqlite3.SQLITE_CONSTRAINT_CHECK:
		return &herald.Error{Code: herald.EINVALID, Message: "A value is out of range."}
	}
	return err
}

// openSQLite opens one writer connection (SQLite serialises writers anyway;
// one connection avoids SQLITE_BUSY storms) and a pool of readers, which WAL
// lets read while the writer writes.
func openSQLite(db *DB, path string) error {
	if path == "" {
		return fmt.Errorf("sqlite: empty path")
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return fmt.Errorf("sqlite: %w", err)
		}
	}
	pragmas := []string{"journal_mode(WAL)", "foreign_keys(1)", "busy_timeout(10000)", "synchronous(NORMAL)", "cache_size(-32000)"}
	q := url.Values{}
	for _, p := range pragmas {
		q.Add("_pragma", p)
	}
	q.Set("_time_format", "sqlite")
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath()
	w, err := sql.Open("sqlite", dsn+"?"+q.Encode()+"&_txlock=immediate")
	if err != nil {
		return err
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	// The writer creates the file and turns on WAL before readers connect.
	if _, err := w.Exec("SELECT 1"); err != nil {
		w.Close()
		return fmt.Errorf("sqlite %s: %w", path, err)
	}
	q.Add("_pragma", "query_only(1)")
	r, err := sql.Open("sqlite", dsn+"?"+q.Encode())
	if err != nil {
		w.Close()
		return err
	}
	n := max(4, runtime.GOMAXPROCS(0)*2)
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	db.w, db.r, db.dialect = w, r, sqliteDialect{}
	return nil
}
