package mcstore

import (
	"context"
	"github.com/heraldhq/herald/internal/sqlstore"
	"time"
)

// AcquireMailchimpSlot leases one of the account's 10 Mailchimp
// connections (the rows of mailchimp_slots) to holder until lease has
// passed, so that every Herald process sharing the database keeps, with
// the others, to Mailchimp's limit. ok is false when all ten are leased.
// holder must be unique to the lease (a process id and a job id).
func (db *Store) AcquireMailchimpSlot(ctx context.Context, holder string, lease time.Duration) (slot int, ok bool, err error) {
	err = db.write(ctx, func(tx *sqlstore.Tx) error {
		ok = false
		lock := ""
		if tx.Dialect() == "postgres" {
			lock = ` FOR UPDATE SKIP LOCKED`
		}
		now := tx.Now().UnixMilli()
		err := tx.QueryRow(ctx, `SELECT slot FROM mailchimp_slots WHERE until < ? ORDER BY slot LIMIT 1`+lock, now).Scan(&slot)
		if sqlstore.IsNoRows(err) {
			return nil
		} else if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE mailchimp_slots SET holder = ?, until = ? WHERE slot = ?`,
			holder, now+lease.Milliseconds(), slot); err != nil {
			return err
		}
		ok = true
		return nil
	})
	return slot, ok, err
}

// ReleaseMailchimpSlot ends holder's lease of slot (if it still holds it).
func (db *Store) ReleaseMailchimpSlot(ctx context.Context, slot int, holder string) error {
	return db.write(ctx, func(tx *sqlstore.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE mailchimp_slots SET holder = '', until = 0 WHERE slot = ? AND holder = ?`, slot, holder)
		return err
	})
}
