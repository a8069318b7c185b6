package sqlstore

import (
	"context"
	"time"
)

// AcquireMailchimpSlot leases one of the account's 10 Mailchimp
// connections (the rows of mailchimp_slots) to holder until lease has
// passed, so that every Herald process sharing the database keeps, with
// the others, to Mailchimp's limit. ok is false when all ten are leased.
// holder must be unique to the lease (a process id and a job id).
func (db *DB) AcquireMailchimpSlot(ctx context.Context, holder string, lease time.Duration) (slot int, ok bool, err error) {
	err = db.write(ctx, func(tx *Tx) error {
		ok = false
		lock := ""
		if tx.db.dialect.name() == "postgres" {
			lock = ` FOR UPDATE SKIP LOCKED`
		}
		now := tx.now.UnixMilli()
		err := tx.queryRow(ctx, `SELECT slot FROM mailchimp_slots WHERE until < ? ORDER BY slot LIMIT 1`+lock, now).Scan(&slot)
		if isNoRows(err) {
			return nil
		} else if err != nil {
			return err
		}
		if _, err := tx.exec(ctx, `UPDATE mailchimp_slots SET holder = ?, until = ? WHERE slot = ?`,
			holder, now+lease.Milliseconds(), slot); err != nil {
			return err
		}
		ok = true
		return nil
	})
	return slot, ok, err
}

// ReleaseMailchimpSlot ends holder's lease of slot (if it still holds it).
func (db *DB) ReleaseMailchimpSlot(ctx context.Context, slot int, holder string) error {
	return db.write(ctx, func(tx *Tx) error {
		_, err := tx.exec(ctx, `UPDATE mailchimp_slots SET holder = '', until = 0 WHERE slot = ? AND holder = ?`, slot, holder)
		return err
	})
}
