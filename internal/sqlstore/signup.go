package sqlstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/binary"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/service/policy"
)

// JobConfirmMail is the job kind that sends a double opt-in mail.
const JobConfirmMail = "confirm_mail"

// ConfirmMailJob is the payload of a JobConfirmMail job.
type ConfirmMailJob struct {
	SubscriberID int64 `json:"subscriber_id"`
	Expires      int64 `json:"expires"` // unix seconds: the link's expiry
}

// SignupOptions are the installation's double opt-in settings.
type SignupOptions struct {
	ConfirmWindow time.Duration // at most one confirmation mail per address per window
	ConfirmTTL    time.Duration // how long the link in it stays valid
}

// SignupResult says what a signup did. Public handlers must not reveal it
// to the requester (no enumeration); it is for logs and tests.
type SignupResult struct {
	SubscriberID int64
	Pending      []string // lists waiting for confirmation
	Confirmed    []string // lists confirmed (single opt-in, or already confirmed)
	// NewlyConfirmed are the single opt-in lists this request confirmed.
	NewlyConfirmed []string
	MailQueued     bool
}

// SignupInput is a reader's signup as the service layer passes it on,
// already validated and normalised (service.Signup): the address, its key
// and the name are clean and at least one list is named.
type SignupInput struct {
	Email, Key, Name string
	Lists            []string // slugs of public lists
	// DisclosureVersion is the version the form showed (0: the current
	// one); Shown the lists' own disclosures it showed (slug → version).
	DisclosureVersion int
	Shown             map[string]int
	Meta              Meta // who (the reader), from where
}

// SignupGrouped writes a signup: the subscriber, the subscriptions (each
// status as policy.Join decides), the consent events with the disclosures
// shown, and the confirmation mail job when policy.ConfirmMailDue says so
// — all in one transaction, so a crash loses either all of it or none. On
// SQLite several signups share a transaction (a group commit), which is
// why the decisions it needs are pure functions it calls rather than a
// service that would read the reader's state in a transaction of its own.
//
// The lists and disclosures are checked (from caches) before the signup
// queues for the writer, so the shared transaction only sees work that
// should succeed: an unknown or private list is EINVALID on "lists".
func (db *DB) SignupGrouped(ctx context.Context, in SignupInput, opt SignupOptions) (*SignupResult, error) {
	if len(in.Lists) == 0 || in.Key == "" {
		return nil, herald.Errorf(herald.EINTERNAL, "signup input not validated")
	}
	lists, err := resolveLists(ctx, db, nil, in.Lists, false)
	if err != nil {
		return nil, err
	}
	d, err := signupDisclosure(ctx, db, nil, in.DisclosureVersion)
	if err != nil {
		return nil, err
	}
	perList, err := cachedListDisclosures(ctx, db, nil)
	if err != nil {
		return nil, err
	}
	var res *SignupResult
	err = db.writeGrouped(ctx, func(tx *Tx) error {
		var id int64
		var sub subState
		var created time.Time
		err := tx.queryRow(ctx, `INSERT INTO subscribers (email, email_key, name, attributes, created_at, updated_at)
			VALUES (?, ?, ?, '{}', ?, ?)
			ON CONFLICT (email_key) DO UPDATE SET name = CASE WHEN subscribers.name = '' THEN excluded.name ELSE subscribers.name END
			RETURNING id, confirm_nonce, confirm_mail_at, created_at`, in.Email, in.Key, in.Name, tx.now, tx.now).Scan(&id, &sub.nonce, &sub.mailAt, &created)
		if err != nil {
			return tx.db.dialect.translate(err)
		}
		sub.known = true
		if created.Equal(tx.now) {
			tx.AppendEvent(herald.EventCreated, id, 0, herald.EventData{Actor: in.Meta.Actor})
		}
		suppressed, err := isSuppressed(ctx, tx, in.Key)
		if err != nil {
			return err
		}
		if suppressed {
			if err := setSuppressedFlag(ctx, tx, in.Key, true); err != nil {
				return err
			}
		}
		m := in.Meta
		if err := signupConsents(ctx, tx, id, herald.ConsentSignup, m, lists, d, perList, in.Shown); err != nil {
			return err
		}
		res, err = subscribeLists(ctx, tx, id, &sub, lists, suppressed, opt, false, m.Actor)
		if err != nil {
			return err
		}
		if len(res.NewlyConfirmed) > 0 {
			m.Detail = "single opt-in"
			confirmed := listsBySlug(lists, res.NewlyConfirmed)
			return signupConsents(ctx, tx, id, herald.ConsentConfirm, m, confirmed, d, perList, in.Shown)
		}
		return nil
	})
	return res, err
}

func signupDisclosure(ctx context.Context, db *DB, tx *Tx, version int) (*herald.Disclosure, error) {
	if version > 0 {
		d, err := cachedDisclosure(ctx, db, tx, version)
		if err == nil {
			return d, nil
		} else if herald.ErrorCode(err) != herald.ENOTFOUND {
			return nil, err
		}
	}
	d, err := cachedDisclosure(ctx, db, tx, 0)
	if herald.ErrorCode(err) == herald.ENOTFOUND {
		// Herald never records a consent it cannot name the text of.
		return nil, herald.Errorf(herald.EINTERNAL, "no current disclosure")
	}
	return d, err
}

// subscribeLists adds subscriptions: new ones are confirmed for single
// opt-in lists (unless the address is suppressed) and pending otherwise; an
// unsubscribed one goes back to pending; others stay as they are. When any is
// pending it queues a confirmation mail, at most one per ConfirmWindow
// unless force is set (the reader is acting from their own manage link).
// Each change appends its event (actor made it).
// subState is what subscribeLists needs of the subscriber row; a caller
// that has just read it (known) saves a query.
type subState struct {
	known  bool
	nonce  sql.NullInt64
	mailAt sql.NullTime
}

func subscribeLists(ctx context.Context, tx *Tx, subID int64, sub *subState, lists []*herald.List, suppressed bool, opt SignupOptions, force bool, actor string) (*SignupResult, error) {
	res := &SignupResult{SubscriberID: subID}
	existing := map[int64]string{}
	rows, err := tx.query(ctx, `SELECT list_id, status FROM subscriptions WHERE subscriber_id = ?`, subID)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var id int64
		var st string
		if err := rows.Scan(&id, &st); err != nil {
			rows.Close()
			return nil, err
		}
		existing[id] = st
	}
	rows.Close()
	for _, l := range lists {
		cur := existing[l.ID]
		next, changed := policy.Join(cur, l.OptIn, suppressed)
		if changed {
			if err := setSubscription(ctx, tx, subID, l.ID, next); err != nil {
				return nil, err
			}
		}
		switch {
		case next == herald.StatusConfirmed && changed:
			tx.AppendEvent(herald.EventConfirmed, subID, l.ID, herald.EventData{Actor: actor, To: herald.StatusConfirmed})
			res.Confirmed = append(res.Confirmed, l.Slug)
			res.NewlyConfirmed = append(res.NewlyConfirmed, l.Slug)
		case next == herald.StatusPending:
			if changed {
				tx.AppendEvent(herald.EventSubscriptionChanged, subID, l.ID, herald.EventData{Actor: actor, From: cur, To: herald.StatusPending})
			}
			res.Pending = append(res.Pending, l.Slug)
		default:
			res.Confirmed = append(res.Confirmed, l.Slug)
		}
	}
	if len(res.Pending) == 0 {
		return res, nil
	}
	if sub == nil {
		sub = &subState{}
	}
	if !sub.known {
		if err := tx.queryRow(ctx, `SELECT confirm_nonce, confirm_mail_at FROM subscribers WHERE id = ?`, subID).Scan(&sub.nonce, &sub.mailAt); err != nil {
			return nil, err
		}
	}
	nonce, last := sub.nonce, sub.mailAt
	var lastAt time.Time
	if last.Valid {
		lastAt = last.Time
	}
	if !policy.ConfirmMailDue(force, nonce.Valid, lastAt, tx.now, opt.ConfirmWindow) {
		// A recent mail with a live link is on its way; that link confirms
		// every pending list, this one included.
		return res, nil
	}
	if !nonce.Valid {
		nonce = sql.NullInt64{Int64: newNonce(), Valid: true}
	}
	if _, err := tx.exec(ctx, `UPDATE subscribers SET confirm_nonce = ?, confirm_mail_at = ? WHERE id = ?`, nonce.Int64, tx.now, subID); err != nil {
		return nil, err
	}
	ttl := policy.ConfirmTTL(opt.ConfirmTTL)
	if err := enqueue(ctx, tx, JobConfirmMail, ConfirmMailJob{SubscriberID: subID, Expires: tx.now.Add(ttl).Unix()}, tx.now); err != nil {
		return nil, err
	}
	res.MailQueued = true
	return res, nil
}

// newNonce returns a random positive 62-bit number.
func newNonce() int64 {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return int64(binary.LittleEndian.Uint64(b[:])>>2) | 1
}

// PendingConfirmation is what a confirmation link leads to.
type PendingConfirmation struct {
	Subscriber *herald.Subscriber
	Nonce      int64
	Lists      []herald.Subscription // pending subscriptions
}

// GetConfirmation returns the subscriber a confirmation link is for, if
// the link is still unused (its nonce is the current one). Nonce 0 asks
// for the current confirmation, whatever its nonce (EGONE if none).
func (db *DB) GetConfirmation(ctx context.Context, subID int64, nonce uint64) (*PendingConfirmation, error) {
	var pc *PendingConfirmation
	err := db.read(ctx, func(tx *Tx) (err error) {
		pc, err = getConfirmation(ctx, tx, subID, nonce)
		return err
	})
	return pc, err
}

var errLinkUsed = herald.Errorf(herald.EGONE, "This link has already been used or has expired.")

func getConfirmation(ctx context.Context, tx *Tx, subID int64, nonce uint64) (*PendingConfirmation, error) {
	var cur sql.NullInt64
	err := tx.queryRow(ctx, `SELECT confirm_nonce FROM subscribers WHERE id = ?`, subID).Scan(&cur)
	if nonce == 0 && err == nil && cur.Valid {
		nonce = uint64(cur.Int64) // the caller (the mail job) asks for the current one
	}
	if isNoRows(err) || (err == nil && (!cur.Valid || uint64(cur.Int64) != nonce)) {
		return nil, errLinkUsed
	} else if err != nil {
		return nil, err
	}
	s, err := getSubscriber(ctx, tx, subID)
	if err != nil {
		return nil, err
	}
	pc := &PendingConfirmation{Subscriber: s, Nonce: cur.Int64}
	for _, x := range s.Subscriptions {
		if x.Status == herald.StatusPending {
			pc.Lists = append(pc.Lists, x)
		}
	}
	return pc, nil
}

// Unsubscribe ends the subscriber's subscriptions to the given lists (all
// lists when listIDs is empty). It is idempotent and returns the slugs of
// the lists it changed.
func (db *DB) Unsubscribe(ctx context.Context, subID int64, listIDs []int64, m Meta) ([]string, error) {
	var changed []string
	err := db.write(ctx, func(tx *Tx) (err error) {
		changed, err = unsubscribe(ctx, tx, subID, listIDs, m)
		return err
	})
	return changed, err
}

func unsubscribe(ctx context.Context, tx *Tx, subID int64, listIDs []int64, m Meta) ([]string, error) {
	q := `SELECT l.id, l.slug, s.status FROM subscriptions s JOIN lists l ON l.id = s.list_id
		WHERE s.subscriber_id = ? AND s.status <> 'unsubscribed'`
	args := []any{subID}
	if len(listIDs) > 0 {
		q += ` AND s.list_id IN (` + placeholders(len(listIDs)) + `)`
		for _, id := range listIDs {
			args = append(args, id)
		}
	}
	rows, err := tx.query(ctx, q+` ORDER BY l.id`, args...)
	if err != nil {
		return nil, err
	}
	var ids []any
	var slugs, prev []string
	for rows.Next() {
		var id int64
		var slug, st string
		if err := rows.Scan(&id, &slug, &st); err != nil {
			rows.Close()
			return nil, err
		}
		ids = append(ids, id)
		slugs = append(slugs, slug)
		prev = append(prev, st)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return nil, nil
	}
	if _, err := tx.exec(ctx, `UPDATE subscriptions SET status = 'unsubscribed', unsubscribed_at = ?, updated_at = ?
		WHERE subscriber_id = ? AND list_id IN (`+placeholders(len(ids))+`)`, append([]any{tx.now, tx.now, subID}, ids...)...); err != nil {
		return nil, err
	}
	if m.Actor == "" {
		m.Actor = herald.ActorReader
	}
	if err := addConsent(ctx, tx, subID, herald.ConsentUnsubscribe, m, slugs, nil); err != nil {
		return nil, err
	}
	for i, id := range ids {
		tx.AppendEvent(herald.EventUnsubscribed, subID, id.(int64), herald.EventData{Actor: m.Actor, From: prev[i], To: herald.StatusUnsubscribed})
	}
	return slugs, nil
}

// ConfirmNonce returns the subscriber's current confirmation nonce, which
// the confirmation mail job signs into the link; ENOTFOUND when there is
// nothing to confirm.
func (db *DB) ConfirmNonce(ctx context.Context, subID int64) (uint64, error) {
	var n sql.NullInt64
	err := db.read(ctx, func(tx *Tx) error {
		err := tx.queryRow(ctx, `SELECT confirm_nonce FROM subscribers WHERE id = ?`, subID).Scan(&n)
		if isNoRows(err) || (err == nil && !n.Valid) {
			return notFound("Pending confirmation")
		}
		return err
	})
	return uint64(n.Int64), err
}
