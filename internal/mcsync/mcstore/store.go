// Package mcstore is the Mailchimp integration's part of Herald's
// database: the account connection (its API key sealed at rest), the
// lists connected to audiences, the sync jobs and their ordering keys, the
// connection slots shared by processes, webhook reconciliation, and the
// consumer that turns domain events into sync jobs. Its SQL runs in the
// store's transactions (sqlstore.Tx) over the tables of migrations 0003
// and 0006; the store itself knows nothing of Mailchimp.
package mcstore

import (
	"context"
	"database/sql"
	"strings"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/sqlstore"
)

// Store reads and writes Mailchimp's tables.
type Store struct {
	DB *sqlstore.DB
}

// New returns the Mailchimp tables of db.
func New(db *sqlstore.DB) *Store { return &Store{DB: db} }

func (db *Store) read(ctx context.Context, fn func(*sqlstore.Tx) error) error {
	return db.DB.Read(ctx, fn)
}

func (db *Store) write(ctx context.Context, fn func(*sqlstore.Tx) error) error {
	return db.DB.Write(ctx, fn)
}

// mac is an HMAC-SHA256 of parts under the installation secret.
func (db *Store) mac(parts ...string) []byte { return db.DB.KeyedHash(parts...) }

func notFound(what string) error {
	return herald.Errorf(herald.ENOTFOUND, "%s not found.", what)
}

func nullTime(t sql.NullTime) *time.Time {
	if !t.Valid {
		return nil
	}
	u := t.Time.UTC()
	return &u
}

// clip shortens s to at most n bytes, on a rune boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for len(s) > 0 && s[len(s)-1]&0xC0 == 0x80 {
		s = s[:len(s)-1]
	}
	return strings.ToValidUTF8(s, "")
}

func scanIDs(rows *sql.Rows) ([]int64, error) {
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}
