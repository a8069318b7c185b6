package mcstore

// Mailchimp → Herald: applying webhook events. Mailchimp may deliver an
// event more than once, late, and out of order, and it also reports the
// changes Herald itself made through the API. So:
//
//   - a post already applied (same keyed hash of the whole form) changes
//     nothing and is not recorded again;
//   - an event fired before the newest event already applied for the same
//     member is stale: recorded in the ledger as not applied;
//   - an event that would subscribe someone applies only if it fired at or
//     after the subscription's last change in Herald; one that
//     unsubscribes applies unless the subscription changed in Herald more
//     than a second after it fired (fired_at has one-second resolution):
//     when in doubt, the reader is not mailed;
//   - a subscribe event never brings back an address suppressed (erased,
//     bounced, reported) after the event fired.
//
// Every applied or refused event is in the consent ledger with actor
// "mailchimp"; changes made here queue no sync back to Mailchimp.

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/sqlstore"
)

// MailchimpEvent is a parsed webhook, as the store needs it.
type MailchimpEvent struct {
	Key        string // identifies this very post (a keyed hash of the form), for replays
	Type       string // subscribe, unsubscribe, profile, upemail, cleaned
	Change     string // subscribed, unsubscribed, complaint, bounced, profile, email
	FiredAt    time.Time
	AudienceID string
	Email      string // the member's address (the new one for upemail)
	OldEmail   string // upemail: the previous address
	FirstName  string
	LastName   string
	HasName    bool // the event carries FNAME or LNAME
	Action     string
	Reason     string
	CampaignID string
	IP         string
	// Groups are the member's interests by category id, for the categories
	// the event reports; an absent category says nothing about its groups.
	Groups map[string][]string
}

// MailchimpEventResult says what applying an event did.
type MailchimpEventResult struct {
	Replay  bool     // already applied: nothing done
	Stale   bool     // older than an event already applied: recorded, not applied
	Ignored string   // why nothing was done, if so
	Changed []string // slugs of the lists whose subscription changed
}

const webhookEventRetention = 30 * 24 * time.Hour

// ApplyMailchimpEvent applies one webhook event in one transaction.
func (db *Store) ApplyMailchimpEvent(ctx context.Context, e MailchimpEvent) (*MailchimpEventResult, error) {
	var res *MailchimpEventResult
	err := db.write(ctx, func(tx *sqlstore.Tx) (err error) {
		res, err = db.applyEvent(ctx, tx, e)
		return err
	})
	return res, err
}

type webhookApply struct {
	tx    *sqlstore.Tx
	e     MailchimpEvent
	res   *MailchimpEventResult
	links []*MailchimpLink
	stale bool
	notes []string
}

func (db *Store) applyEvent(ctx context.Context, tx *sqlstore.Tx, e MailchimpEvent) (*MailchimpEventResult, error) {
	res := &MailchimpEventResult{}
	e.FiredAt = e.FiredAt.UTC()
	if _, err := tx.Exec(ctx, `DELETE FROM mailchimp_webhook_events WHERE created_at < ?`, tx.Now().Add(-webhookEventRetention)); err != nil {
		return nil, err
	}
	ins, err := tx.Exec(ctx, `INSERT INTO mailchimp_webhook_events (event_key, created_at) VALUES (?, ?) ON CONFLICT (event_key) DO NOTHING`, e.Key, tx.Now())
	if err != nil {
		return nil, err
	}
	if n, _ := ins.RowsAffected(); n == 0 {
		res.Replay = true
		return res, nil
	}
	links, err := linksWhere(ctx, tx, ` WHERE ml.audience_id = ?`, e.AudienceID)
	if err != nil {
		return nil, err
	}
	if len(links) == 0 {
		res.Ignored = "no list is connected to this audience"
		return res, nil
	}
	who := e.Email
	if e.Change == "email" {
		who = e.OldEmail
	}
	key := strings.ToLower(strings.TrimSpace(who))
	mark := db.webhookMarkKey(e.AudienceID, key)
	last, err := lockWebhookMark(ctx, tx, mark)
	if err != nil {
		return nil, err
	}
	w := &webhookApply{tx: tx, e: e, res: res, links: links, stale: e.FiredAt.Before(last)}
	res.Stale = w.stale
	if w.stale {
		w.note("not applied: Mailchimp fired it before an event already applied (%s)", last.UTC().Format(time.RFC3339))
	}

	var subID int64
	err = tx.QueryRow(ctx, `SELECT id FROM subscribers WHERE email_key = ?`, key).Scan(&subID)
	if err != nil && !sqlstore.IsNoRows(err) {
		return nil, err
	}
	switch e.Change {
	case "subscribed":
		subID, err = w.subscribe(ctx, subID, key)
	case "unsubscribed", "complaint", "bounced":
		err = w.unsubscribe(ctx, subID, key)
	case "profile":
		err = w.profile(ctx, subID)
	case "email":
		err = w.email(ctx, subID)
	default:
		res.Ignored = "nothing to do for this event"
		return res, nil
	}
	if err != nil {
		return nil, err
	}
	if !w.stale {
		if err := setWebhookMark(ctx, tx, mark, e.FiredAt); err != nil {
			return nil, err
		}
		if e.Change == "email" {
			if err := setWebhookMark(ctx, tx, db.webhookMarkKey(e.AudienceID, strings.ToLower(e.Email)), e.FiredAt); err != nil {
				return nil, err
			}
		}
	}
	if subID == 0 {
		if res.Ignored == "" {
			res.Ignored = "the address is not a subscriber"
		}
		return res, nil
	}
	return res, w.record(ctx, subID)
}

func (w *webhookApply) note(format string, args ...any) {
	w.notes = append(w.notes, fmt.Sprintf(format, args...))
}

// lockWebhookMark returns the member's watermark, taking a row lock on
// PostgreSQL (the UPDATE) so concurrent events for one member apply one
// after the other.
func lockWebhookMark(ctx context.Context, tx *sqlstore.Tx, mark string) (time.Time, error) {
	epoch := time.Unix(0, 0).UTC()
	if _, err := tx.Exec(ctx, `INSERT INTO mailchimp_webhook_marks (member_key, fired_at) VALUES (?, ?) ON CONFLICT (member_key) DO NOTHING`, mark, epoch); err != nil {
		return time.Time{}, err
	}
	if _, err := tx.Exec(ctx, `UPDATE mailchimp_webhook_marks SET fired_at = fired_at WHERE member_key = ?`, mark); err != nil {
		return time.Time{}, err
	}
	var t time.Time
	err := tx.QueryRow(ctx, `SELECT fired_at FROM mailchimp_webhook_marks WHERE member_key = ?`, mark).Scan(&t)
	return t.UTC(), err
}

func setWebhookMark(ctx context.Context, tx *sqlstore.Tx, mark string, t time.Time) error {
	_, err := tx.Exec(ctx, `INSERT INTO mailchimp_webhook_marks (member_key, fired_at) VALUES (?, ?)
		ON CONFLICT (member_key) DO UPDATE SET fired_at = CASE WHEN excluded.fired_at > mailchimp_webhook_marks.fired_at
			THEN excluded.fired_at ELSE mailchimp_webhook_marks.fired_at END`, mark, t)
	return err
}

// inList reports whether the event puts the member in a link's list:
// always for a link to a whole audience; for an interest, when the event
// names the interest's category (known) and the interest is among its
// groups.
func (w *webhookApply) inList(k *MailchimpLink) (in, known bool) {
	if k.InterestID == "" {
		return true, true
	}
	groups, ok := w.e.Groups[k.CategoryID]
	if !ok {
		return false, false
	}
	for _, g := range groups {
		if strings.EqualFold(strings.TrimSpace(g), k.InterestName) {
			return true, true
		}
	}
	return false, true
}

type subRow struct {
	status    string
	updatedAt time.Time
	exists    bool
}

func (w *webhookApply) subscription(ctx context.Context, subID, listID int64) (subRow, error) {
	var r subRow
	err := w.tx.QueryRow(ctx, `SELECT status, updated_at FROM subscriptions WHERE subscriber_id = ? AND list_id = ?`, subID, listID).Scan(&r.status, &r.updatedAt)
	if sqlstore.IsNoRows(err) {
		return r, nil
	}
	r.exists = err == nil
	r.updatedAt = r.updatedAt.UTC()
	return r, err
}

// later returns the later of the event's time and t.
func (w *webhookApply) later(t time.Time) time.Time {
	if w.e.FiredAt.After(t) {
		return w.e.FiredAt
	}
	return t
}

func (w *webhookApply) confirm(ctx context.Context, subID int64, k *MailchimpLink) error {
	cur, err := w.subscription(ctx, subID, k.ListID)
	if err != nil {
		return err
	}
	switch {
	case cur.status == herald.StatusConfirmed:
		w.note("%s: already confirmed", k.List)
		return nil
	case cur.exists && w.e.FiredAt.Before(cur.updatedAt):
		w.note("%s: not applied: the subscription changed in Herald after Mailchimp fired the event", k.List)
		return nil
	}
	at := w.later(cur.updatedAt)
	err = sqlstore.ConfirmSubscriptionAt(ctx, w.tx, subID, k.ListID, at, w.e.FiredAt)
	if err != nil {
		return err
	}
	w.tx.AppendEvent(herald.EventConfirmed, subID, k.ListID, herald.EventData{Actor: herald.ActorMailchimp, From: cur.status, To: herald.StatusConfirmed})
	w.res.Changed = append(w.res.Changed, k.List)
	return nil
}

func (w *webhookApply) leave(ctx context.Context, subID int64, k *MailchimpLink) error {
	cur, err := w.subscription(ctx, subID, k.ListID)
	if err != nil {
		return err
	}
	switch {
	case !cur.exists:
		return nil
	case cur.status == herald.StatusUnsubscribed:
		w.note("%s: already unsubscribed", k.List)
		return nil
	case w.e.FiredAt.Add(time.Second).Before(cur.updatedAt):
		w.note("%s: not applied: the subscription changed in Herald after Mailchimp fired the event", k.List)
		return nil
	}
	if _, err := w.tx.Exec(ctx, `UPDATE subscriptions SET status = 'unsubscribed', updated_at = ?, unsubscribed_at = ?
		WHERE subscriber_id = ? AND list_id = ?`, w.later(cur.updatedAt), w.e.FiredAt, subID, k.ListID); err != nil {
		return err
	}
	w.tx.AppendEvent(herald.EventUnsubscribed, subID, k.ListID, herald.EventData{Actor: herald.ActorMailchimp, From: cur.status, To: herald.StatusUnsubscribed})
	w.res.Changed = append(w.res.Changed, k.List)
	return nil
}

func (w *webhookApply) subscribe(ctx context.Context, subID int64, key string) (int64, error) {
	var targets []*MailchimpLink
	for _, k := range w.links {
		if in, _ := w.inList(k); in {
			targets = append(targets, k)
		}
	}
	if w.stale {
		return subID, nil
	}
	if len(targets) == 0 {
		w.note("no connected list is among the member's interests")
		return subID, nil
	}
	supAt, sup, err := sqlstore.Suppression(ctx, w.tx, key)
	if err != nil {
		return subID, err
	}
	if sup && !w.e.FiredAt.After(supAt) {
		w.stale = true
		w.note("not applied: the address was suppressed (erased, bounced or reported) after Mailchimp fired the event")
		return subID, nil
	}
	if subID == 0 {
		email, _, err := herald.NormalizeEmail(w.e.Email)
		if err != nil {
			w.res.Ignored = "the address is not one Herald accepts"
			return 0, nil
		}
		name, _ := herald.CleanName(joinName(w.e.FirstName, w.e.LastName))
		if err := w.tx.QueryRow(ctx, `INSERT INTO subscribers (email, email_key, name, attributes, created_at, updated_at)
			VALUES (?, ?, ?, '{}', ?, ?) RETURNING id`, email, key, name, w.tx.Now(), w.tx.Now()).Scan(&subID); err != nil {
			return 0, err
		}
		w.tx.AppendEvent(herald.EventCreated, subID, 0, herald.EventData{Actor: herald.ActorMailchimp})
		w.note("new subscriber")
	}
	if sup {
		if err := sqlstore.LiftSuppression(ctx, w.tx, key); err != nil {
			return subID, err
		}
		w.note("suppression lifted: the reader subscribed again through Mailchimp")
	}
	for _, k := range targets {
		if err := w.confirm(ctx, subID, k); err != nil {
			return subID, err
		}
	}
	return subID, nil
}

func (w *webhookApply) unsubscribe(ctx context.Context, subID int64, key string) error {
	if w.stale {
		return nil
	}
	if subID != 0 {
		for _, k := range w.links {
			if err := w.leave(ctx, subID, k); err != nil {
				return err
			}
		}
	}
	var reason string
	switch w.e.Change {
	case "complaint":
		reason = "mailchimp: spam complaint"
	case "bounced":
		reason = "mailchimp: cleaned (" + w.e.Reason + ")"
	default:
		return nil
	}
	if _, sup, err := sqlstore.Suppression(ctx, w.tx, key); err != nil || sup {
		if sup {
			w.note("already suppressed")
		}
		return err
	}
	w.note("address suppressed")
	return sqlstore.SuppressAddress(ctx, w.tx, key, reason)
}

func (w *webhookApply) profile(ctx context.Context, subID int64) error {
	if w.stale || subID == 0 {
		return nil
	}
	if w.e.HasName {
		name, err := herald.CleanName(joinName(w.e.FirstName, w.e.LastName))
		if err == nil {
			res, err := w.tx.Exec(ctx, `UPDATE subscribers SET name = ?, updated_at = ? WHERE id = ? AND name <> ?`, name, w.tx.Now(), subID, name)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n > 0 {
				w.tx.AppendEvent(herald.EventProfileChanged, subID, 0, herald.EventData{Actor: herald.ActorMailchimp})
				w.note("name changed")
			}
		}
	}
	for _, k := range w.links {
		in, known := w.inList(k)
		if k.InterestID == "" || !known {
			continue
		}
		var err error
		if in {
			err = w.confirm(ctx, subID, k)
		} else {
			err = w.leave(ctx, subID, k)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (w *webhookApply) email(ctx context.Context, subID int64) error {
	if w.stale || subID == 0 {
		return nil
	}
	email, key, err := herald.NormalizeEmail(w.e.Email)
	if err != nil {
		w.note("not applied: the new address is not one Herald accepts")
		return nil
	}
	var other int64
	err = w.tx.QueryRow(ctx, `SELECT id FROM subscribers WHERE email_key = ?`, key).Scan(&other)
	switch {
	case err == nil && other != subID:
		w.note("not applied: another subscriber has the new address")
		return nil
	case err != nil && !sqlstore.IsNoRows(err):
		return err
	}
	var oldKey string
	if err := w.tx.QueryRow(ctx, `SELECT email_key FROM subscribers WHERE id = ?`, subID).Scan(&oldKey); err != nil {
		return err
	}
	w.tx.AppendEvent(herald.EventProfileChanged, subID, 0, herald.EventData{Actor: herald.ActorMailchimp,
		AddressChanged: oldKey != key, OldAddressMD5: sqlstore.AddressMD5(oldKey)})
	if _, err := w.tx.Exec(ctx, `UPDATE subscribers SET email = ?, email_key = ?, updated_at = ? WHERE id = ?`, email, key, w.tx.Now(), subID); err != nil {
		return err
	}
	if _, err := w.tx.Exec(ctx, `UPDATE outbox SET to_key = ? WHERE to_key = ?`, key, oldKey); err != nil {
		return err
	}
	if _, sup, err := sqlstore.Suppression(ctx, w.tx, key); err != nil {
		return err
	} else if err := sqlstore.SetSuppressedFlag(ctx, w.tx, key, sup); err != nil {
		return err
	}
	w.note("address changed")
	return nil
}

// record writes the event to the subscriber's consent ledger.
func (w *webhookApply) record(ctx context.Context, subID int64) error {
	e := w.e
	kind := herald.ConsentProfileEdit
	switch e.Change {
	case "subscribed":
		kind = herald.ConsentConfirm
	case "unsubscribed", "complaint", "bounced":
		kind = herald.ConsentUnsubscribe
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Mailchimp webhook %q", e.Type)
	var attrs []string
	for _, kv := range [][2]string{{"action", e.Action}, {"reason", e.Reason}, {"campaign", e.CampaignID}} {
		if kv[1] != "" {
			attrs = append(attrs, kv[0]+" "+kv[1])
		}
	}
	if e.Change == "email" {
		attrs = append(attrs, "from "+e.OldEmail+" to "+e.Email)
	}
	if len(attrs) > 0 {
		b.WriteString(" (" + strings.Join(attrs, ", ") + ")")
	}
	fmt.Fprintf(&b, ", audience %s, fired at %s", e.AudienceID, e.FiredAt.Format("2006-01-02 15:04:05")+" UTC")
	switch {
	case w.stale:
	case len(w.res.Changed) > 0:
		fmt.Fprintf(&b, "; applied to %s", strings.Join(w.res.Changed, ", "))
	default:
		b.WriteString("; no subscription changed")
	}
	if len(w.notes) > 0 {
		b.WriteString("; " + strings.Join(w.notes, "; "))
	}
	lists := w.res.Changed
	if len(lists) == 0 {
		for _, k := range w.links {
			lists = append(lists, k.List)
		}
	}
	ip := e.IP
	if len(ip) > 64 {
		ip = ""
	}
	return sqlstore.AddConsent(ctx, w.tx, subID, kind, sqlstore.Meta{Actor: herald.ActorMailchimp, IP: ip, UserAgent: "Mailchimp webhook", Detail: b.String()}, lists, nil)
}

func joinName(first, last string) string {
	return strings.TrimSpace(strings.TrimSpace(first) + " " + strings.TrimSpace(last))
}
