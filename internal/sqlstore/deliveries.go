package sqlstore

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/base32"
	"encoding/binary"
	"strings"
	"time"

	"github.com/heraldhq/herald"
)

// The delivery ledger of running campaigns.
//
// First pass: the recipients of a campaign are handed out in ranges of
// subscriber ids (delivery_batches). Claiming a range moves the campaign's
// claim_cursor past it and records the range with a lease; the rows stay
// 'pending' until their outcome is written, once. When a sender dies, its
// ranges' leases run out and the next claimer takes the range over and
// sends to the rows still pending in it: only the messages in flight at
// the crash (sent, outcome not yet written) can go out twice.
//
// Retries: a temporary failure puts a row in 'retry' with the time it is
// due. Due rows are claimed row by row ('sending', with next_attempt_at as
// the lease), as they are few.

// ActiveCampaign is what a sender needs to know about a campaign that is
// running or scheduled.
type ActiveCampaign struct {
	ID        int64
	Status    string
	SendAt    *time.Time
	UpdatedAt time.Time
}

// ActiveCampaigns lists running campaigns and scheduled ones that are due.
func (db *DB) ActiveCampaigns(ctx context.Context) ([]ActiveCampaign, error) {
	var out []ActiveCampaign
	err := db.read(ctx, func(tx *Tx) error {
		rows, err := tx.query(ctx, `SELECT id, status, send_at, updated_at FROM campaigns
			WHERE status = 'running' OR (status = 'scheduled' AND (send_at IS NULL OR send_at <= ?)) ORDER BY id`, tx.now)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var a ActiveCampaign
			var sendAt sql.NullTime
			if err := rows.Scan(&a.ID, &a.Status, &sendAt, &a.UpdatedAt); err != nil {
				return err
			}
			a.SendAt, a.UpdatedAt = nullTime(sendAt), a.UpdatedAt.UTC()
			out = append(out, a)
		}
		return rows.Err()
	})
	return out, err
}

// Batch is a claimed range of a campaign's recipients.
type Batch struct {
	ID         int64
	CampaignID int64
	Lo, Hi     int64 // subscriber ids, inclusive
	LeaseToken string
	LeaseUntil time.Time
	Reclaimed  bool // taken over from a sender whose lease ran out
	// Recipients are those of the range still to send, in subscriber
	// order, with their standing at the claim (see BatchRecipients).
	Recipients []Recipient
}

// ClaimBatch leases the next range of at most size recipients of a running
// campaign: first a range whose lease ran out (its sender died or let it
// go), else a fresh one past the claim cursor, and loads its recipients
// still to send (listIDs as for BatchRecipients). It returns nil when there
// is nothing left to claim or the campaign is not running.
//
// The recipients are read in the claim's own transaction: on SQLite that is
// the writer's connection, so a campaign's pages fill one page cache, not
// every reader's — memory stays the same for a million readers as for a
// hundred thousand.
func (db *DB) ClaimBatch(ctx context.Context, campaignID int64, listIDs []int64, size int, lease time.Duration, token string) (*Batch, error) {
	var b *Batch
	err := db.write(ctx, func(tx *Tx) error {
		// Lock the campaign row (PostgreSQL), so that claimers of the same
		// campaign take turns, and check that it runs.
		res, err := tx.exec(ctx, `UPDATE campaigns SET claim_cursor = claim_cursor WHERE id = ? AND status = 'running'`, campaignID)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return err
		}
		until := tx.now.Add(lease)
		var id, lo, hi int64
		err = tx.queryRow(ctx, `SELECT id, lo, hi FROM delivery_batches WHERE campaign_id = ? AND lease_until < ?
			ORDER BY id LIMIT 1`+tx.db.dialect.claimSuffix(), campaignID, tx.now).Scan(&id, &lo, &hi)
		if err == nil {
			if _, err := tx.exec(ctx, `UPDATE delivery_batches SET lease_token = ?, lease_until = ? WHERE id = ?`, token, until, id); err != nil {
				return err
			}
			b = &Batch{ID: id, CampaignID: campaignID, Lo: lo, Hi: hi, LeaseToken: token, LeaseUntil: until, Reclaimed: true}
			return batchRecipients(ctx, tx, b, listIDs)
		} else if !isNoRows(err) {
			return err
		}
		var cursor int64
		if err := tx.queryRow(ctx, `SELECT claim_cursor FROM campaigns WHERE id = ?`, campaignID).Scan(&cursor); err != nil {
			return err
		}
		var last sql.NullInt64
		if err := tx.queryRow(ctx, `SELECT MAX(subscriber_id) FROM (SELECT subscriber_id FROM deliveries
			WHERE campaign_id = ? AND subscriber_id > ? ORDER BY subscriber_id LIMIT ?) t`, campaignID, cursor, size).Scan(&last); err != nil {
			return err
		}
		if !last.Valid {
			return nil
		}
		if _, err := tx.exec(ctx, `UPDATE campaigns SET claim_cursor = ? WHERE id = ?`, last.Int64, campaignID); err != nil {
			return err
		}
		if err := tx.queryRow(ctx, `INSERT INTO delivery_batches (campaign_id, lo, hi, lease_token, lease_until) VALUES (?, ?, ?, ?, ?) RETURNING id`,
			campaignID, cursor+1, last.Int64, token, until).Scan(&id); err != nil {
			return err
		}
		b = &Batch{ID: id, CampaignID: campaignID, Lo: cursor + 1, Hi: last.Int64, LeaseToken: token, LeaseUntil: until}
		return batchRecipients(ctx, tx, b, listIDs)
	})
	return b, err
}

// Recipient is one claimed recipient with what a message to them needs.
// Skip is set (to "unsubscribed", "suppressed" or "erased") when they may
// no longer be sent the campaign: unsubscribes take effect at claim time.
type Recipient struct {
	SubscriberID int64
	Attempts     int
	Email        string
	Name         string
	Attributes   string // JSON object
	Skip         string
}

// recipientQuery loads recipients with their standing at this moment; the
// campaign's list ids are its parameters (the claimer knows them, and
// literals beat a subquery on campaign_lists by a fifth).
//
// Each recipient is looked up by key, whatever the statistics say: the
// subscription check is a scalar subquery with LIMIT 1 (an EXISTS may be
// planned as a hash of every confirmed subscription of the lists, built
// again for each claim), and on PostgreSQL the subscriber is a LATERAL
// lookup (a hash join would read the whole subscribers table per claim).
// SQLite looks rows up by key anyway, and has no LATERAL.
func (tx *Tx) recipientQuery(listIDs []int64) (string, []any) {
	args := make([]any, len(listIDs))
	for i, id := range listIDs {
		args[i] = id
	}
	from := `FROM deliveries d LEFT JOIN subscribers s ON s.id = d.subscriber_id `
	if tx.db.dialect.name() == "postgres" {
		from = `FROM deliveries d LEFT JOIN LATERAL (SELECT id, email, name, attributes, suppressed FROM subscribers
			WHERE id = d.subscriber_id LIMIT 1) s ON true `
	}
	return `SELECT d.subscriber_id, d.attempts, COALESCE(s.email, ''), COALESCE(s.name, ''), COALESCE(s.attributes, '{}'),
	CASE WHEN s.id IS NULL THEN 'erased' WHEN s.suppressed THEN 'suppressed'
		WHEN (SELECT 1 FROM subscriptions x WHERE x.subscriber_id = d.subscriber_id
			AND x.list_id IN (` + placeholders(max(1, len(listIDs))) + `) AND x.status = 'confirmed' LIMIT 1) IS NOT NULL THEN ''
		ELSE 'unsubscribed' END
	` + from, append(args, make([]any, max(0, 1-len(args)))...)
}

func scanRecipients(rows *sql.Rows, dst []Recipient) ([]Recipient, error) {
	defer rows.Close()
	for rows.Next() {
		var r Recipient
		if err := rows.Scan(&r.SubscriberID, &r.Attempts, &r.Email, &r.Name, &r.Attributes, &r.Skip); err != nil {
			return dst, err
		}
		dst = append(dst, r)
	}
	return dst, rows.Err()
}

// BatchRecipients returns the recipients of a claimed range still to send,
// in subscriber order, appended to dst. listIDs are the campaign's lists:
// a recipient confirmed on none of them any more is marked to skip.
func (db *DB) BatchRecipients(ctx context.Context, b *Batch, listIDs []int64, dst []Recipient) ([]Recipient, error) {
	err := db.read(ctx, func(tx *Tx) error {
		c := *b
		c.Recipients = dst
		if err := batchRecipients(ctx, tx, &c, listIDs); err != nil {
			return err
		}
		dst = c.Recipients
		return nil
	})
	return dst, err
}

func batchRecipients(ctx context.Context, tx *Tx, b *Batch, listIDs []int64) error {
	q, args := tx.recipientQuery(listIDs)
	rows, err := tx.query(ctx, q+`WHERE d.campaign_id = ? AND d.subscriber_id >= ? AND d.subscriber_id <= ? AND d.status = 'pending'
		ORDER BY d.subscriber_id`, append(args, b.CampaignID, b.Lo, b.Hi)...)
	if err != nil {
		return err
	}
	b.Recipients, err = scanRecipients(rows, b.Recipients)
	return err
}

// RecipientStanding reads again, for recipients of a campaign already
// claimed, whether they may still be sent it (listIDs as for
// BatchRecipients). It returns the reason ("unsubscribed", "suppressed",
// "erased") for those who may not; the others are absent.
func (db *DB) RecipientStanding(ctx context.Context, campaignID int64, listIDs []int64, ids []int64) (map[int64]string, error) {
	out := map[int64]string{}
	err := db.read(ctx, func(tx *Tx) error {
		clear(out)
		q, args := tx.recipientQuery(listIDs)
		in, inArgs := tx.inSQL("d.subscriber_id", anyIDs(ids))
		rows, err := tx.query(ctx, q+`WHERE d.campaign_id = ? AND `+in, append(append(args, campaignID), inArgs...)...)
		if err != nil {
			return err
		}
		rs, err := scanRecipients(rows, nil)
		for _, r := range rs {
			if r.Skip != "" {
				out[r.SubscriberID] = r.Skip
			}
		}
		return err
	})
	return out, err
}

// ClaimRetries leases up to n recipients of a running campaign whose retry
// is due (or whose retry claim ran out), until now+lease, and returns them
// (listIDs as for BatchRecipients).
func (db *DB) ClaimRetries(ctx context.Context, campaignID int64, listIDs []int64, n int, lease time.Duration) ([]Recipient, time.Time, error) {
	var out []Recipient
	var until time.Time
	err := db.write(ctx, func(tx *Tx) error {
		until = tx.now.Add(lease)
		rows, err := tx.query(ctx, `UPDATE deliveries SET status = 'sending', next_attempt_at = ?
			WHERE campaign_id = ? AND subscriber_id IN (SELECT subscriber_id FROM deliveries
				WHERE campaign_id = ? AND status IN ('retry', 'sending') AND next_attempt_at <= ?
				AND EXISTS (SELECT 1 FROM campaigns c WHERE c.id = ? AND c.status = 'running')
				ORDER BY next_attempt_at, subscriber_id LIMIT ?`+tx.db.dialect.claimSuffix()+`)
			RETURNING subscriber_id`, until, campaignID, campaignID, tx.now, campaignID, n)
		if err != nil {
			return err
		}
		ids, err := scanIDs(rows)
		if err != nil || len(ids) == 0 {
			return err
		}
		q, args := tx.recipientQuery(listIDs)
		rows, err = tx.query(ctx, q+`WHERE d.campaign_id = ? AND d.subscriber_id IN (`+placeholders(len(ids))+`)
			ORDER BY d.subscriber_id`, append(append(args, campaignID), anyIDs(ids)...)...)
		if err != nil {
			return err
		}
		out, err = scanRecipients(rows, out)
		return err
	})
	return out, until, err
}

// NextRetry returns when the campaign's next retry is due, if it has one.
func (db *DB) NextRetry(ctx context.Context, campaignID int64) (time.Time, bool, error) {
	var t sql.NullTime
	err := db.read(ctx, func(tx *Tx) error {
		return tx.queryRow(ctx, `SELECT MIN(next_attempt_at) FROM deliveries WHERE campaign_id = ? AND status IN ('retry', 'sending')`, campaignID).Scan(&t)
	})
	return t.Time.UTC(), t.Valid, err
}

// OutcomeRelease is the Status of an Outcome that gives a claimed retry
// back unsent (due at once, no attempt counted).
const OutcomeRelease = "release"

// Outcome is what happened to one recipient.
type Outcome struct {
	CampaignID   int64
	SubscriberID int64
	// Status is sent, failed or skipped (final), or retry (NextAttemptAt
	// says when).
	Status string
	// Attempted counts an attempt (false for skips).
	Attempted bool
	// Reply is the SMTP reply or the reason; for sent outcomes it is not
	// kept (the ledger says "250 accepted"), so that they are written in
	// one statement per campaign.
	Reply         string
	NextAttemptAt time.Time
}

// BatchEnd says what to do with a range whose recipients are all done:
// delete it, or (Release) give it back for another sender to finish,
// because some of its recipients were left unsent (a pause, a lost lease).
type BatchEnd struct {
	ID         int64
	LeaseToken string
	Release    bool
}

// OutcomeCounts is what RecordOutcomes changed in a campaign's counters.
type OutcomeCounts struct {
	Sent, Failed, Skipped, Retry int64
}

// RecordOutcomes writes outcomes to the ledger and the campaigns' counters
// in one transaction, and ends finished ranges. Sent outcomes, nearly all
// of them, are written with one UPDATE per campaign (a row costs a third of
// what a statement per row costs on SQLite); the others row by row. A
// final outcome is written only over a row not already final, and a retry
// only over a row being sent, so an outcome reported twice (two senders
// after a lost lease) is counted once.
func (db *DB) RecordOutcomes(ctx context.Context, outs []Outcome, ends []BatchEnd) (map[int64]OutcomeCounts, error) {
	counts := map[int64]OutcomeCounts{}
	sent := map[int64][]any{} // campaign → subscriber ids
	for i := range outs {
		if o := &outs[i]; o.Status == herald.DeliverySent {
			sent[o.CampaignID] = append(sent[o.CampaignID], o.SubscriberID)
		}
	}
	err := db.write(ctx, func(tx *Tx) error {
		clear(counts)
		for cid, ids := range sent {
			for len(ids) > 0 {
				chunk := ids[:min(len(ids), 500)]
				ids = ids[len(chunk):]
				in, inArgs := tx.inSQL("subscriber_id", chunk)
				res, err := tx.exec(ctx, `UPDATE deliveries SET status = 'sent', attempts = attempts + 1, last_reply = '250 accepted',
					next_attempt_at = NULL, updated_at = ? WHERE campaign_id = ? AND `+in+` AND status IN ('pending', 'sending', 'retry')`,
					append([]any{tx.now, cid}, inArgs...)...)
				if err != nil {
					return err
				}
				n, err := res.RowsAffected()
				if err != nil {
					return err
				}
				c := counts[cid]
				c.Sent += n
				counts[cid] = c
			}
		}
		for i := range outs {
			o := &outs[i]
			if o.Status == herald.DeliverySent {
				continue
			}
			attempt := 0
			if o.Attempted {
				attempt = 1
			}
			var res sql.Result
			var err error
			switch o.Status {
			case OutcomeRelease:
				res, err = tx.exec(ctx, `UPDATE deliveries SET status = 'retry', next_attempt_at = ?
					WHERE campaign_id = ? AND subscriber_id = ? AND status = 'sending'`, tx.now, o.CampaignID, o.SubscriberID)
			case herald.DeliveryRetry:
				res, err = tx.exec(ctx, `UPDATE deliveries SET status = 'retry', attempts = attempts + ?, last_reply = ?,
					next_attempt_at = ?, updated_at = ? WHERE campaign_id = ? AND subscriber_id = ? AND status IN ('pending', 'sending')`,
					attempt, clip(o.Reply, 500), o.NextAttemptAt.UTC(), tx.now, o.CampaignID, o.SubscriberID)
			default:
				res, err = tx.exec(ctx, `UPDATE deliveries SET status = ?, attempts = attempts + ?, last_reply = ?,
					next_attempt_at = NULL, updated_at = ? WHERE campaign_id = ? AND subscriber_id = ? AND status IN ('pending', 'sending', 'retry')`,
					o.Status, attempt, clip(o.Reply, 500), tx.now, o.CampaignID, o.SubscriberID)
			}
			if err != nil {
				return err
			}
			n, err := res.RowsAffected()
			if err != nil {
				return err
			}
			c := counts[o.CampaignID]
			switch o.Status {
			case herald.DeliveryFailed:
				c.Failed += n
			case herald.DeliverySkipped:
				c.Skipped += n
			case herald.DeliveryRetry:
				c.Retry += n
			}
			counts[o.CampaignID] = c
		}
		// The progress snapshots behind the rate: slot 1 is retaken every
		// 10 s, and slot 0 keeps the one before.
		old := tx.now.Add(-10 * time.Second)
		for id, c := range counts {
			if c.Sent+c.Failed+c.Skipped == 0 {
				continue
			}
			if _, err := tx.exec(ctx, `UPDATE campaigns SET sent = sent + ?, failed = failed + ?, skipped = skipped + ?,
				rate_at0 = CASE WHEN rate_at1 IS NULL OR rate_at1 <= ? THEN rate_at1 ELSE rate_at0 END,
				rate_done0 = CASE WHEN rate_at1 IS NULL OR rate_at1 <= ? THEN rate_done1 ELSE rate_done0 END,
				rate_done1 = CASE WHEN rate_at1 IS NULL OR rate_at1 <= ? THEN sent + failed + ? ELSE rate_done1 END,
				rate_at1 = CASE WHEN rate_at1 IS NULL OR rate_at1 <= ? THEN ? ELSE rate_at1 END
				WHERE id = ?`, c.Sent, c.Failed, c.Skipped, old, old, old, c.Sent+c.Failed, old, tx.now, id); err != nil {
				return err
			}
		}
		for _, e := range ends {
			q := `DELETE FROM delivery_batches WHERE id = ? AND lease_token = ?`
			args := []any{e.ID, e.LeaseToken}
			if e.Release {
				q = `UPDATE delivery_batches SET lease_until = ? WHERE id = ? AND lease_token = ?`
				args = []any{tx.now.Add(-time.Second), e.ID, e.LeaseToken}
			}
			if _, err := tx.exec(ctx, q, args...); err != nil {
				return err
			}
		}
		return nil
	})
	return counts, err
}

// RenewBatches extends the leases of ranges this sender holds and returns
// the ids it still holds: a range missing from the answer was taken over
// (or its campaign cancelled) and must not be sent from any more.
func (db *DB) RenewBatches(ctx context.Context, batches []BatchEnd, lease time.Duration) (map[int64]time.Time, error) {
	held := map[int64]time.Time{}
	if len(batches) == 0 {
		return held, nil
	}
	err := db.write(ctx, func(tx *Tx) error {
		clear(held)
		until := tx.now.Add(lease)
		for _, b := range batches {
			res, err := tx.exec(ctx, `UPDATE delivery_batches SET lease_until = ? WHERE id = ? AND lease_token = ?`, until, b.ID, b.LeaseToken)
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil {
				return err
			} else if n == 1 {
				held[b.ID] = until
			}
		}
		return nil
	})
	return held, err
}

// FinishIfDone marks a running campaign finished when every recipient has
// an outcome, and reports whether it did (or the campaign had already
// ended).
func (db *DB) FinishIfDone(ctx context.Context, id int64) (bool, error) {
	done := false
	err := db.write(ctx, func(tx *Tx) error {
		var status string
		var recipients, sent, failed, skipped int64
		err := tx.queryRow(ctx, `SELECT status, recipients, sent, failed, skipped FROM campaigns WHERE id = ?`, id).
			Scan(&status, &recipients, &sent, &failed, &skipped)
		if isNoRows(err) {
			done = true
			return nil
		} else if err != nil {
			return err
		}
		if status != herald.CampaignRunning {
			done = status == herald.CampaignFinished || status == herald.CampaignCancelled
			return nil
		}
		if sent+failed+skipped < recipients {
			return nil
		}
		var open int
		if err := tx.queryRow(ctx, `SELECT COUNT(*) FROM deliveries WHERE campaign_id = ? AND status IN ('retry', 'sending')`, id).Scan(&open); err != nil || open > 0 {
			return err
		}
		if _, err := tx.exec(ctx, `DELETE FROM delivery_batches WHERE campaign_id = ?`, id); err != nil {
			return err
		}
		_, err = tx.exec(ctx, `UPDATE campaigns SET status = 'finished', finished_at = ? WHERE id = ? AND status = 'running'`, tx.now, id)
		done = err == nil
		return err
	})
	return done, err
}

// DeliveryFilter narrows Deliveries.
type DeliveryFilter struct {
	Status string
	After  int64 // subscriber id: keyset pagination
	Limit  int   // default 100, at most 1000
}

// Deliveries returns a page of a campaign's ledger in subscriber order.
func (db *DB) Deliveries(ctx context.Context, campaignID int64, f DeliveryFilter) ([]herald.Delivery, error) {
	if f.Limit <= 0 || f.Limit > 1000 {
		f.Limit = 100
	}
	q := `SELECT campaign_id, subscriber_id, status, attempts, next_attempt_at, last_reply, updated_at
		FROM deliveries WHERE campaign_id = ? AND subscriber_id > ?`
	args := []any{campaignID, f.After}
	if f.Status != "" {
		switch f.Status {
		case herald.DeliveryPending, herald.DeliverySending, herald.DeliveryRetry, herald.DeliverySent, herald.DeliveryFailed, herald.DeliverySkipped:
		default:
			return nil, herald.FieldError("status", "Status must be pending, sending, retry, sent, failed or skipped.")
		}
		q += ` AND status = ?`
		args = append(args, f.Status)
	}
	out := []herald.Delivery{}
	err := db.read(ctx, func(tx *Tx) error {
		var n int
		if err := tx.queryRow(ctx, `SELECT COUNT(*) FROM campaigns WHERE id = ?`, campaignID).Scan(&n); err != nil {
			return err
		} else if n == 0 {
			return notFound("Campaign")
		}
		rows, err := tx.query(ctx, q+` ORDER BY subscriber_id LIMIT ?`, append(args, f.Limit)...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var d herald.Delivery
			var next, upd sql.NullTime
			if err := rows.Scan(&d.CampaignID, &d.SubscriberID, &d.Status, &d.Attempts, &next, &d.LastReply, &upd); err != nil {
				return err
			}
			d.NextAttemptAt, d.UpdatedAt = nullTime(next), nullTime(upd)
			out = append(out, d)
		}
		return rows.Err()
	})
	return out, err
}

// ReserveSends reserves up to n messages of the installation's send
// limits, shared by every process on this database: a token bucket of one
// message per interval with a burst of `burst` (GCRA: the row holds the
// theoretical arrival time), and at most hourly messages in any 60 minutes
// (0 = no cap; counted per minute, conservatively). The granted messages
// may go at start, start+interval, start+2·interval, …; granted may be 0
// when the hourly cap is used up, and then retryAt says when to ask again.
func (db *DB) ReserveSends(ctx context.Context, n int, interval time.Duration, burst int, hourly int) (start time.Time, granted int, retryAt time.Time, err error) {
	err = db.write(ctx, func(tx *Tx) error {
		now := tx.now
		if _, err := tx.exec(ctx, `INSERT INTO send_rate (id, tat) VALUES (1, 0) ON CONFLICT (id) DO NOTHING`); err != nil {
			return err
		}
		// Take the row lock before reading the hourly counts (PostgreSQL).
		if _, err := tx.exec(ctx, `UPDATE send_rate SET tat = tat WHERE id = 1`); err != nil {
			return err
		}
		granted = n
		if hourly > 0 {
			minute := now.Unix() / 60
			var used int64
			if err := tx.queryRow(ctx, `SELECT COALESCE(SUM(sent), 0) FROM send_minutes WHERE minute >= ?`, minute-61).Scan(&used); err != nil {
				return err
			}
			granted = int(min(int64(n), max(0, int64(hourly)-used)))
			if granted == 0 {
				var oldest sql.NullInt64
				if err := tx.queryRow(ctx, `SELECT MIN(minute) FROM send_minutes WHERE minute >= ? AND sent > 0`, minute-61).Scan(&oldest); err != nil {
					return err
				}
				retryAt = now.Add(time.Minute)
				if oldest.Valid {
					retryAt = time.Unix((oldest.Int64+62)*60, 0).UTC()
				}
				return nil
			}
		}
		start = now
		if interval > 0 {
			floor := now.Add(-time.Duration(burst) * interval).UnixMicro()
			var tat int64
			if err := tx.queryRow(ctx, `UPDATE send_rate SET tat = CASE WHEN tat > ? THEN tat ELSE ? END + ? WHERE id = 1 RETURNING tat`,
				floor, floor, int64(granted)*interval.Microseconds()).Scan(&tat); err != nil {
				return err
			}
			start = time.UnixMicro(tat - int64(granted)*interval.Microseconds()).UTC()
		}
		if hourly > 0 {
			// Counted in the minute of the last message, which may lie ahead.
			end := start.Add(time.Duration(granted) * interval)
			if _, err := tx.exec(ctx, `INSERT INTO send_minutes (minute, sent) VALUES (?, ?)
				ON CONFLICT (minute) DO UPDATE SET sent = send_minutes.sent + excluded.sent`, end.Unix()/60, granted); err != nil {
				return err
			}
			if _, err := tx.exec(ctx, `DELETE FROM send_minutes WHERE minute < ?`, now.Unix()/60-120); err != nil {
				return err
			}
		}
		return nil
	})
	return start, granted, retryAt, err
}

// SyncSuppressedFlags sets subscribers.suppressed from the suppression
// list, once per database (the flag is kept in step from then on). The
// list holds only keyed hashes, so this hashes every address, in pages.
func (db *DB) SyncSuppressedFlags(ctx context.Context) error {
	const key = "suppressed_flags_v1"
	var done, nsup int
	err := db.read(ctx, func(tx *Tx) error {
		if err := tx.queryRow(ctx, `SELECT COUNT(*) FROM settings WHERE key = ?`, key).Scan(&done); err != nil {
			return err
		}
		return tx.queryRow(ctx, `SELECT COUNT(*) FROM suppressions`).Scan(&nsup)
	})
	if err != nil || done > 0 {
		return err
	}
	var after int64
	for nsup > 0 {
		type sub struct {
			id   int64
			hash string
		}
		var page []sub
		err := db.read(ctx, func(tx *Tx) error {
			rows, err := tx.query(ctx, `SELECT id, email_key FROM subscribers WHERE id > ? ORDER BY id LIMIT 500`, after)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				var s sub
				if err := rows.Scan(&s.id, &s.hash); err != nil {
					return err
				}
				s.hash = db.SuppressionHash(s.hash)
				page = append(page, s)
			}
			return rows.Err()
		})
		if err != nil {
			return err
		}
		if len(page) == 0 {
			break
		}
		after = page[len(page)-1].id
		err = db.write(ctx, func(tx *Tx) error {
			args := make([]any, len(page))
			byHash := map[string]int64{}
			for i, s := range page {
				args[i] = s.hash
				byHash[s.hash] = s.id
			}
			rows, err := tx.query(ctx, `SELECT hash FROM suppressions WHERE hash IN (`+placeholders(len(args))+`)`, args...)
			if err != nil {
				return err
			}
			var ids []any
			for rows.Next() {
				var h string
				if err := rows.Scan(&h); err != nil {
					rows.Close()
					return err
				}
				ids = append(ids, byHash[h])
			}
			rows.Close()
			if len(ids) == 0 {
				return rows.Err()
			}
			_, err = tx.exec(ctx, `UPDATE subscribers SET suppressed = TRUE WHERE id IN (`+placeholders(len(ids))+`)`, ids...)
			return err
		})
		if err != nil {
			return err
		}
	}
	return db.write(ctx, func(tx *Tx) error {
		_, err := tx.exec(ctx, `INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING`, key, tx.now.Format(time.RFC3339))
		return err
	})
}

// setSuppressedFlag keeps subscribers.suppressed in step with the
// suppression list; the recipient set of a campaign relies on it.
func setSuppressedFlag(ctx context.Context, tx *Tx, emailKey string, on bool) error {
	_, err := tx.exec(ctx, `UPDATE subscribers SET suppressed = ? WHERE email_key = ?`, on, emailKey)
	return err
}

// Suppress puts an address on the suppression list (it is never mailed
// again unless it signs up and confirms anew) without erasing anything,
// as bounce and complaint handling will.
func (db *DB) Suppress(ctx context.Context, email, reason string) error {
	key := strings.ToLower(strings.TrimSpace(email))
	return db.write(ctx, func(tx *Tx) error { return suppress(ctx, tx, key, reason) })
}

// DeriveKey returns a key for one purpose derived from the installation's
// secret, for callers that need a keyed hash of their own (the sender's
// Message-IDs) without holding the secret.
func (db *DB) DeriveKey(purpose string) []byte {
	m := hmac.New(sha256.New, db.secret)
	m.Write([]byte("herald derived key v1 "))
	m.Write([]byte(purpose))
	return m.Sum(nil)
}

// MessageIDs makes and reads the Message-IDs of campaign messages: the
// pair (campaign, subscriber) encrypted with AES under a key derived from
// the installation's secret, base32. Every attempt to a reader carries the
// same id (a message sent twice, after a crash, can be recognised as one),
// the id reveals nothing, and bounce handling can tell campaign and reader
// from it without a lookup. Safe for concurrent use.
type MessageIDs struct{ block cipher.Block }

// MessageIDs returns the installation's Message-ID codec.
func (db *DB) MessageIDs() *MessageIDs {
	b, err := aes.NewCipher(db.DeriveKey("message-id")[:16])
	if err != nil {
		panic(err) // a 16-byte key cannot fail
	}
	return &MessageIDs{block: b}
}

var messageIDEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// Make returns the Message-ID (without angle brackets) of the campaign's
// message to the subscriber, on the sender's domain.
func (m *MessageIDs) Make(campaignID, subscriberID int64, domain string) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(campaignID))
	binary.BigEndian.PutUint64(b[8:], uint64(subscriberID))
	m.block.Encrypt(b[:], b[:])
	out := make([]byte, 26, 27+len(domain))
	messageIDEncoding.Encode(out, b[:])
	out = append(out, '@')
	return string(append(out, domain...))
}

// Parse returns the campaign and subscriber of a Message-ID that Make
// made (with or without angle brackets); ok is false for any other.
func (m *MessageIDs) Parse(id string) (campaignID, subscriberID int64, ok bool) {
	id = strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(id), "<"), ">")
	local, _, found := strings.Cut(id, "@")
	var b [16]byte
	if !found || len(local) != 26 {
		return 0, 0, false
	}
	if n, err := messageIDEncoding.Decode(b[:], []byte(local)); err != nil || n != 16 {
		return 0, 0, false
	}
	m.block.Decrypt(b[:], b[:])
	c, s := binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])
	// Ids stay far below 2^48: 32 bits that must be zero tell a forged or
	// foreign id from ours.
	if c>>48 != 0 || s>>48 != 0 || c == 0 {
		return 0, 0, false
	}
	return int64(c), int64(s), true
}

// scanIDs reads a one-column result of ids, and closes it.
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

// anyIDs is ids as statement arguments.
func anyIDs(ids []int64) []any {
	out := make([]any, len(ids))
	for i, id := range ids {
		out[i] = id
	}
	return out
}
