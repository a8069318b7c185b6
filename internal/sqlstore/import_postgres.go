package sqlstore

// PostgreSQL's side of bulk import: a statement takes one array per column
// (INSERT … SELECT FROM unnest(…)) rather than thousands of parameters,
// which costs the client a fraction of the encoding and the server of the
// parsing, and lookups take an array (= ANY(…)).

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/stdlib"
)

// copyFunc appends rows to a table with COPY.
type copyFunc func(ctx context.Context, table string, cols []string, rows [][]any) error

// writeOn is write on one connection of the pool (which the caller holds,
// so that copyRows can reach the same transaction).
func (db *DB) writeOn(ctx context.Context, conn *sql.Conn, fn func(*Tx) error) error {
	sqlTx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", db.dialect.translate(err))
	}
	tx := &Tx{Tx: sqlTx, db: db, now: db.Now(), write: true}
	if err := fn(tx); err != nil {
		_ = sqlTx.Rollback()
		return err
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

// copyRows appends rows to table with COPY … FROM STDIN (binary) on conn,
// inside the transaction open on it: the cheapest way into PostgreSQL, for
// rows that cannot conflict with any.
func copyRows(ctx context.Context, conn *sql.Conn, table string, cols []string, rows [][]any) error {
	if len(rows) == 0 {
		return nil
	}
	return conn.Raw(func(dc any) error {
		sc, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("copy: %T is not a pgx connection", dc)
		}
		n, err := sc.Conn().CopyFrom(ctx, pgx.Identifier{table}, cols, pgx.CopyFromRows(rows))
		if err != nil {
			return postgresDialect{}.translate(err)
		}
		if int(n) != len(rows) {
			return fmt.Errorf("copy into %s: %d of %d rows", table, n, len(rows))
		}
		return nil
	})
}

// unnestSQL is "SELECT * FROM unnest(?::text[], ?::int8[], …)".
func unnestSQL(types []string) string {
	var b strings.Builder
	b.WriteString(" SELECT * FROM unnest(")
	for i, t := range types {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("?::" + t + "[]")
	}
	b.WriteString(")")
	return b.String()
}

// columnArrays turns row-major values into one typed slice per column.
func columnArrays(types []string, args []any) ([]any, error) {
	cols := len(types)
	n := len(args) / cols
	out := make([]any, cols)
	for c, t := range types {
		switch t {
		case "text":
			a := make([]string, n)
			for r := 0; r < n; r++ {
				s, ok := args[r*cols+c].(string)
				if !ok {
					return nil, fmt.Errorf("column %d: %T is not text", c, args[r*cols+c])
				}
				a[r] = s
			}
			out[c] = a
		case "int8":
			a := make([]int64, n)
			for r := 0; r < n; r++ {
				v, ok := args[r*cols+c].(int64)
				if !ok {
					return nil, fmt.Errorf("column %d: %T is not int8", c, args[r*cols+c])
				}
				a[r] = v
			}
			out[c] = a
		case "timestamptz":
			a := make([]pgtype.Timestamptz, n)
			for r := 0; r < n; r++ {
				switch v := args[r*cols+c].(type) {
				case time.Time:
					a[r] = pgtype.Timestamptz{Time: v, Valid: true}
				case nil:
				default:
					return nil, fmt.Errorf("column %d: %T is not a time", c, v)
				}
			}
			out[c] = a
		default:
			return nil, fmt.Errorf("unnest: unknown type %q", t)
		}
	}
	return out, nil
}

// inSQL is "col IN (?, …)" with the values as arguments on SQLite, and
// "col = ANY(?::text[])" (or int8[]) with one array on PostgreSQL. Many
// values on SQLite go as one JSON array instead ("col IN (SELECT value
// FROM json_each(?))"): a statement of thousands of parameters costs more
// to prepare and bind than to run, and SQLite takes at most 32766.
func (tx *Tx) inSQL(col string, vals []any) (string, []any) {
	if tx.db.dialect.name() != "postgres" || len(vals) == 0 {
		if len(vals) <= 500 {
			return col + ` IN (` + placeholders(len(vals)) + `)`, vals
		}
		return col + ` IN (SELECT value FROM json_each(?))`, []any{jsonArray(vals)}
	}
	switch vals[0].(type) {
	case int64:
		a := make([]int64, len(vals))
		for i, v := range vals {
			a[i] = v.(int64)
		}
		return col + ` = ANY(?::int8[])`, []any{a}
	default:
		a := make([]string, len(vals))
		for i, v := range vals {
			a[i], _ = v.(string)
		}
		return col + ` = ANY(?::text[])`, []any{a}
	}
}

// jsonArray is vals (int64s or strings) as a JSON array.
func jsonArray(vals []any) string {
	b := make([]byte, 0, 16*len(vals))
	b = append(b, '[')
	for i, v := range vals {
		if i > 0 {
			b = append(b, ',')
		}
		switch v := v.(type) {
		case int64:
			b = strconv.AppendInt(b, v, 10)
		case string:
			b = appendJSONString(b, v)
		default:
			panic(fmt.Sprintf("jsonArray: %T", v))
		}
	}
	return string(append(b, ']'))
}
