package sqlstore

import (
	"database/sql"
	"errors"
	"strconv"
	"strings"

	"github.com/heraldhq/herald"
	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
)

type postgresDialect struct{}

func (postgresDialect) name() string        { return "postgres" }
func (postgresDialect) claimSuffix() string { return " FOR UPDATE SKIP LOCKED" }
func (postgresDialect) columnsQuery() string {
	return `SELECT table_name, column_name FROM information_schema.columns
		WHERE table_schema = current_schema()`
}

// rebind rewrites ? placeholders to $1, $2, … (our SQL has no ? in literals).
func (postgresDialect) rebind(q string) string {
	if !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 16)
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}

func (postgresDialect) translate(err error) error {
	var pe *pgconn.PgError
	if err == nil || !errors.As(err, &pe) {
		return err
	}
	switch pe.Code {
	case "23505":
		return &herald.Error{Code: herald.ECONFLICT, Message: "It already exists."}
	case "23503":
		return &herald.Error{Code: herald.ECONFLICT, Message: "It is still referenced."}
	case "23514", "22P02", "22021", "22001":
		return &herald.Error{Code: herald.EINVALID, Message: "A value is out of range or not valid text."}
	}
	return err
}

func openPostgres(db *DB, url string) error {
	p, err := sql.Open("pgx", url)
	if err != nil {
		return err
	}
	p.SetMaxOpenConns(20)
	p.SetMaxIdleConns(20)
	db.w, db.r, db.dialect = p, p, postgresDialect{}
	return nil
}
