package sqlstore

// References without foreign keys. On PostgreSQL, subscriptions and
// consent events name their subscriber (and a subscription its list)
// without a foreign key (migration 0005: the per-row checks were half of
// an import's time); SQLite keeps the keys. The code keeps the references
// instead, as follows.

import (
	"context"
	"strings"
)

// ref is a row a new row refers to: its table and id.
type ref struct {
	table string // "subscribers" or "lists"
	id    int64
}

// insertRef adds one row that refers to refs and reports whether it was
// added. On SQLite it is a plain INSERT, whose foreign keys check the
// references. On PostgreSQL it is an INSERT … SELECT that reads the
// referenced rows FOR KEY SHARE, the lock a foreign key takes (so an
// erasure waits for this transaction, or this statement for the erasure),
// and adds nothing when one of them is gone. types are the columns'
// PostgreSQL types; tail follows the row (ON CONFLICT …).
func insertRef(ctx context.Context, tx *Tx, table string, cols, types []string, vals []any, tail string, refs ...ref) (bool, error) {
	if tx.db.dialect.name() != "postgres" {
		_, err := tx.exec(ctx, `INSERT INTO `+table+` (`+strings.Join(cols, ", ")+`) VALUES (`+placeholders(len(cols))+`)`+tail, vals...)
		return err == nil, err
	}
	var sel, from, where, lock []string
	for _, t := range types {
		sel = append(sel, "?::"+t)
	}
	args := append([]any(nil), vals...)
	for i, r := range refs {
		alias := "r" + string(rune('0'+i))
		from = append(from, r.table+" "+alias)
		where = append(where, alias+".id = ?")
		lock = append(lock, alias)
		args = append(args, r.id)
	}
	q := `INSERT INTO ` + table + ` (` + strings.Join(cols, ", ") + `) SELECT ` + strings.Join(sel, ", ") +
		` FROM ` + strings.Join(from, ", ") + ` WHERE ` + strings.Join(where, " AND ") +
		` FOR KEY SHARE OF ` + strings.Join(lock, ", ") + tail
	res, err := tx.exec(ctx, q, args...)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// refGone is the error for a row whose subscriber or list was deleted
// (erased) while it was being written.
func refGone(refs ...ref) error {
	for _, r := range refs {
		if r.table == "lists" {
			return notFound("Subscriber or list")
		}
	}
	return notFound("Subscriber")
}

// CountOrphans counts subscriptions and consent events whose subscriber or
// list no longer exists, by table: always none, unless the code that keeps
// these references (see insertRef) has a hole. For tests and checks.
func (db *DB) CountOrphans(ctx context.Context) (map[string]int, error) {
	out := map[string]int{}
	err := db.read(ctx, func(tx *Tx) error {
		for name, q := range map[string]string{
			"subscriptions without subscriber":  `SELECT COUNT(*) FROM subscriptions x WHERE NOT EXISTS (SELECT 1 FROM subscribers s WHERE s.id = x.subscriber_id)`,
			"subscriptions without list":        `SELECT COUNT(*) FROM subscriptions x WHERE NOT EXISTS (SELECT 1 FROM lists l WHERE l.id = x.list_id)`,
			"consent events without subscriber": `SELECT COUNT(*) FROM consent_events x WHERE NOT EXISTS (SELECT 1 FROM subscribers s WHERE s.id = x.subscriber_id)`,
		} {
			var n int
			if err := tx.queryRow(ctx, q).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				out[name] = n
			}
		}
		return nil
	})
	return out, err
}
