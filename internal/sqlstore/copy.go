package sqlstore

// Copying a SQLite installation into PostgreSQL (herald migrate-to). The
// tables are read from SQLite's own schema rather than from a list kept
// here, so a table added by a later migration is copied without a change
// to this file. Each value is converted by the type of the target column
// as PostgreSQL reports it (SQLite keeps booleans as integers and
// timestamps as text), and each table goes in with one COPY, all inside
// one transaction: a failure leaves the target as empty as it was.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// CopyProgress reports a copy's advance through one table.
type CopyProgress struct {
	Table          string
	Index, Tables  int   // the table's place (1-based) among Tables
	Rows, Of       int64 // rows copied of the table's Of
	Done           bool  // the table is complete
	TableStartedAt time.Time
}

// TableCopy is the result for one table: rows in the source snapshot and
// in the target after the copy.
type TableCopy struct {
	Table          string
	Source, Target int64
}

// CopyToPostgres copies every table of the SQLite database src into the
// PostgreSQL database dst: dst is migrated first and must hold no data
// (beyond what migrations put there) and, if already migrated, be at src's
// schema version. The source is read in one snapshot. Identity sequences
// are moved past the copied ids, and the row counts are compared at the
// end.
func CopyToPostgres(ctx context.Context, src, dst *DB, progress func(CopyProgress)) ([]TableCopy, error) {
	if src.dialect.name() != "sqlite" || dst.dialect.name() != "postgres" {
		return nil, errors.New("migrate-to copies a SQLite database into a PostgreSQL one")
	}
	if progress == nil {
		progress = func(CopyProgress) {}
	}
	srcVersion, err := src.SchemaVersion(ctx)
	if err != nil {
		return nil, fmt.Errorf("source schema version: %w", err)
	}
	var hasMigrations bool
	if err := dst.w.QueryRowContext(ctx, `SELECT to_regclass('schema_migrations') IS NOT NULL`).Scan(&hasMigrations); err != nil {
		return nil, fmt.Errorf("target: %w", err)
	}
	if hasMigrations {
		v, err := dst.SchemaVersion(ctx)
		if err != nil {
			return nil, fmt.Errorf("target schema version: %w", err)
		}
		if v != srcVersion {
			return nil, fmt.Errorf("the target database is at schema version %d, the SQLite database at %d: copy only into an empty database", v, srcVersion)
		}
	} else if tables, err := dst.Tables(ctx); err != nil {
		return nil, fmt.Errorf("target: %w", err)
	} else if len(tables) > 0 {
		return nil, fmt.Errorf("the target schema holds tables (%s) but no Herald schema_migrations: copy only into an empty database or schema", strings.Join(tables, ", "))
	}
	if err := dst.Migrate(ctx); err != nil {
		return nil, fmt.Errorf("migrating the target: %w", err)
	}
	if v, err := dst.SchemaVersion(ctx); err != nil || v != srcVersion {
		return nil, fmt.Errorf("after migrating, the target is at schema version %d and the source at %d (%v): run `herald migrate` on the SQLite database with this herald first", v, srcVersion, err)
	}
	seeded, err := seededCounts(ctx)
	if err != nil {
		return nil, err
	}
	dstCounts, err := dst.TableCounts(ctx)
	if err != nil {
		return nil, err
	}
	var full []string
	for t, n := range dstCounts {
		if t != "schema_migrations" && n > seeded[t] {
			full = append(full, fmt.Sprintf("%s (%d rows)", t, n))
		}
	}
	if len(full) > 0 {
		sort.Strings(full)
		return nil, fmt.Errorf("the target database is not empty: %s; migrate-to copies only into an empty database", strings.Join(full, ", "))
	}
	types, err := dst.columnTypes(ctx)
	if err != nil {
		return nil, err
	}

	// One snapshot of the source for every table.
	srcTx, err := src.r.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer srcTx.Rollback()
	tables, err := copyOrder(ctx, srcTx)
	if err != nil {
		return nil, err
	}
	conn, err := dst.w.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	var result []TableCopy
	err = dst.writeOn(ctx, conn, func(tx *Tx) error {
		for i, t := range tables {
			if seeded[t] > 0 {
				// Rows a migration put there are replaced by the source's.
				if _, err := tx.ExecContext(ctx, `DELETE FROM `+quoteIdent(t)); err != nil {
					return fmt.Errorf("%s: %w", t, err)
				}
			}
			n, err := copyTable(ctx, srcTx, conn, t, types[t], func(rows, of int64, done bool, started time.Time) {
				progress(CopyProgress{Table: t, Index: i + 1, Tables: len(tables), Rows: rows, Of: of, Done: done, TableStartedAt: started})
			})
			if err != nil {
				return fmt.Errorf("copying %s: %w", t, err)
			}
			result = append(result, TableCopy{Table: t, Source: n})
		}
		return resetSequences(ctx, tx)
	})
	if err != nil {
		return nil, err
	}
	after, err := dst.TableCounts(ctx)
	if err != nil {
		return result, fmt.Errorf("counting the target: %w", err)
	}
	var bad []string
	for i := range result {
		result[i].Target = after[result[i].Table]
		if result[i].Target != result[i].Source {
			bad = append(bad, fmt.Sprintf("%s: %d in SQLite, %d in PostgreSQL", result[i].Table, result[i].Source, result[i].Target))
		}
	}
	if len(bad) > 0 {
		return result, fmt.Errorf("row counts differ after the copy: %s", strings.Join(bad, "; "))
	}
	return result, nil
}

// seededCounts is the number of rows each table holds right after the
// migrations ran on a new database (a few tables are filled by them),
// found by migrating a throwaway SQLite file.
func seededCounts(ctx context.Context) (map[string]int64, error) {
	dir, err := os.MkdirTemp("", "herald-seeded-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	db, err := Open(ctx, "sqlite:"+filepath.Join(dir, "fresh.db"))
	if err != nil {
		return nil, err
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		return nil, err
	}
	return db.TableCounts(ctx)
}

// columnTypes maps table → column → PostgreSQL data type.
func (db *DB) columnTypes(ctx context.Context) (map[string]map[string]string, error) {
	rows, err := db.w.QueryContext(ctx, `SELECT table_name, column_name, data_type FROM information_schema.columns WHERE table_schema = current_schema()`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]map[string]string{}
	for rows.Next() {
		var t, c, typ string
		if err := rows.Scan(&t, &c, &typ); err != nil {
			return nil, err
		}
		if out[t] == nil {
			out[t] = map[string]string{}
		}
		out[t][c] = typ
	}
	return out, rows.Err()
}

// copyOrder lists the SQLite tables (schema_migrations aside: the target
// has its own) so that every table comes after the tables it references.
func copyOrder(ctx context.Context, tx *sql.Tx) ([]string, error) {
	rows, err := tx.QueryContext(ctx, `SELECT m.name, COALESCE(f."table", '') FROM sqlite_master m LEFT JOIN pragma_foreign_key_list(m.name) f
		WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name <> 'schema_migrations' ORDER BY m.name`)
	if err != nil {
		return nil, err
	}
	deps := map[string][]string{}
	var names []string
	for rows.Next() {
		var t, ref string
		if err := rows.Scan(&t, &ref); err != nil {
			rows.Close()
			return nil, err
		}
		if _, ok := deps[t]; !ok {
			names = append(names, t)
			deps[t] = nil
		}
		if ref != "" && ref != t {
			deps[t] = append(deps[t], ref)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var order []string
	state := map[string]int{} // 1 visiting, 2 done
	var visit func(t string, path []string) error
	visit = func(t string, path []string) error {
		switch state[t] {
		case 2:
			return nil
		case 1:
			return fmt.Errorf("tables reference each other in a cycle (%s): no order to copy them in", strings.Join(append(path, t), " → "))
		}
		state[t] = 1
		for _, d := range deps[t] {
			if _, known := deps[d]; known {
				if err := visit(d, append(path, t)); err != nil {
					return err
				}
			}
		}
		state[t] = 2
		order = append(order, t)
		return nil
	}
	for _, t := range names {
		if err := visit(t, nil); err != nil {
			return nil, err
		}
	}
	return order, nil
}

// copyTable streams one table from the SQLite snapshot into PostgreSQL
// with COPY, converting each value to its target column's type.
func copyTable(ctx context.Context, src *sql.Tx, conn *sql.Conn, table string, types map[string]string, progress func(rows, of int64, done bool, started time.Time)) (int64, error) {
	if types == nil {
		return 0, fmt.Errorf("PostgreSQL has no table %s: the two schemas differ", table)
	}
	started := time.Now()
	var total int64
	if err := src.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+quoteIdent(table)).Scan(&total); err != nil {
		return 0, err
	}
	progress(0, total, false, started)
	rows, err := src.QueryContext(ctx, `SELECT * FROM `+quoteIdent(table))
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return 0, err
	}
	conv := make([]func(any) (any, error), len(cols))
	for i, c := range cols {
		typ, ok := types[c]
		if !ok {
			return 0, fmt.Errorf("PostgreSQL's %s has no column %s: the two schemas differ", table, c)
		}
		conv[i] = converter(typ)
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var n int64
	next := func() ([]any, error) {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		out := make([]any, len(cols))
		for i, v := range vals {
			c, err := conv[i](v)
			if err != nil {
				return nil, fmt.Errorf("row %d, column %s: %w", n+1, cols[i], err)
			}
			out[i] = c
		}
		n++
		if n%5000 == 0 {
			progress(n, total, false, started)
		}
		return out, nil
	}
	var copied int64
	err = conn.Raw(func(dc any) error {
		sc, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("copy: %T is not a pgx connection", dc)
		}
		var err error
		copied, err = sc.Conn().CopyFrom(ctx, pgx.Identifier{table}, cols, &rowSource{rows: rows, next: next})
		return err
	})
	if err != nil {
		return 0, err
	}
	if err := rows.Err(); err != nil {
		return 0, err
	}
	if copied != n || n != total {
		return 0, fmt.Errorf("%d rows read of %d, %d copied", n, total, copied)
	}
	progress(n, total, true, started)
	return n, nil
}

// rowSource feeds pgx's CopyFrom from a *sql.Rows.
type rowSource struct {
	rows *sql.Rows
	next func() ([]any, error)
	vals []any
	err  error
}

func (s *rowSource) Next() bool {
	if s.err != nil || !s.rows.Next() {
		return false
	}
	s.vals, s.err = s.next()
	return s.err == nil
}
func (s *rowSource) Values() ([]any, error) { return s.vals, s.err }
func (s *rowSource) Err() error {
	if s.err != nil {
		return s.err
	}
	return s.rows.Err()
}

// timeLayouts are the forms a timestamp takes in Herald's SQLite files.
var timeLayouts = []string{
	"2006-01-02 15:04:05.999999999-07:00",
	time.RFC3339Nano,
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02",
}

// converter returns the conversion of a SQLite value into one for a
// PostgreSQL column of data type typ (as information_schema names it).
func converter(typ string) func(any) (any, error) {
	switch typ {
	case "boolean":
		return func(v any) (any, error) {
			switch x := v.(type) {
			case nil, bool:
				return x, nil
			case int64:
				return x != 0, nil
			case float64:
				return x != 0, nil
			case string:
				return strconv.ParseBool(strings.ToLower(strings.TrimSpace(x)))
			case []byte:
				return strconv.ParseBool(strings.ToLower(strings.TrimSpace(string(x))))
			}
			return nil, fmt.Errorf("%T %v is not a boolean", v, v)
		}
	case "timestamp with time zone", "timestamp without time zone", "date":
		return func(v any) (any, error) {
			switch x := v.(type) {
			case nil:
				return nil, nil
			case time.Time:
				return x.UTC(), nil
			case int64:
				return time.Unix(x, 0).UTC(), nil
			case string, []byte:
				s := strings.TrimSpace(fmt.Sprint(asString(x)))
				for _, l := range timeLayouts {
					if t, err := time.Parse(l, s); err == nil {
						return t.UTC(), nil
					}
				}
				return nil, fmt.Errorf("%q is not a timestamp", s)
			}
			return nil, fmt.Errorf("%T %v is not a timestamp", v, v)
		}
	case "bigint", "integer", "smallint":
		return func(v any) (any, error) {
			switch x := v.(type) {
			case nil, int64:
				return x, nil
			case bool:
				if x {
					return int64(1), nil
				}
				return int64(0), nil
			case float64:
				if x != math.Trunc(x) {
					return nil, fmt.Errorf("%v is not an integer", x)
				}
				return int64(x), nil
			case string, []byte:
				return strconv.ParseInt(strings.TrimSpace(asString(x)), 10, 64)
			}
			return nil, fmt.Errorf("%T %v is not an integer", v, v)
		}
	case "double precision", "real", "numeric":
		return func(v any) (any, error) {
			switch x := v.(type) {
			case nil, float64:
				return x, nil
			case int64:
				return float64(x), nil
			case string, []byte:
				return strconv.ParseFloat(strings.TrimSpace(asString(x)), 64)
			}
			return nil, fmt.Errorf("%T %v is not a number", v, v)
		}
	case "bytea":
		return func(v any) (any, error) {
			switch x := v.(type) {
			case nil, []byte:
				return x, nil
			case string:
				return []byte(x), nil
			}
			return nil, fmt.Errorf("%T is not bytes", v)
		}
	}
	// text, character varying, json, jsonb and anything else: text.
	return func(v any) (any, error) {
		switch x := v.(type) {
		case nil, string:
			return x, nil
		case []byte:
			return string(x), nil
		case int64:
			return strconv.FormatInt(x, 10), nil
		case float64:
			return strconv.FormatFloat(x, 'g', -1, 64), nil
		case bool:
			return strconv.FormatBool(x), nil
		case time.Time:
			return x.UTC().Format(time.RFC3339Nano), nil
		}
		return nil, fmt.Errorf("%T %v cannot be text", v, v)
	}
}

func asString(v any) string {
	if b, ok := v.([]byte); ok {
		return string(b)
	}
	return v.(string)
}

// resetSequences moves every identity or serial column's sequence past
// the largest id copied, so that new rows get new ids.
func resetSequences(ctx context.Context, tx *Tx) error {
	rows, err := tx.QueryContext(ctx, `SELECT table_name, column_name FROM information_schema.columns
		WHERE table_schema = current_schema() AND (is_identity = 'YES' OR column_default LIKE 'nextval(%')`)
	if err != nil {
		return err
	}
	type col struct{ table, column string }
	var cols []col
	for rows.Next() {
		var c col
		if err := rows.Scan(&c.table, &c.column); err != nil {
			rows.Close()
			return err
		}
		cols = append(cols, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, c := range cols {
		q := fmt.Sprintf(`SELECT setval(pg_get_serial_sequence($1, $2), COALESCE(MAX(%s), 0) + 1, false) FROM %s`, quoteIdent(c.column), quoteIdent(c.table))
		if _, err := tx.ExecContext(ctx, q, quoteIdent(c.table), c.column); err != nil {
			return fmt.Errorf("resetting the sequence of %s.%s: %w", c.table, c.column, err)
		}
	}
	return nil
}
