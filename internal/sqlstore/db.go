// Package sqlstore is Herald's one store: every table, every query, for both
// SQLite (embedded, pure Go) and PostgreSQL. SQL is written once with ?
// placeholders and rewritten to $n for PostgreSQL; what differs between the
// two lives in sqlite.go, postgres.go and the two migration folders.
//
// Public methods open a transaction and hand off to small helpers that take
// the *Tx, so operations compose, and each transaction fixes "now" once.
package sqlstore

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/heraldhq/herald"
)

//go:embed migrations
var migrationsFS embed.FS

// DB is an open store.
type DB struct {
	w, r    *sql.DB // writer and readers; the same pool on PostgreSQL
	dialect dialect

	// Now returns the current time; tests may replace it.
	Now func() time.Time

	secret []byte // suppression HMAC key (set by SetSecret)
	rebind sync.Map

	jobsWake   wakeup // when a job is enqueued (jobs.go)
	eventsWake wakeup // when events are committed (events.go)

	group    grouper       // group commit of hot writes (batch.go)
	stmts    sync.Map      // query → *sql.Stmt on the writer (SQLite)
	rstmts   sync.Map      // query → *sql.Stmt on the readers (SQLite)
	cache    cache         // lists and disclosures (cache.go)
	listDisc listDiscCache // lists' own disclosures (lists_external.go)
}

type dialect interface {
	name() string
	rebind(q string) string
	translate(err error) error
	claimSuffix() string // appended to the job-claim subquery
}

// Open connects to the database named by a Herald database URL
// (sqlite:PATH or postgres://…) without migrating it.
func Open(ctx context.Context, url string) (*DB, error) {
	db := &DB{Now: func() time.Time { return time.Now().UTC().Round(time.Microsecond) }}
	var err error
	switch {
	case strings.HasPrefix(url, "sqlite:"):
		err = openSQLite(db, strings.TrimPrefix(strings.TrimPrefix(url, "sqlite:"), "//"))
	case strings.HasPrefix(url, "postgres://"), strings.HasPrefix(url, "postgresql://"):
		err = openPostgres(db, url)
	default:
		err = fmt.Errorf("unsupported database URL %q", url)
	}
	if err != nil {
		return nil, err
	}
	if err := db.Ping(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("database: %w", err)
	}
	db.startGrouper()
	return db, nil
}

// Dialect names the database: "sqlite" or "postgres".
func (db *DB) Dialect() string { return db.dialect.name() }

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.w.PingContext(ctx); err != nil {
		return err
	}
	if db.r != db.w {
		return db.r.PingContext(ctx)
	}
	return nil
}

// Close closes the connection pools.
func (db *DB) Close() error {
	db.stopGrouper()
	for _, m := range []*sync.Map{&db.stmts, &db.rstmts} {
		m.Range(func(_, v any) bool { v.(*sql.Stmt).Close(); return true })
	}
	err := db.w.Close()
	if db.r != db.w {
		if e := db.r.Close(); err == nil {
			err = e
		}
	}
	return err
}

// SetSecret sets the key used to hash addresses in the suppression list.
func (db *DB) SetSecret(secret []byte) { db.secret = secret }

// HasSecret reports whether SetSecret was given a secret.
func (db *DB) HasSecret() bool { return len(db.secret) > 0 }

// SuppressionHash is the keyed hash of a normalised address under which
// it is suppressed: the list keeps no readable address.
func (db *DB) SuppressionHash(emailKey string) string {
	m := hmac.New(sha256.New, db.secret)
	m.Write([]byte("herald suppression v1 "))
	m.Write([]byte(emailKey))
	return hex.EncodeToString(m.Sum(nil))
}

// Tx is a transaction with its dialect and its fixed "now".
type Tx struct {
	*sql.Tx
	db     *DB
	now    time.Time
	write  bool
	after  []func()
	wanted []string       // queries to prepare once the transaction ends
	events []pendingEvent // appended at commit (events.go)
}

// afterCommit runs fn once the transaction has committed.
func (tx *Tx) afterCommit(fn func()) { tx.after = append(tx.after, fn) }

func (db *DB) q(query string) string {
	if v, ok := db.rebind.Load(query); ok {
		return v.(string)
	}
	out := db.dialect.rebind(query)
	db.rebind.Store(query, out)
	return out
}

// prepared returns the cached prepared statement for query bound to this
// transaction, when that pays (SQLite's single writer), else nil.
func (tx *Tx) prepared(ctx context.Context, query string) *sql.Stmt {
	if tx.db.dialect.name() != "sqlite" {
		return nil // pgx caches prepared statements per connection itself
	}
	st := tx.db.preparedStmt(tx.write, query)
	if st == nil {
		tx.wanted = append(tx.wanted, query)
		return nil
	}
	return tx.StmtContext(ctx, st)
}

func (tx *Tx) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := tx.prepared(ctx, query); st != nil {
		res, err := st.ExecContext(ctx, args...)
		return res, tx.db.dialect.translate(err)
	}
	res, err := tx.ExecContext(ctx, tx.db.q(query), args...)
	return res, tx.db.dialect.translate(err)
}

func (tx *Tx) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := tx.prepared(ctx, query); st != nil {
		rows, err := st.QueryContext(ctx, args...)
		return rows, tx.db.dialect.translate(err)
	}
	rows, err := tx.QueryContext(ctx, tx.db.q(query), args...)
	return rows, tx.db.dialect.translate(err)
}

func (tx *Tx) queryRow(ctx context.Context, query string, args ...any) *row {
	if st := tx.prepared(ctx, query); st != nil {
		return &row{st.QueryRowContext(ctx, args...), tx.db}
	}
	return &row{tx.QueryRowContext(ctx, tx.db.q(query), args...), tx.db}
}

// row is a *sql.Row whose Scan translates driver errors into domain
// errors, like exec and query do.
type row struct {
	*sql.Row
	db *DB
}

func (r *row) Scan(dest ...any) error { return r.db.dialect.translate(r.Row.Scan(dest...)) }

// write runs fn in a read-write transaction and commits it if fn succeeds.
func (db *DB) write(ctx context.Context, fn func(*Tx) error) error {
	return db.run(ctx, db.w, false, fn)
}

// read runs fn in a read-only transaction on the reader pool.
func (db *DB) read(ctx context.Context, fn func(*Tx) error) error {
	return db.run(ctx, db.r, true, fn)
}

func (db *DB) run(ctx context.Context, pool *sql.DB, readOnly bool, fn func(*Tx) error) error {
	var opts *sql.TxOptions
	if readOnly && db.dialect.name() == "postgres" {
		opts = &sql.TxOptions{ReadOnly: true}
	}
	sqlTx, err := pool.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("begin: %w", db.dialect.translate(err))
	}
	tx := &Tx{Tx: sqlTx, db: db, now: db.Now(), write: !readOnly}
	defer func() {
		if len(tx.wanted) > 0 {
			db.prepareWanted(context.WithoutCancel(ctx), pool, tx.write, tx.wanted)
		}
	}()
	if err := fn(tx); err != nil {
		_ = sqlTx.Rollback()
		return err
	}
	if readOnly {
		return sqlTx.Rollback()
	}
	if err := tx.flushEvents(ctx); err != nil {
		_ = sqlTx.Rollback()
		return err
	}
	if err := sqlTx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", db.dialect.translate(err))
	}
	for _, fn := range tx.after {
		fn()
	}
	return nil
}

// Migrate applies the embedded migrations that the database lacks.
func (db *DB) Migrate(ctx context.Context) error {
	dir := "migrations/" + db.dialect.name()
	entries, err := fs.ReadDir(migrationsFS, dir)
	if err != nil {
		return err
	}
	type mig struct {
		version int
		name    string
	}
	var migs []mig
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || !strings.HasSuffix(e.Name(), ".sql") {
			return fmt.Errorf("migration %s: name must be NNNN_name.sql", e.Name())
		}
		migs = append(migs, mig{v, e.Name()})
	}
	sort.Slice(migs, func(i, j int) bool { return migs[i].version < migs[j].version })

	return db.write(ctx, func(tx *Tx) error {
		if db.dialect.name() == "postgres" {
			// Several processes may start at once: one migrates, the others wait.
			if _, err := tx.exec(ctx, `SELECT pg_advisory_xact_lock(7346211)`); err != nil {
				return err
			}
		}
		if _, err := tx.exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`); err != nil {
			return fmt.Errorf("schema_migrations: %w", err)
		}
		applied := map[int]bool{}
		rows, err := tx.query(ctx, `SELECT version FROM schema_migrations`)
		if err != nil {
			return err
		}
		for rows.Next() {
			var v int
			if err := rows.Scan(&v); err != nil {
				rows.Close()
				return err
			}
			applied[v] = true
		}
		rows.Close()
		for _, m := range migs {
			if applied[m.version] {
				continue
			}
			body, err := fs.ReadFile(migrationsFS, dir+"/"+m.name)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, string(body)); err != nil {
				return fmt.Errorf("migration %s: %w", m.name, err)
			}
			if _, err := tx.exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`, m.version, m.name, tx.now.Format(time.RFC3339)); err != nil {
				return err
			}
		}
		return nil
	})
}

// SchemaVersion returns the highest applied migration.
func (db *DB) SchemaVersion(ctx context.Context) (int, error) {
	var v sql.NullInt64
	err := db.read(ctx, func(tx *Tx) error {
		return tx.queryRow(ctx, `SELECT MAX(version) FROM schema_migrations`).Scan(&v)
	})
	return int(v.Int64), err
}

// Columns lists table → sorted column names, for the schema-parity test.
func (db *DB) Columns(ctx context.Context) (map[string][]string, error) {
	out := map[string][]string{}
	err := db.read(ctx, func(tx *Tx) error {
		rows, err := tx.query(ctx, db.dialect.(interface{ columnsQuery() string }).columnsQuery())
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var t, c string
			if err := rows.Scan(&t, &c); err != nil {
				return err
			}
			out[t] = append(out[t], c)
		}
		return rows.Err()
	})
	for _, cols := range out {
		sort.Strings(cols)
	}
	return out, err
}

// notFound is the error for a missing row of the given thing.
func notFound(what string) error {
	return herald.Errorf(herald.ENOTFOUND, "%s not found.", what)
}

func isNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }

// placeholders returns "?, ?, ?" for n values.
func placeholders(n int) string {
	if n <= 0 {
		return ""
	}
	return strings.Repeat("?, ", n-1) + "?"
}

func nullTime(t sql.NullTime) *time.Time {
	if !t.Valid {
		return nil
	}
	u := t.Time.UTC()
	return &u
}

// Transaction primitives for the packages that keep their own tables in
// the store's database (integrations) and run their SQL in its
// transactions. SQL is written with ? placeholders (rebound for
// PostgreSQL); driver errors come back as domain errors.

// Exec runs a statement in the transaction.
func (tx *Tx) Exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return tx.exec(ctx, query, args...)
}

// Query runs a query in the transaction.
func (tx *Tx) Query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return tx.query(ctx, query, args...)
}

// Row is the result of QueryRow.
type Row interface{ Scan(dest ...any) error }

// QueryRow runs a query that returns at most one row.
func (tx *Tx) QueryRow(ctx context.Context, query string, args ...any) Row {
	return tx.queryRow(ctx, query, args...)
}

// Now is the transaction's fixed "now".
func (tx *Tx) Now() time.Time { return tx.now }

// Dialect names the database: "sqlite" or "postgres".
func (tx *Tx) Dialect() string { return tx.db.dialect.name() }

// DB is the store the transaction belongs to.
func (tx *Tx) DB() *DB { return tx.db }

// AfterCommit runs fn once the transaction has committed.
func (tx *Tx) AfterCommit(fn func()) { tx.afterCommit(fn) }

// Write runs fn in a read-write transaction and commits it if fn succeeds
// (events it appended included).
func (db *DB) Write(ctx context.Context, fn func(*Tx) error) error { return db.write(ctx, fn) }

// Read runs fn in a read-only transaction.
func (db *DB) Read(ctx context.Context, fn func(*Tx) error) error { return db.read(ctx, fn) }

// IsNoRows reports whether err says a query found no row.
func IsNoRows(err error) bool { return isNoRows(err) }

// Placeholders returns "?, ?, ?" for n values.
func Placeholders(n int) string { return placeholders(n) }

// KeyedHash returns the HMAC-SHA256 of the concatenated parts under the
// installation secret: integrations derive their own keys and identifiers
// with it without holding the secret.
func (db *DB) KeyedHash(parts ...string) []byte {
	m := hmac.New(sha256.New, db.secret)
	for _, p := range parts {
		m.Write([]byte(p))
	}
	return m.Sum(nil)
}
