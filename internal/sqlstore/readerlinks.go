package sqlstore

import (
	"context"
	"strings"
	"time"
)

// Reader links: the manage and unsubscribe links in mail carry the time
// they were issued (internal/token); revoking a reader's links records a
// time before which none counts. Nothing here is read when a campaign
// makes its links, so the send path makes no query per message.

// JobManageLinkMail is the job kind that mails a reader a fresh link to
// their preferences page.
const JobManageLinkMail = "manage_link_mail"

// ManageLinkMailJob is the payload of a JobManageLinkMail job.
type ManageLinkMailJob struct {
	SubscriberID int64 `json:"subscriber_id"`
}

// LinksRevokedBefore returns the time (Unix milliseconds) at or before
// which the reader's links were revoked; 0 when they never were.
func (db *DB) LinksRevokedBefore(ctx context.Context, subID int64) (int64, error) {
	var ms int64
	err := db.read(ctx, func(tx *Tx) error {
		err := tx.queryRow(ctx, `SELECT revoked_before FROM reader_links WHERE subscriber_id = ?`, subID).Scan(&ms)
		if isNoRows(err) {
			ms = 0
			return nil
		}
		return err
	})
	return ms, err
}

// RevokeLinks makes every manage and unsubscribe link issued to the reader
// until now stop opening their pages (unsubscribe links still
// unsubscribe), and returns the time of revocation. When mail is set, a
// fresh manage link is queued to the reader in the same transaction.
func (db *DB) RevokeLinks(ctx context.Context, subID int64, mail bool) (time.Time, error) {
	var at time.Time
	err := db.write(ctx, func(tx *Tx) error {
		var n int
		if err := tx.queryRow(ctx, `SELECT COUNT(*) FROM subscribers WHERE id = ?`, subID).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return notFound("Subscriber")
		}
		at = tx.now
		ms := tx.now.UnixMilli()
		mailed := int64(0)
		if mail {
			mailed = ms
		}
		if _, err := tx.exec(ctx, `INSERT INTO reader_links (subscriber_id, revoked_before, mailed_at) VALUES (?, ?, ?)
			ON CONFLICT (subscriber_id) DO UPDATE SET revoked_before = excluded.revoked_before,
				mailed_at = CASE WHEN excluded.mailed_at > 0 THEN excluded.mailed_at ELSE reader_links.mailed_at END`, subID, ms, mailed); err != nil {
			return err
		}
		if mail {
			return enqueue(ctx, tx, JobManageLinkMail, ManageLinkMailJob{SubscriberID: subID}, tx.now)
		}
		return nil
	})
	return at, err
}

// RequestManageLink queues a mail with a fresh manage link to the reader
// with this address, unless one was queued within window or the address is
// unknown or suppressed. It says nothing about which happened: the caller
// gives every requester the same answer.
func (db *DB) RequestManageLink(ctx context.Context, email string, window time.Duration) error {
	key := strings.ToLower(strings.TrimSpace(email))
	if key == "" || len(key) > 320 {
		return nil
	}
	return db.write(ctx, func(tx *Tx) error {
		var id int64
		err := tx.queryRow(ctx, `SELECT id FROM subscribers WHERE email_key = ?`, key).Scan(&id)
		if isNoRows(err) {
			return nil
		} else if err != nil {
			return err
		}
		if suppressed, err := isSuppressed(ctx, tx, key); err != nil || suppressed {
			return err
		}
		var mailed int64
		err = tx.queryRow(ctx, `SELECT mailed_at FROM reader_links WHERE subscriber_id = ?`, id).Scan(&mailed)
		if err != nil && !isNoRows(err) {
			return err
		}
		ms := tx.now.UnixMilli()
		if mailed > 0 && ms-mailed < window.Milliseconds() {
			return nil
		}
		if _, err := tx.exec(ctx, `INSERT INTO reader_links (subscriber_id, mailed_at) VALUES (?, ?)
			ON CONFLICT (subscriber_id) DO UPDATE SET mailed_at = excluded.mailed_at`, id, ms); err != nil {
			return err
		}
		return enqueue(ctx, tx, JobManageLinkMail, ManageLinkMailJob{SubscriberID: id}, tx.now)
	})
}
