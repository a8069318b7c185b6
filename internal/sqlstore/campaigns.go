package sqlstore

import (
	"context"
	"database/sql"
	"strings"
	"time"

	"github.com/heraldhq/herald"
)

// Campaigns: what editors write, and the transitions of their status. The
// delivery ledger that a running campaign works through is in deliveries.go.

// JobCampaignTest is the job kind that sends one test message of a campaign.
const JobCampaignTest = "campaign_test"

// CampaignTestJob is the payload of a JobCampaignTest job.
type CampaignTestJob struct {
	CampaignID int64  `json:"campaign_id"`
	Email      string `json:"email"`
	// SubscriberID, when set, is the reader the test is rendered for.
	SubscriberID int64 `json:"subscriber_id,omitempty"`
}

const campaignColumns = `c.id, c.name, c.subject, c.from_addr, c.reply_to, c.format, c.body, c.layout, c.send_at, c.status,
	c.recipients, c.sent, c.failed, c.skipped, c.rate_at0, c.rate_done0, c.rate_at1, c.rate_done1, c.last_error,
	c.started_at, c.finished_at, c.created_at, c.updated_at`

func scanCampaign(sc interface{ Scan(...any) error }, now time.Time) (*herald.Campaign, error) {
	var c herald.Campaign
	var sendAt, at0, at1, started, finished sql.NullTime
	var done0, done1 int64
	err := sc.Scan(&c.ID, &c.Name, &c.Subject, &c.From, &c.ReplyTo, &c.Format, &c.Body, &c.Layout, &sendAt, &c.Status,
		&c.Stats.Recipients, &c.Stats.Sent, &c.Stats.Failed, &c.Stats.Skipped, &at0, &done0, &at1, &done1, &c.LastError,
		&started, &finished, &c.CreatedAt, &c.UpdatedAt)
	if err != nil {
		return nil, err
	}
	c.CreatedAt, c.UpdatedAt = c.CreatedAt.UTC(), c.UpdatedAt.UTC()
	c.SendAt, c.StartedAt, c.FinishedAt = nullTime(sendAt), nullTime(started), nullTime(finished)
	c.Lists = []string{}
	st := &c.Stats
	st.Pending = max(0, st.Recipients-st.Sent-st.Failed-st.Skipped)
	if c.Status == herald.CampaignRunning {
		// The older of the two progress snapshots is 10–20 s old: the rate
		// over it is recent and steady.
		at, done := at0, done0
		if !at.Valid {
			at, done = at1, done1
		}
		if at.Valid {
			if secs := now.Sub(at.Time).Seconds(); secs >= 1 {
				st.Rate = float64(st.Sent+st.Failed-done) / secs
				st.Rate = float64(int64(st.Rate*10+0.5)) / 10
			}
		}
		if st.Rate > 0 && st.Pending > 0 {
			eta := now.Add(time.Duration(float64(st.Pending) / st.Rate * float64(time.Second))).Truncate(time.Second)
			st.ETA = &eta
		}
	}
	return &c, nil
}

// loadCampaignLists fills in the lists (slugs and ids) of campaigns.
func loadCampaignLists(ctx context.Context, tx *Tx, cs []*herald.Campaign) error {
	if len(cs) == 0 {
		return nil
	}
	byID := make(map[int64]*herald.Campaign, len(cs))
	ids := make([]any, 0, len(cs))
	for _, c := range cs {
		byID[c.ID] = c
		ids = append(ids, c.ID)
	}
	rows, err := tx.query(ctx, `SELECT cl.campaign_id, l.id, l.slug FROM campaign_lists cl JOIN lists l ON l.id = cl.list_id
		WHERE cl.campaign_id IN (`+placeholders(len(ids))+`) ORDER BY cl.campaign_id, l.id`, ids...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var cid, lid int64
		var slug string
		if err := rows.Scan(&cid, &lid, &slug); err != nil {
			return err
		}
		c := byID[cid]
		c.Lists = append(c.Lists, slug)
		c.ListIDs = append(c.ListIDs, lid)
	}
	return rows.Err()
}

func getCampaign(ctx context.Context, tx *Tx, id int64) (*herald.Campaign, error) {
	c, err := scanCampaign(tx.queryRow(ctx, `SELECT `+campaignColumns+` FROM campaigns c WHERE c.id = ?`, id), tx.now)
	if isNoRows(err) {
		return nil, notFound("Campaign")
	} else if err != nil {
		return nil, err
	}
	return c, loadCampaignLists(ctx, tx, []*herald.Campaign{c})
}

// GetCampaign returns a campaign with its lists and progress.
func (db *DB) GetCampaign(ctx context.Context, id int64) (*herald.Campaign, error) {
	var c *herald.Campaign
	err := db.read(ctx, func(tx *Tx) (err error) {
		c, err = getCampaign(ctx, tx, id)
		return err
	})
	return c, err
}

// CampaignFilter narrows FindCampaigns.
type CampaignFilter struct {
	Status string
	Limit  int // default 50, at most 1000
	Offset int
}

// FindCampaigns returns one page of campaigns, newest first, and the total.
func (db *DB) FindCampaigns(ctx context.Context, f CampaignFilter) ([]*herald.Campaign, int, error) {
	if f.Limit <= 0 || f.Limit > 1000 {
		f.Limit = 50
	}
	where, args := "", []any{}
	if f.Status != "" {
		if !validCampaignStatus(f.Status) {
			return nil, 0, herald.FieldError("status", "Status must be draft, scheduled, running, paused, finished or cancelled.")
		}
		where, args = ` WHERE c.status = ?`, append(args, f.Status)
	}
	var out []*herald.Campaign
	var total int
	err := db.read(ctx, func(tx *Tx) error {
		if err := tx.queryRow(ctx, `SELECT COUNT(*) FROM campaigns c`+where, args...).Scan(&total); err != nil {
			return err
		}
		rows, err := tx.query(ctx, `SELECT `+campaignColumns+` FROM campaigns c`+where+` ORDER BY c.id DESC LIMIT ? OFFSET ?`,
			append(args, f.Limit, f.Offset)...)
		if err != nil {
			return err
		}
		for rows.Next() {
			c, err := scanCampaign(rows, tx.now)
			if err != nil {
				rows.Close()
				return err
			}
			out = append(out, c)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		return loadCampaignLists(ctx, tx, out)
	})
	if out == nil {
		out = []*herald.Campaign{}
	}
	return out, total, err
}

func validCampaignStatus(s string) bool {
	switch s {
	case herald.CampaignDraft, herald.CampaignScheduled, herald.CampaignRunning, herald.CampaignPaused,
		herald.CampaignFinished, herald.CampaignCancelled:
		return true
	}
	return false
}

// setCampaignLists resolves slugs (private lists allowed) and replaces the
// campaign's lists.
func setCampaignLists(ctx context.Context, tx *Tx, c *herald.Campaign) error {
	lists, err := resolveLists(ctx, tx.db, tx, c.Lists, true)
	if err != nil {
		return err
	}
	if _, err := tx.exec(ctx, `DELETE FROM campaign_lists WHERE campaign_id = ?`, c.ID); err != nil {
		return err
	}
	for _, l := range lists {
		if _, err := tx.exec(ctx, `INSERT INTO campaign_lists (campaign_id, list_id) VALUES (?, ?)`, c.ID, l.ID); err != nil {
			return err
		}
	}
	return nil
}

// CreateCampaign validates and stores a new draft.
func (db *DB) CreateCampaign(ctx context.Context, c *herald.Campaign) error {
	if err := c.Validate(); err != nil {
		return err
	}
	return db.write(ctx, func(tx *Tx) error {
		err := tx.queryRow(ctx, `INSERT INTO campaigns (name, subject, from_addr, reply_to, format, body, layout, send_at, status, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'draft', ?, ?) RETURNING id`,
			c.Name, c.Subject, c.From, c.ReplyTo, c.Format, c.Body, c.Layout, utcPtr(c.SendAt), tx.now, tx.now).Scan(&c.ID)
		if err != nil {
			return tx.db.dialect.translate(err)
		}
		if err := setCampaignLists(ctx, tx, c); err != nil {
			return err
		}
		got, err := getCampaign(ctx, tx, c.ID)
		if err == nil {
			*c = *got
		}
		return err
	})
}

func utcPtr(t *time.Time) any {
	if t == nil || t.IsZero() {
		return nil
	}
	return t.UTC()
}

// CampaignPatch is a partial update; nil fields stay as they are. SendAt
// with ClearSendAt removes the schedule.
type CampaignPatch struct {
	Name, Subject, From, ReplyTo, Format, Body, Layout *string
	Lists                                              []string // nil = unchanged
	SendAt                                             *time.Time
	ClearSendAt                                        bool
}

// content reports whether the patch changes what readers get.
func (p CampaignPatch) content() bool {
	return p.Subject != nil || p.From != nil || p.ReplyTo != nil || p.Format != nil || p.Body != nil || p.Layout != nil
}

// UpdateCampaign applies a patch. Drafts and scheduled campaigns can change
// freely; paused ones can change their content but not their lists (the
// recipients were fixed when they started); running ones must be paused
// first; finished and cancelled ones can only be renamed. check, when not
// nil, vets the patched campaign of a scheduled or paused campaign (whose
// templates must still compile) before it is stored.
func (db *DB) UpdateCampaign(ctx context.Context, id int64, p CampaignPatch, check func(*herald.Campaign) error) (*herald.Campaign, error) {
	var out *herald.Campaign
	err := db.write(ctx, func(tx *Tx) error {
		c, err := getCampaign(ctx, tx, id)
		if err != nil {
			return err
		}
		switch c.Status {
		case herald.CampaignDraft, herald.CampaignScheduled:
		case herald.CampaignPaused:
			if p.Lists != nil && !sameStrings(p.Lists, c.Lists) {
				return &herald.Error{Code: herald.ECONFLICT, Field: "lists", Message: "The recipients were fixed when the campaign started: its lists cannot change."}
			}
			if p.SendAt != nil || p.ClearSendAt {
				return &herald.Error{Code: herald.ECONFLICT, Field: "send_at", Message: "The campaign has started: its send time cannot change."}
			}
		case herald.CampaignRunning:
			if p.content() || p.Lists != nil || p.SendAt != nil || p.ClearSendAt {
				return herald.Errorf(herald.ECONFLICT, "The campaign is sending: pause it before changing it.")
			}
		default:
			if p.content() || p.Lists != nil || p.SendAt != nil || p.ClearSendAt {
				return herald.Errorf(herald.ECONFLICT, "The campaign is %s: only its name can change.", c.Status)
			}
		}
		set := func(dst *string, v *string) {
			if v != nil {
				*dst = *v
			}
		}
		set(&c.Name, p.Name)
		set(&c.Subject, p.Subject)
		set(&c.From, p.From)
		set(&c.ReplyTo, p.ReplyTo)
		set(&c.Format, p.Format)
		set(&c.Body, p.Body)
		set(&c.Layout, p.Layout)
		if p.Lists != nil {
			c.Lists = p.Lists
		}
		if p.ClearSendAt {
			c.SendAt = nil
		} else if p.SendAt != nil {
			t := p.SendAt.UTC()
			c.SendAt = &t
		}
		if err := c.Validate(); err != nil {
			return err
		}
		if c.Status == herald.CampaignScheduled {
			if err := c.ValidateForSending(); err != nil {
				return err
			}
		}
		if check != nil && (c.Status == herald.CampaignScheduled || c.Status == herald.CampaignPaused) {
			if err := check(c); err != nil {
				return err
			}
		}
		if _, err := tx.exec(ctx, `UPDATE campaigns SET name = ?, subject = ?, from_addr = ?, reply_to = ?, format = ?, body = ?, layout = ?,
			send_at = ?, last_error = '', updated_at = ? WHERE id = ?`,
			c.Name, c.Subject, c.From, c.ReplyTo, c.Format, c.Body, c.Layout, utcPtr(c.SendAt), tx.now, id); err != nil {
			return err
		}
		if p.Lists != nil {
			if err := setCampaignLists(ctx, tx, c); err != nil {
				return err
			}
		}
		out, err = getCampaign(ctx, tx, id)
		return err
	})
	return out, err
}

func sameStrings(a, b []string) bool {
	m := map[string]int{}
	for _, s := range a {
		m[strings.TrimSpace(s)]++
	}
	for _, s := range b {
		m[s]--
	}
	for _, n := range m {
		if n != 0 {
			return false
		}
	}
	return true
}

// DeleteCampaign deletes a campaign that is not sending, with its ledger.
func (db *DB) DeleteCampaign(ctx context.Context, id int64) error {
	return db.write(ctx, func(tx *Tx) error {
		var st string
		err := tx.queryRow(ctx, `SELECT status FROM campaigns WHERE id = ?`, id).Scan(&st)
		if isNoRows(err) {
			return notFound("Campaign")
		} else if err != nil {
			return err
		}
		if st == herald.CampaignRunning {
			return herald.Errorf(herald.ECONFLICT, "The campaign is sending: pause or cancel it before deleting it.")
		}
		for _, q := range []string{`DELETE FROM deliveries WHERE campaign_id = ?`, `DELETE FROM delivery_batches WHERE campaign_id = ?`,
			`DELETE FROM campaign_lists WHERE campaign_id = ?`, `DELETE FROM campaigns WHERE id = ?`} {
			if _, err := tx.exec(ctx, q, id); err != nil {
				return err
			}
		}
		return nil
	})
}

// StartResult says what StartCampaign did.
type StartResult struct {
	Campaign *herald.Campaign
	// Fixed is how long fixing the recipient set took (zero when the
	// campaign was only scheduled).
	Fixed time.Duration
}

// StartCampaign starts a draft: when its send_at is ahead it becomes
// scheduled (the engine starts it on time); otherwise its recipient set is
// fixed at once and it runs. check vets the campaign (its templates) inside
// the transaction, so that what is checked is what starts.
func (db *DB) StartCampaign(ctx context.Context, id int64, check func(*herald.Campaign) error) (*StartResult, error) {
	res := &StartResult{}
	err := db.write(ctx, func(tx *Tx) error {
		c, err := getCampaign(ctx, tx, id)
		if err != nil {
			return err
		}
		switch c.Status {
		case herald.CampaignDraft:
		case herald.CampaignScheduled, herald.CampaignRunning:
			return herald.Errorf(herald.ECONFLICT, "The campaign is already %s.", c.Status)
		case herald.CampaignPaused:
			return herald.Errorf(herald.ECONFLICT, "The campaign is paused: resume it instead.")
		default:
			return herald.Errorf(herald.ECONFLICT, "The campaign is %s: it cannot start again (create a new one, or resend to failed recipients).", c.Status)
		}
		if err := c.ValidateForSending(); err != nil {
			return err
		}
		if len(c.ListIDs) != len(c.Lists) || len(c.ListIDs) == 0 {
			return herald.FieldError("lists", "Choose at least one list to send the campaign to.")
		}
		if check != nil {
			if err := check(c); err != nil {
				return err
			}
		}
		if c.SendAt != nil && c.SendAt.After(tx.now) {
			if _, err := tx.exec(ctx, `UPDATE campaigns SET status = 'scheduled', last_error = '', updated_at = ? WHERE id = ? AND status = 'draft'`, tx.now, id); err != nil {
				return err
			}
		} else {
			t0 := time.Now()
			if err := fixRecipients(ctx, tx, id, herald.CampaignDraft); err != nil {
				return err
			}
			res.Fixed = time.Since(t0)
		}
		res.Campaign, err = getCampaign(ctx, tx, id)
		return err
	})
	return res, err
}

// StartDue starts a scheduled campaign whose time has come, fixing its
// recipients. It reports false when the campaign is not (or no longer)
// scheduled and due, e.g. because another process started it first. check
// vets the campaign again; a failure unschedules it back to a draft with
// the reason in last_error.
func (db *DB) StartDue(ctx context.Context, id int64, check func(*herald.Campaign) error) (bool, error) {
	started := false
	var checkErr error
	err := db.write(ctx, func(tx *Tx) error {
		c, err := getCampaign(ctx, tx, id)
		if err != nil {
			return err
		}
		if c.Status != herald.CampaignScheduled || (c.SendAt != nil && c.SendAt.After(tx.now)) {
			return nil
		}
		if check != nil {
			if checkErr = check(c); checkErr != nil {
				_, err := tx.exec(ctx, `UPDATE campaigns SET status = 'draft', last_error = ?, updated_at = ? WHERE id = ? AND status = 'scheduled'`,
					clip("not started at its send time: "+herald.ErrorMessage(checkErr), 2000), tx.now, id)
				return err
			}
		}
		if err := fixRecipients(ctx, tx, id, herald.CampaignScheduled); err != nil {
			return err
		}
		started = true
		return nil
	})
	if err == nil && checkErr != nil {
		err = checkErr
	}
	return started, err
}

// fixRecipients moves a campaign from status `from` to running and writes
// its recipient set into the ledger in one INSERT … SELECT: the union of
// its lists, each subscriber once, confirmed subscriptions only, never a
// suppressed address (erased subscribers have no rows left). The status
// change comes first so that, of two processes racing, the second finds
// nothing to do (PostgreSQL makes it wait for the first's row lock).
func fixRecipients(ctx context.Context, tx *Tx, id int64, from string) error {
	res, err := tx.exec(ctx, `UPDATE campaigns SET status = 'running', started_at = ?, claim_cursor = 0, last_error = '', updated_at = ?
		WHERE id = ? AND status = ?`, tx.now, tx.now, id, from)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return herald.Errorf(herald.ECONFLICT, "The campaign was started by someone else.")
	}
	// Lists that another service delivers get no campaign from Herald.
	if err := deliveredElsewhere(ctx, tx, `SELECT l.slug, l.delivered_by FROM campaign_lists cl JOIN lists l ON l.id = cl.list_id
		WHERE cl.campaign_id = ? AND l.delivered_by <> '' ORDER BY l.slug`, id); err != nil {
		return err
	}
	// One row per subscriber: for one list the subscriptions' key makes
	// them unique and its index yields them in order; for several lists
	// the ledger's key drops the repeats. No DISTINCT: its sort would hold
	// the whole set in memory.
	var lists []any
	rows, err := tx.query(ctx, `SELECT list_id FROM campaign_lists WHERE campaign_id = ?`, id)
	if err != nil {
		return err
	}
	for rows.Next() {
		var l int64
		if err := rows.Scan(&l); err != nil {
			rows.Close()
			return err
		}
		lists = append(lists, l)
	}
	rows.Close()
	q := `INSERT INTO deliveries (campaign_id, subscriber_id, status, attempts)
		SELECT CAST(? AS BIGINT), x.subscriber_id, 'pending', 0
		FROM subscriptions x JOIN subscribers s ON s.id = x.subscriber_id
		WHERE x.list_id IN (` + placeholders(max(1, len(lists))) + `) AND x.status = 'confirmed' AND NOT s.suppressed`
	if len(lists) == 1 {
		q += ` ORDER BY x.subscriber_id`
	} else {
		q += ` ON CONFLICT (campaign_id, subscriber_id) DO NOTHING`
	}
	if len(lists) == 0 {
		lists = []any{int64(0)}
	}
	res, err = tx.exec(ctx, q, append([]any{id}, lists...)...)
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if _, err := tx.exec(ctx, `UPDATE campaigns SET recipients = ?, sent = 0, failed = 0, skipped = 0,
		rate_at0 = NULL, rate_done0 = 0, rate_at1 = ?, rate_done1 = 0 WHERE id = ?`, n, tx.now, id); err != nil {
		return err
	}
	if n == 0 {
		_, err = tx.exec(ctx, `UPDATE campaigns SET status = 'finished', finished_at = ? WHERE id = ?`, tx.now, id)
		return err
	}
	if tx.db.dialect.name() == "postgres" && n >= 1000 {
		// The planner must know that the campaign has this many rows now
		// (autovacuum would tell it minutes later): with the old figures
		// it writes outcomes by scanning the campaign's rows instead of
		// looking each one up. ANALYZE sees this transaction's rows; a
		// small sample of the two columns that matter (a tenth of the
		// default) tells it enough in a fifth of the time.
		if _, err = tx.exec(ctx, `SET LOCAL default_statistics_target = 10`); err == nil {
			_, err = tx.exec(ctx, `ANALYZE deliveries (campaign_id, status)`)
		}
	}
	return err
}

// PauseCampaign stops a running campaign; its senders stop claiming
// recipients and finish only what is in flight.
func (db *DB) PauseCampaign(ctx context.Context, id int64) (*herald.Campaign, error) {
	return db.transition(ctx, id, herald.CampaignPaused, map[string]bool{herald.CampaignRunning: true},
		"Only a running campaign can be paused.")
}

// ResumeCampaign lets a paused campaign run again.
func (db *DB) ResumeCampaign(ctx context.Context, id int64) (*herald.Campaign, error) {
	return db.transition(ctx, id, herald.CampaignRunning, map[string]bool{herald.CampaignPaused: true},
		"Only a paused campaign can be resumed.")
}

// CancelCampaign ends a scheduled, running or paused campaign for good;
// recipients not yet sent stay pending in the ledger.
func (db *DB) CancelCampaign(ctx context.Context, id int64) (*herald.Campaign, error) {
	return db.transition(ctx, id, herald.CampaignCancelled,
		map[string]bool{herald.CampaignScheduled: true, herald.CampaignRunning: true, herald.CampaignPaused: true},
		"Only a scheduled, running or paused campaign can be cancelled.")
}

func (db *DB) transition(ctx context.Context, id int64, to string, from map[string]bool, msg string) (*herald.Campaign, error) {
	var out *herald.Campaign
	err := db.write(ctx, func(tx *Tx) error {
		c, err := getCampaign(ctx, tx, id)
		if err != nil {
			return err
		}
		if !from[c.Status] {
			return herald.Errorf(herald.ECONFLICT, "%s The campaign is %s.", msg, c.Status)
		}
		q := `UPDATE campaigns SET status = ?, last_error = '' WHERE id = ? AND status = ?`
		args := []any{to, id, c.Status}
		if to == herald.CampaignCancelled {
			q = `UPDATE campaigns SET status = ?, finished_at = ? WHERE id = ? AND status = ?`
			args = []any{to, tx.now, id, c.Status}
		}
		if _, err := tx.exec(ctx, q, args...); err != nil {
			return err
		}
		if to == herald.CampaignCancelled {
			// Nothing resumes a cancelled campaign: its claims go. Senders
			// holding one notice at their next look (their renewal fails).
			if _, err := tx.exec(ctx, `DELETE FROM delivery_batches WHERE campaign_id = ?`, id); err != nil {
				return err
			}
		}
		out, err = getCampaign(ctx, tx, id)
		return err
	})
	return out, err
}

// ResendFailed queues the campaign's failed recipients for another attempt
// (due at once, attempts counted afresh) and sets a finished campaign
// running again. It returns how many were queued.
func (db *DB) ResendFailed(ctx context.Context, id int64) (int64, *herald.Campaign, error) {
	var n int64
	var out *herald.Campaign
	err := db.write(ctx, func(tx *Tx) error {
		c, err := getCampaign(ctx, tx, id)
		if err != nil {
			return err
		}
		switch c.Status {
		case herald.CampaignRunning, herald.CampaignPaused, herald.CampaignFinished:
		default:
			return herald.Errorf(herald.ECONFLICT, "The campaign is %s: only a started campaign has failed recipients to resend to.", c.Status)
		}
		res, err := tx.exec(ctx, `UPDATE deliveries SET status = 'retry', attempts = 0, next_attempt_at = ?, updated_at = ?
			WHERE campaign_id = ? AND status = 'failed'`, tx.now, tx.now, id)
		if err != nil {
			return err
		}
		if n, err = res.RowsAffected(); err != nil {
			return err
		}
		if n > 0 {
			q := `UPDATE campaigns SET failed = failed - ?, status = CASE WHEN status = 'finished' THEN 'running' ELSE status END,
				finished_at = CASE WHEN status = 'finished' THEN NULL ELSE finished_at END WHERE id = ?`
			if _, err := tx.exec(ctx, q, n, id); err != nil {
				return err
			}
		}
		out, err = getCampaign(ctx, tx, id)
		return err
	})
	return n, out, err
}

// SetCampaignError records why the sender cannot send a campaign and pauses
// it, so that an editor sees the reason instead of a campaign stuck running.
func (db *DB) SetCampaignError(ctx context.Context, id int64, msg string) error {
	return db.write(ctx, func(tx *Tx) error {
		_, err := tx.exec(ctx, `UPDATE campaigns SET status = 'paused', last_error = ? WHERE id = ? AND status = 'running'`, clip(msg, 2000), id)
		return err
	})
}

// EnqueueCampaignTests queues one test message of the campaign per
// address; the sender's job handler renders and sends them. subscriberID,
// when not 0, is the reader they are rendered for (it must exist).
func (db *DB) EnqueueCampaignTests(ctx context.Context, id int64, emails []string, subscriberID int64) error {
	return db.write(ctx, func(tx *Tx) error {
		if _, err := getCampaign(ctx, tx, id); err != nil {
			return err
		}
		if subscriberID != 0 {
			if _, err := getSubscriberRow(ctx, tx, subscriberID); err != nil {
				if herald.ErrorCode(err) == herald.ENOTFOUND {
					return herald.FieldError("subscriber", "No subscriber with id %d.", subscriberID)
				}
				return err
			}
		}
		for _, e := range emails {
			if err := enqueue(ctx, tx, JobCampaignTest, CampaignTestJob{CampaignID: id, Email: e, SubscriberID: subscriberID}, tx.now); err != nil {
				return err
			}
		}
		return nil
	})
}

// SubscriberByEmail returns the subscriber with this address (ENOTFOUND if none).
func (db *DB) SubscriberByEmail(ctx context.Context, email string) (*herald.Subscriber, error) {
	var s *herald.Subscriber
	err := db.read(ctx, func(tx *Tx) error {
		var id int64
		err := tx.queryRow(ctx, `SELECT id FROM subscribers WHERE email_key = ?`, strings.ToLower(strings.TrimSpace(email))).Scan(&id)
		if isNoRows(err) {
			return notFound("Subscriber")
		} else if err != nil {
			return err
		}
		s, err = getSubscriberRow(ctx, tx, id)
		return err
	})
	return s, err
}
