package sqlstore

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// SeedSubscribers adds n confirmed subscribers of the list with the given
// slug, as fast as the database takes them (multi-row INSERTs, a few
// thousand rows per transaction), for benchmarks and load tests. Addresses
// are prefix-0000001@bench.example.com and so on; no consent events are
// written, so this is not for real data.
func (db *DB) SeedSubscribers(ctx context.Context, listSlug string, n int, prefix string) error {
	var listID, before int64
	err := db.read(ctx, func(tx *Tx) error {
		if err := tx.queryRow(ctx, `SELECT id FROM lists WHERE slug = ?`, listSlug).Scan(&listID); err != nil {
			if isNoRows(err) {
				return notFound("List")
			}
			return err
		}
		return tx.queryRow(ctx, `SELECT COALESCE(MAX(id), 0) FROM subscribers`).Scan(&before)
	})
	if err != nil {
		return err
	}
	const perStmt, perTx = 500, 10000
	now := db.Now()
	var q strings.Builder
	args := make([]any, 0, perStmt*4)
	for done := 0; done < n; {
		err := db.write(ctx, func(tx *Tx) error {
			for end := min(n, done+perTx); done < end; {
				k := min(perStmt, end-done)
				q.Reset()
				q.WriteString(`INSERT INTO subscribers (email, email_key, name, attributes, created_at, updated_at) VALUES `)
				args = args[:0]
				for i := range k {
					if i > 0 {
						q.WriteString(", ")
					}
					q.WriteString("(?, ?, ?, '{}', ?, ?)")
					email := prefix + "-" + fmt.Sprintf("%07d", done+i+1) + "@bench.example.com"
					args = append(args, email, email, "Reader "+strconv.Itoa(done+i+1), now, now)
				}
				if _, err := tx.ExecContext(ctx, tx.db.q(q.String()), args...); err != nil {
					return tx.db.dialect.translate(err)
				}
				done += k
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return db.write(ctx, func(tx *Tx) error {
		_, err := tx.exec(ctx, `INSERT INTO subscriptions (subscriber_id, list_id, status, created_at, updated_at, confirmed_at)
			SELECT id, ?, 'confirmed', ?, ?, ? FROM subscribers WHERE id > ?`, listID, now, now, now, before)
		return err
	})
}
