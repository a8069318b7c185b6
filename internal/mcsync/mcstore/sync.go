package mcstore

// Herald → Mailchimp. Every change to a subscription of a connected list
// (confirmation, unsubscribe, erasure, profile change) queues a job in the
// transaction that makes the change, so the call to Mailchimp happens if
// and only if the change is committed, and survives any crash. Changes that
// came from Mailchimp (actor "mailchimp") queue nothing.
//
// Jobs about one member run in the order they were queued: each carries the
// member's key (mailchimp_sync_keys), and a job waits while an older one
// for the same member is unfinished. A confirmation followed at once by an
// unsubscribe therefore reaches Mailchimp as a PUT and then a PATCH, never
// the other way round.
//
// Payloads hold the address encrypted (the same AES-GCM key as the API key)
// and no other personal data: an upsert reads the name and the consent
// metadata when it runs, and skips a subscriber erased in the meantime.
// Erasure deletes the subscriber's queued (and failed) jobs and queues one
// delete-permanent per audience, whose encrypted address goes with the job
// when it completes.

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/sqlstore"
)

// Consent details of imported Mailchimp history, from which an upsert
// tells Mailchimp the opt-in and confirmation.
const (
	importOptinDetail   = "Mailchimp opt-in"
	importConfirmDetail = "Mailchimp confirmation"
)

// ImportSource is what rows read from Mailchimp's audience export record
// in the consent ledger.
var ImportSource = &sqlstore.ImportSource{
	Actor:          herald.ActorMailchimp,
	OptinDetail:    importOptinDetail,
	ConfirmDetail:  importConfirmDetail,
	NoOptinDetail:  "subscribed at Mailchimp, without opt-in time in the export",
	UnsubNote:      "unsubscribed at Mailchimp",
	SuppressReason: "mailchimp import: cleaned or reported",
}

// Job kinds of the Mailchimp sync.
const (
	JobMailchimpMember  = "mailchimp_member"  // MailchimpMemberJob: one member, one call
	JobMailchimpSync    = "mailchimp_sync"    // MailchimpSyncJob: reconcile a whole list (batch endpoint)
	JobMailchimpWebhook = "mailchimp_webhook" // MailchimpWebhookJob: register or remove Herald's webhook
)

// Operations of a member job.
const (
	MailchimpUpsert      = "upsert"      // PUT members/{hash}: subscribed, names, consent metadata, interest
	MailchimpUnsubscribe = "unsubscribe" // PATCH status unsubscribed, or the interest off
	MailchimpDelete      = "delete"      // POST …/actions/delete-permanent (erasure)
)

// mailchimpMaxAttempts lets a sync job ride out a day-long outage: the
// handlers' own backoff caps at 30 minutes.
const mailchimpMaxAttempts = 40

// MailchimpMemberJob is the payload of a JobMailchimpMember job.
type MailchimpMemberJob struct {
	Op           string `json:"op"`
	ListID       int64  `json:"list_id"`
	AudienceID   string `json:"audience_id"`
	InterestID   string `json:"interest_id,omitempty"`
	SubscriberID int64  `json:"subscriber_id"`
	SealedEmail  string `json:"email_sealed"`          // "" when only the hash is known (erasure, old address)
	MemberHash   string `json:"member_hash,omitempty"` // MD5 of the address in lower case: Mailchimp's subscriber hash
	MemberKey    string `json:"member_key"`

	Email string `json:"-"` // decrypted by MailchimpMemberOp; "" when SealedEmail is
}

// MailchimpSyncJob is the payload of a JobMailchimpSync job.
type MailchimpSyncJob struct {
	ListID int64 `json:"list_id"`
}

// MailchimpWebhookJob is the payload of a JobMailchimpWebhook job.
type MailchimpWebhookJob struct {
	ListID     int64  `json:"list_id"`
	Action     string `json:"action"` // register, remove
	AudienceID string `json:"audience_id"`
	WebhookID  string `json:"webhook_id,omitempty"`
}

func enqueueJob(ctx context.Context, tx *sqlstore.Tx, kind string, payload any) error {
	_, err := sqlstore.EnqueueJob(ctx, tx, kind, payload, mailchimpMaxAttempts)
	return err
}

// mcTarget is the part of a link a member job needs.
type mcTarget struct {
	listID     int64
	audienceID string
	interestID string
}

// enqueueMember queues op on one member, named by address (sealed in the
// payload) or, when email is "", by its hash alone.
func (db *Store) enqueueMember(ctx context.Context, tx *sqlstore.Tx, op string, t mcTarget, subID int64, email, hash string) error {
	var sealed string
	if email != "" {
		var err error
		if sealed, err = db.seal(email); err != nil {
			return err
		}
		hash = sqlstore.AddressMD5(email)
	}
	key := db.mailchimpMemberKey(t.audienceID, hash)
	id, err := sqlstore.EnqueueJob(ctx, tx, JobMailchimpMember, MailchimpMemberJob{
		Op: op, ListID: t.listID, AudienceID: t.audienceID, InterestID: t.interestID,
		SubscriberID: subID, SealedEmail: sealed, MemberHash: hash, MemberKey: key,
	}, mailchimpMaxAttempts)
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `INSERT INTO mailchimp_sync_keys (job_id, member_key, subscriber_id) VALUES (?, ?, ?)`, id, key, subID)
	return err
}

// targetsOf returns the links of those of listIDs that are connected.
func targetsOf(ctx context.Context, tx *sqlstore.Tx, listIDs []int64) ([]mcTarget, error) {
	if len(listIDs) == 0 {
		return nil, nil
	}
	args := make([]any, len(listIDs))
	for i, id := range listIDs {
		args[i] = id
	}
	rows, err := tx.Query(ctx, `SELECT list_id, audience_id, interest_id FROM mailchimp_lists WHERE list_id IN (`+sqlstore.Placeholders(len(args))+`) ORDER BY list_id`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []mcTarget
	for rows.Next() {
		var t mcTarget
		if err := rows.Scan(&t.listID, &t.audienceID, &t.interestID); err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

func subscriberEmail(ctx context.Context, tx *sqlstore.Tx, subID int64) (string, error) {
	var email string
	err := tx.QueryRow(ctx, `SELECT email FROM subscribers WHERE id = ?`, subID).Scan(&email)
	if sqlstore.IsNoRows(err) {
		return "", notFound("Subscriber")
	}
	return email, err
}

// Unconnected reports, in tx, that no list is connected to Mailchimp: no
// event can matter to the sync then, and the dispatcher skips them unread.
func (db *Store) Unconnected(ctx context.Context, tx *sqlstore.Tx) (bool, error) {
	var linked bool
	err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM mailchimp_lists)`).Scan(&linked)
	return !linked, err
}

// HandleEvents is the Mailchimp sync's event consumer: it turns
// changes to subscriptions of connected lists into member jobs, in the
// transaction that advances its cursor. Changes Mailchimp made (actor
// "mailchimp") queue nothing.
func (db *Store) HandleEvents(ctx context.Context, tx *sqlstore.Tx, evs []herald.Event) error {
	var links int
	if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM mailchimp_lists`).Scan(&links); err != nil || links == 0 {
		return err // nothing is connected: nothing to do
	}
	for _, e := range evs {
		d, err := e.Decode()
		if err != nil {
			return fmt.Errorf("event %d: %w", e.ID, err)
		}
		if d.Actor == herald.ActorMailchimp {
			continue
		}
		switch {
		case e.Kind == herald.EventConfirmed:
			err = db.mcChanged(ctx, tx, MailchimpUpsert, e.SubscriberID, e.ListID)
		case e.Kind == herald.EventUnsubscribed,
			e.Kind == herald.EventSubscriptionChanged && d.From == herald.StatusConfirmed:
			err = db.mcChanged(ctx, tx, MailchimpUnsubscribe, e.SubscriberID, e.ListID)
		case e.Kind == herald.EventProfileChanged:
			err = db.mcProfileChanged(ctx, tx, e.SubscriberID, d)
		case e.Kind == herald.EventErased:
			err = db.mcErasing(ctx, tx, e.SubscriberID, d)
		}
		if err != nil {
			return fmt.Errorf("event %d (%s): %w", e.ID, e.Kind, err)
		}
	}
	return nil
}

// mcChanged queues op for a list if it is connected to Mailchimp, with
// the subscriber's address now (none if they were erased since: the
// erasure's delete covers them).
func (db *Store) mcChanged(ctx context.Context, tx *sqlstore.Tx, op string, subID, listID int64) error {
	targets, err := targetsOf(ctx, tx, []int64{listID})
	if err != nil || len(targets) == 0 {
		return err
	}
	email, err := subscriberEmail(ctx, tx, subID)
	if herald.ErrorCode(err) == herald.ENOTFOUND {
		return nil
	} else if err != nil {
		return err
	}
	return db.enqueueMember(ctx, tx, op, targets[0], subID, email, "")
}

// mcProfileChanged follows a change of a subscriber's name or address:
// their confirmed members are upserted again, and when the address
// changed, the member of the old address is unsubscribed.
func (db *Store) mcProfileChanged(ctx context.Context, tx *sqlstore.Tx, subID int64, d herald.EventData) error {
	email, err := subscriberEmail(ctx, tx, subID)
	if herald.ErrorCode(err) == herald.ENOTFOUND {
		return nil
	} else if err != nil {
		return err
	}
	rows, err := tx.Query(ctx, `SELECT ml.list_id, ml.audience_id, ml.interest_id FROM subscriptions s
		JOIN mailchimp_lists ml ON ml.list_id = s.list_id WHERE s.subscriber_id = ? AND s.status = 'confirmed' ORDER BY ml.list_id`, subID)
	if err != nil {
		return err
	}
	var targets []mcTarget
	for rows.Next() {
		var t mcTarget
		if err := rows.Scan(&t.listID, &t.audienceID, &t.interestID); err != nil {
			rows.Close()
			return err
		}
		targets = append(targets, t)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, t := range targets {
		if d.AddressChanged && d.OldAddressMD5 != "" && d.OldAddressMD5 != sqlstore.AddressMD5(email) {
			if err := db.enqueueMember(ctx, tx, MailchimpUnsubscribe, t, subID, "", d.OldAddressMD5); err != nil {
				return err
			}
		}
		if err := db.enqueueMember(ctx, tx, MailchimpUpsert, t, subID, email, ""); err != nil {
			return err
		}
	}
	return nil
}

// mcErasing follows an erasure: it drops the subscriber's queued and
// failed sync jobs (which hold their address) and queues one
// delete-permanent per audience the subscriber may be a member of, by the
// hash of the address, which is all the erasure left.
func (db *Store) mcErasing(ctx context.Context, tx *sqlstore.Tx, subID int64, d herald.EventData) error {
	if _, err := tx.Exec(ctx, `DELETE FROM jobs WHERE status <> 'running'
		AND id IN (SELECT job_id FROM mailchimp_sync_keys WHERE subscriber_id = ?)`, subID); err != nil {
		return err
	}
	if d.AddressMD5 == "" || len(d.Lists) == 0 {
		return nil
	}
	args := make([]any, len(d.Lists))
	for i, id := range d.Lists {
		args[i] = id
	}
	rows, err := tx.Query(ctx, `SELECT list_id, audience_id FROM mailchimp_lists WHERE list_id IN (`+sqlstore.Placeholders(len(args))+`) ORDER BY list_id`, args...)
	if err != nil {
		return err
	}
	var targets []mcTarget
	seen := map[string]bool{}
	for rows.Next() {
		var t mcTarget
		if err := rows.Scan(&t.listID, &t.audienceID); err != nil {
			rows.Close()
			return err
		}
		if !seen[t.audienceID] {
			seen[t.audienceID] = true
			targets = append(targets, t)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, t := range targets {
		if err := db.enqueueMember(ctx, tx, MailchimpDelete, t, subID, "", d.AddressMD5); err != nil {
			return err
		}
	}
	return nil
}

// MailchimpMemberOp decodes a member job and decrypts its address.
func (db *Store) MailchimpMemberOp(job herald.Job) (*MailchimpMemberJob, error) {
	var p MailchimpMemberJob
	if err := json.Unmarshal(job.Payload, &p); err != nil {
		return nil, fmt.Errorf("bad payload: %w", err)
	}
	if p.SealedEmail == "" {
		return &p, nil
	}
	email, err := db.unseal(p.SealedEmail)
	if err != nil {
		return nil, err
	}
	p.Email = email
	if p.MemberHash == "" { // queued before member_hash existed
		p.MemberHash = sqlstore.AddressMD5(email)
	}
	return &p, nil
}

// MailchimpJobWait reports whether an older unfinished job for the same
// member must run first, and roughly how long to wait before asking again.
// Jobs that failed for good do not hold the others back.
func (db *Store) MailchimpJobWait(ctx context.Context, jobID int64, memberKey string) (bool, time.Duration, error) {
	var wait time.Duration
	var blocked bool
	err := db.read(ctx, func(tx *sqlstore.Tx) error {
		var status string
		var runAt time.Time
		err := tx.QueryRow(ctx, `SELECT j.status, j.run_at FROM mailchimp_sync_keys k JOIN jobs j ON j.id = k.job_id
			WHERE k.member_key = ? AND k.job_id < ? AND j.status <> 'failed' ORDER BY k.job_id LIMIT 1`, memberKey, jobID).Scan(&status, &runAt)
		if sqlstore.IsNoRows(err) {
			return nil
		} else if err != nil {
			return err
		}
		blocked = true
		wait = 250 * time.Millisecond
		if d := runAt.Sub(tx.Now()); status == herald.JobPending && d > 0 {
			wait += d
		}
		wait = min(wait, time.Minute)
		return nil
	})
	return blocked, wait, err
}

// MailchimpMemberData is what an upsert tells Mailchimp about a subscriber,
// read when the job runs.
type MailchimpMemberData struct {
	Email    string
	Name     string
	Status   string // the subscription's status now ("" if there is none)
	SignupIP string
	SignupAt time.Time
	OptIP    string
	OptAt    time.Time
}

// MailchimpMemberData returns a subscriber's name and the consent metadata
// of their subscription to a list: where and when they signed up and
// confirmed, from the consent ledger. ENOTFOUND once they are erased.
func (db *Store) MailchimpMemberData(ctx context.Context, subID, listID int64) (*MailchimpMemberData, error) {
	var d *MailchimpMemberData
	err := db.read(ctx, func(tx *sqlstore.Tx) error {
		var slug string
		if err := tx.QueryRow(ctx, `SELECT slug FROM lists WHERE id = ?`, listID).Scan(&slug); err != nil && !sqlstore.IsNoRows(err) {
			return err
		}
		metas, err := memberMeta(ctx, tx, []int64{subID}, listID, slug)
		if err != nil {
			return err
		}
		if d = metas[subID]; d == nil {
			return notFound("Subscriber")
		}
		return nil
	})
	return d, err
}

// memberMeta reads, for several subscribers, their address, name,
// subscription status and consent metadata for one list.
func memberMeta(ctx context.Context, tx *sqlstore.Tx, subIDs []int64, listID int64, slug string) (map[int64]*MailchimpMemberData, error) {
	out := make(map[int64]*MailchimpMemberData, len(subIDs))
	if len(subIDs) == 0 {
		return out, nil
	}
	args := make([]any, 0, len(subIDs)+1)
	args = append(args, listID)
	for _, id := range subIDs {
		args = append(args, id)
	}
	in := sqlstore.Placeholders(len(subIDs))
	rows, err := tx.Query(ctx, `SELECT sub.id, sub.email, sub.name, COALESCE(s.status, ''), s.confirmed_at FROM subscribers sub
		LEFT JOIN subscriptions s ON s.subscriber_id = sub.id AND s.list_id = ? WHERE sub.id IN (`+in+`)`, args...)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var id int64
		var d MailchimpMemberData
		var confirmed sql.NullTime
		if err := rows.Scan(&id, &d.Email, &d.Name, &d.Status, &confirmed); err != nil {
			rows.Close()
			return nil, err
		}
		if confirmed.Valid {
			d.OptAt = confirmed.Time.UTC()
		}
		out[id] = &d
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows, err = tx.Query(ctx, `SELECT subscriber_id, kind, actor, created_at, ip, lists, detail FROM consent_events
		WHERE subscriber_id IN (`+in+`) AND kind IN ('signup_request', 'preference_change', 'operator_add', 'confirmation', 'import')
		ORDER BY id`, args[1:]...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var kind, actor, ip, lists, detail string
		var at time.Time
		if err := rows.Scan(&id, &kind, &actor, &at, &ip, &lists, &detail); err != nil {
			return nil, err
		}
		d := out[id]
		if d == nil || !hasSlug(lists, slug) {
			continue
		}
		at = at.UTC()
		switch {
		case kind == herald.ConsentConfirm, kind == herald.ConsentImport && strings.HasPrefix(detail, importConfirmDetail):
			d.OptIP, d.OptAt = ip, at
		case kind == herald.ConsentImport && strings.HasPrefix(detail, importOptinDetail), kind != herald.ConsentImport:
			d.SignupIP, d.SignupAt = ip, at
		}
	}
	return out, rows.Err()
}

func hasSlug(lists, slug string) bool {
	for lists != "" {
		var s string
		s, lists, _ = strings.Cut(lists, ",")
		if s == slug {
			return true
		}
	}
	return false
}

// MailchimpMarkPending records Mailchimp's refusal to subscribe a member
// in compliance state: the subscription goes back to pending (the reader
// confirms through the mail Mailchimp sends; its "subscribe" webhook then
// confirms it here), with the reason in the ledger.
func (db *Store) MailchimpMarkPending(ctx context.Context, subID, listID int64, detail string) error {
	return db.write(ctx, func(tx *sqlstore.Tx) error {
		var slug string
		if err := tx.QueryRow(ctx, `SELECT slug FROM lists WHERE id = ?`, listID).Scan(&slug); err != nil {
			if sqlstore.IsNoRows(err) {
				return nil
			}
			return err
		}
		res, err := tx.Exec(ctx, `UPDATE subscriptions SET status = 'pending', updated_at = ?
			WHERE subscriber_id = ? AND list_id = ? AND status = 'confirmed'`, tx.Now(), subID, listID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		tx.AppendEvent(herald.EventSubscriptionChanged, subID, listID, herald.EventData{Actor: herald.ActorMailchimp,
			From: herald.StatusConfirmed, To: herald.StatusPending})
		return sqlstore.AddConsent(ctx, tx, subID, herald.ConsentResubscribed, sqlstore.Meta{Actor: herald.ActorMailchimp, Detail: detail}, []string{slug}, nil)
	})
}

// StartMailchimpSync queues a bulk reconciliation of a connected list. A
// sync already queued or running is left alone and returned.
func (db *Store) StartMailchimpSync(ctx context.Context, idOrSlug string) (*MailchimpLink, error) {
	var k *MailchimpLink
	err := db.write(ctx, func(tx *sqlstore.Tx) error {
		l, err := sqlstore.GetList(ctx, tx, idOrSlug)
		if err != nil {
			return err
		}
		if k, err = mailchimpLink(ctx, tx, l.ID); err != nil {
			return err
		}
		if k.Sync.State == "queued" || k.Sync.State == "running" {
			return nil
		}
		if _, err := tx.Exec(ctx, `UPDATE mailchimp_lists SET sync_state = 'queued', sync_cursor = 0, sync_members = 0, sync_created = 0,
			sync_updated = 0, sync_errors = 0, sync_error = '', sync_started_at = ?, sync_finished_at = NULL WHERE list_id = ?`, tx.Now(), l.ID); err != nil {
			return err
		}
		if err := enqueueJob(ctx, tx, JobMailchimpSync, MailchimpSyncJob{ListID: l.ID}); err != nil {
			return err
		}
		k, err = mailchimpLink(ctx, tx, l.ID)
		return err
	})
	return k, err
}

// MailchimpLinkByID returns a list's link by list id.
func (db *Store) MailchimpLinkByID(ctx context.Context, listID int64) (*MailchimpLink, error) {
	var k *MailchimpLink
	err := db.read(ctx, func(tx *sqlstore.Tx) (err error) {
		k, err = mailchimpLink(ctx, tx, listID)
		return err
	})
	return k, err
}

// SyncCursor is where the list's bulk sync has got to (a subscriber id).
func (k *MailchimpLink) SyncCursor() int64 { return k.Sync.cursor }

// MailchimpSyncMember is one subscriber of a bulk sync page.
type MailchimpSyncMember struct {
	SubscriberID int64
	MailchimpMemberData
}

// MailchimpSyncPage returns up to n subscribers of a list with a confirmed
// or unsubscribed subscription and an id above after, by id (keyset), with
// their consent metadata, and the time the page was read.
func (db *Store) MailchimpSyncPage(ctx context.Context, listID, after int64, n int) ([]MailchimpSyncMember, time.Time, error) {
	var out []MailchimpSyncMember
	var readAt time.Time
	err := db.read(ctx, func(tx *sqlstore.Tx) error {
		readAt = tx.Now()
		var slug string
		if err := tx.QueryRow(ctx, `SELECT slug FROM lists WHERE id = ?`, listID).Scan(&slug); err != nil {
			if sqlstore.IsNoRows(err) {
				return notFound("List")
			}
			return err
		}
		rows, err := tx.Query(ctx, `SELECT subscriber_id FROM subscriptions WHERE list_id = ? AND subscriber_id > ?
			AND status IN ('confirmed', 'unsubscribed') ORDER BY subscriber_id LIMIT ?`, listID, after, n)
		if err != nil {
			return err
		}
		ids, err := scanIDs(rows)
		if err != nil {
			return err
		}
		metas, err := memberMeta(ctx, tx, ids, listID, slug)
		if err != nil {
			return err
		}
		for _, id := range ids {
			if d := metas[id]; d != nil {
				out = append(out, MailchimpSyncMember{SubscriberID: id, MailchimpMemberData: *d})
			}
		}
		return nil
	})
	return out, readAt, err
}

// MailchimpSyncProgress records a bulk sync's progress. state is
// "running", "done" or "failed".
func (db *Store) MailchimpSyncProgress(ctx context.Context, listID, cursor int64, st MailchimpSyncState) error {
	return db.write(ctx, func(tx *sqlstore.Tx) error {
		var finished any
		if st.State == "done" || st.State == "failed" {
			finished = tx.Now()
		}
		_, err := tx.Exec(ctx, `UPDATE mailchimp_lists SET sync_state = ?, sync_cursor = ?, sync_members = ?, sync_created = ?,
			sync_updated = ?, sync_errors = ?, sync_error = ?, sync_finished_at = ? WHERE list_id = ?`,
			st.State, cursor, st.Members, st.Created, st.Updated, st.Errors, clip(st.LastError, 1000), finished, listID)
		return err
	})
}

// MailchimpResyncChanged queues member jobs for those of subIDs whose
// subscription to the list changed after since: a bulk sync read them
// before the change, and its batch may have reached Mailchimp after the
// change's own job. It reports how many it queued.
func (db *Store) MailchimpResyncChanged(ctx context.Context, listID int64, subIDs []int64, since time.Time) (int, error) {
	if len(subIDs) == 0 {
		return 0, nil
	}
	n := 0
	err := db.write(ctx, func(tx *sqlstore.Tx) error {
		targets, err := targetsOf(ctx, tx, []int64{listID})
		if err != nil || len(targets) == 0 {
			return err
		}
		args := []any{listID, since}
		for _, id := range subIDs {
			args = append(args, id)
		}
		rows, err := tx.Query(ctx, `SELECT s.subscriber_id, s.status, sub.email FROM subscriptions s JOIN subscribers sub ON sub.id = s.subscriber_id
			WHERE s.list_id = ? AND s.updated_at >= ? AND s.subscriber_id IN (`+sqlstore.Placeholders(len(subIDs))+`)`, args...)
		if err != nil {
			return err
		}
		type ch struct {
			id            int64
			status, email string
		}
		var changes []ch
		for rows.Next() {
			var c ch
			if err := rows.Scan(&c.id, &c.status, &c.email); err != nil {
				rows.Close()
				return err
			}
			changes = append(changes, c)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, c := range changes {
			op := MailchimpUnsubscribe
			if c.status == herald.StatusConfirmed {
				op = MailchimpUpsert
			}
			if err := db.enqueueMember(ctx, tx, op, targets[0], c.id, c.email, ""); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	return n, err
}

// MailchimpWebhookOp decodes a webhook job.
func MailchimpWebhookOp(job herald.Job) (*MailchimpWebhookJob, error) {
	var p MailchimpWebhookJob
	if err := json.Unmarshal(job.Payload, &p); err != nil {
		return nil, fmt.Errorf("bad payload: %w", err)
	}
	return &p, nil
}
