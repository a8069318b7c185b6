package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"strings"
	"time"

	"github.com/heraldhq/herald"
)

const subscriberColumns = `sub.id, sub.email, sub.name, sub.attributes, sub.created_at, sub.updated_at`

func scanSubscriber(sc interface{ Scan(...any) error }) (*herald.Subscriber, error) {
	var s herald.Subscriber
	var attrs string
	if err := sc.Scan(&s.ID, &s.Email, &s.Name, &attrs, &s.CreatedAt, &s.UpdatedAt); err != nil {
		return nil, err
	}
	s.CreatedAt, s.UpdatedAt = s.CreatedAt.UTC(), s.UpdatedAt.UTC()
	s.Attributes = map[string]any{}
	if attrs != "" && attrs != "{}" {
		_ = json.Unmarshal([]byte(attrs), &s.Attributes)
	}
	s.Subscriptions = []herald.Subscription{}
	return &s, nil
}

func getSubscriberRow(ctx context.Context, tx *Tx, id int64) (*herald.Subscriber, error) {
	s, err := scanSubscriber(tx.queryRow(ctx, `SELECT `+subscriberColumns+` FROM subscribers sub WHERE sub.id = ?`, id))
	if isNoRows(err) {
		return nil, notFound("Subscriber")
	}
	return s, err
}

func getSubscriber(ctx context.Context, tx *Tx, id int64) (*herald.Subscriber, error) {
	s, err := getSubscriberRow(ctx, tx, id)
	if err != nil {
		return nil, err
	}
	if err := loadSubscriptions(ctx, tx, []*herald.Subscriber{s}); err != nil {
		return nil, err
	}
	return s, nil
}

// loadSubscriptions fills in the subscriptions of several subscribers with one query.
func loadSubscriptions(ctx context.Context, tx *Tx, subs []*herald.Subscriber) error {
	if len(subs) == 0 {
		return nil
	}
	byID := make(map[int64]*herald.Subscriber, len(subs))
	ids := make([]any, 0, len(subs))
	for _, s := range subs {
		byID[s.ID] = s
		ids = append(ids, s.ID)
	}
	rows, err := tx.query(ctx, `SELECT s.subscriber_id, s.list_id, l.slug, l.name, s.status, s.created_at, s.updated_at, s.confirmed_at, s.unsubscribed_at
		FROM subscriptions s JOIN lists l ON l.id = s.list_id
		WHERE s.subscriber_id IN (`+placeholders(len(ids))+`) ORDER BY s.subscriber_id, l.name`, ids...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var subID int64
		var x herald.Subscription
		var conf, unsub sql.NullTime
		if err := rows.Scan(&subID, &x.ListID, &x.List, &x.ListName, &x.Status, &x.CreatedAt, &x.UpdatedAt, &conf, &unsub); err != nil {
			return err
		}
		x.CreatedAt, x.UpdatedAt = x.CreatedAt.UTC(), x.UpdatedAt.UTC()
		x.ConfirmedAt, x.UnsubscribedAt = nullTime(conf), nullTime(unsub)
		byID[subID].Subscriptions = append(byID[subID].Subscriptions, x)
	}
	return rows.Err()
}

// GetSubscriber returns a subscriber with their subscriptions.
func (db *DB) GetSubscriber(ctx context.Context, id int64) (*herald.Subscriber, error) {
	var s *herald.Subscriber
	err := db.read(ctx, func(tx *Tx) (err error) {
		s, err = getSubscriber(ctx, tx, id)
		return err
	})
	return s, err
}

// SubscriberFilter narrows FindSubscribers.
type SubscriberFilter struct {
	Email  string // exact address, case-insensitive
	List   string // slug: subscribed (in any status) to this list
	Status string // with List: that status; alone: any subscription in that status
	Q      string // substring of address or name
	Limit  int    // default 50, max 1000
	Offset int
}

// FindSubscribers returns one page of subscribers and the total that match.
func (db *DB) FindSubscribers(ctx context.Context, f SubscriberFilter) ([]*herald.Subscriber, int, error) {
	if f.Limit <= 0 {
		f.Limit = 50
	}
	if f.Limit > 1000 {
		f.Limit = 1000
	}
	if f.Offset < 0 {
		f.Offset = 0
	}
	switch f.Status {
	case "", herald.StatusPending, herald.StatusConfirmed, herald.StatusUnsubscribed:
	default:
		return nil, 0, herald.FieldError("status", "Status must be pending, confirmed or unsubscribed.")
	}
	var where []string
	var args []any
	if f.Email != "" {
		where = append(where, `sub.email_key = ?`)
		args = append(args, strings.ToLower(strings.TrimSpace(f.Email)))
	}
	if f.List != "" || f.Status != "" {
		cond := `EXISTS (SELECT 1 FROM subscriptions s JOIN lists l ON l.id = s.list_id WHERE s.subscriber_id = sub.id`
		if f.List != "" {
			cond += ` AND l.slug = ?`
			args = append(args, f.List)
		}
		if f.Status != "" {
			cond += ` AND s.status = ?`
			args = append(args, f.Status)
		}
		where = append(where, cond+`)`)
	}
	if q := strings.ToLower(strings.TrimSpace(f.Q)); q != "" {
		esc := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(q)
		where = append(where, `(sub.email_key LIKE ? ESCAPE '\' OR LOWER(sub.name) LIKE ? ESCAPE '\')`)
		args = append(args, "%"+esc+"%", "%"+esc+"%")
	}
	cond := ""
	if len(where) > 0 {
		cond = ` WHERE ` + strings.Join(where, ` AND `)
	}
	var out []*herald.Subscriber
	var total int
	err := db.read(ctx, func(tx *Tx) error {
		if err := tx.queryRow(ctx, `SELECT COUNT(*) FROM subscribers sub`+cond, args...).Scan(&total); err != nil {
			return err
		}
		rows, err := tx.query(ctx, `SELECT `+subscriberColumns+` FROM subscribers sub`+cond+` ORDER BY sub.id LIMIT ? OFFSET ?`,
			append(args, f.Limit, f.Offset)...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			s, err := scanSubscriber(rows)
			if err != nil {
				return err
			}
			out = append(out, s)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		rows.Close()
		return loadSubscriptions(ctx, tx, out)
	})
	if out == nil {
		out = []*herald.Subscriber{}
	}
	return out, total, err
}

func validAttributes(a map[string]any) (string, error) {
	if a == nil {
		return "{}", nil
	}
	b, err := json.Marshal(a)
	if err != nil || len(b) > 16<<10 {
		return "", herald.FieldError("attributes", "Attributes must be a JSON object of at most 16 KB.")
	}
	return string(b), nil
}

// setSubscription writes a subscription's status, stamping the time of the
// status it enters.
func setSubscription(ctx context.Context, tx *Tx, subID, listID int64, status string) error {
	var conf, unsub any
	switch status {
	case herald.StatusConfirmed:
		conf = tx.now
	case herald.StatusUnsubscribed:
		unsub = tx.now
	}
	refs := []ref{{"subscribers", subID}, {"lists", listID}}
	ok, err := insertRef(ctx, tx, "subscriptions", subscriptionCols, subscriptionTypes,
		[]any{subID, listID, status, tx.now, tx.now, conf, unsub}, `
		ON CONFLICT (subscriber_id, list_id) DO UPDATE SET status = excluded.status, updated_at = excluded.updated_at,
			confirmed_at = COALESCE(excluded.confirmed_at, subscriptions.confirmed_at),
			unsubscribed_at = COALESCE(excluded.unsubscribed_at, subscriptions.unsubscribed_at)`, refs...)
	if err == nil && !ok {
		err = refGone(refs...)
	}
	return err
}

var (
	subscriptionCols  = []string{"subscriber_id", "list_id", "status", "created_at", "updated_at", "confirmed_at", "unsubscribed_at"}
	subscriptionTypes = []string{"int8", "int8", "text", "timestamptz", "timestamptz", "timestamptz", "timestamptz"}
)

// erasedEvent appends the erasure's event, before the subscriber's rows go:
// it names the lists on which the reader had ever confirmed (copies of
// them may exist elsewhere) and the digest by which those copies are found,
// and empties the data of the reader's earlier events.
func erasedEvent(ctx context.Context, tx *Tx, subID int64, emailKey string) error {
	rows, err := tx.query(ctx, `SELECT list_id FROM subscriptions WHERE subscriber_id = ?
		AND (status <> 'pending' OR confirmed_at IS NOT NULL) ORDER BY list_id`, subID)
	if err != nil {
		return err
	}
	lists, err := scanIDs(rows)
	if err != nil {
		return err
	}
	if err := scrubEvents(ctx, tx, subID); err != nil {
		return err
	}
	tx.AppendEvent(herald.EventErased, subID, 0, herald.EventData{AddressMD5: AddressMD5(emailKey), Lists: lists})
	return nil
}

func suppress(ctx context.Context, tx *Tx, emailKey, reason string) error {
	_, err := tx.exec(ctx, `INSERT INTO suppressions (hash, reason, created_at) VALUES (?, ?, ?)
		ON CONFLICT (hash) DO UPDATE SET reason = excluded.reason, created_at = excluded.created_at`,
		tx.db.SuppressionHash(emailKey), reason, tx.now)
	if err != nil {
		return err
	}
	var subID int64
	if err := tx.queryRow(ctx, `SELECT id FROM subscribers WHERE email_key = ?`, emailKey).Scan(&subID); err != nil && !isNoRows(err) {
		return err
	}
	tx.AppendEvent(herald.EventSuppressed, subID, 0, herald.EventData{})
	return setSuppressedFlag(ctx, tx, emailKey, true)
}

func isSuppressed(ctx context.Context, tx *Tx, emailKey string) (bool, error) {
	var n int
	err := tx.queryRow(ctx, `SELECT COUNT(*) FROM suppressions WHERE hash = ?`, tx.db.SuppressionHash(emailKey)).Scan(&n)
	return n > 0, err
}

// IsSuppressed reports whether an address is on the suppression list.
func (db *DB) IsSuppressed(ctx context.Context, email string) (bool, error) {
	var sup bool
	err := db.read(ctx, func(tx *Tx) (err error) {
		sup, err = isSuppressed(ctx, tx, strings.ToLower(strings.TrimSpace(email)))
		return err
	})
	return sup, err
}

// Export is everything Herald holds about one subscriber.
type Export struct {
	ExportedAt    time.Time              `json:"exported_at"`
	Profile       *herald.Subscriber     `json:"profile"`
	Subscriptions []herald.Subscription  `json:"subscriptions"`
	Consents      []herald.ConsentEvent  `json:"consent_events"`
	Messages      []herald.OutboxMessage `json:"messages"`
}

// Export gathers a subscriber's data for a data-access request.
func (db *DB) Export(ctx context.Context, id int64) (*Export, error) {
	var e Export
	err := db.read(ctx, func(tx *Tx) (err error) {
		if e.Profile, err = getSubscriber(ctx, tx, id); err != nil {
			return err
		}
		e.ExportedAt = tx.now
		e.Subscriptions = e.Profile.Subscriptions
		if e.Consents, err = consents(ctx, tx, id); err != nil {
			return err
		}
		e.Messages, err = outboxFor(ctx, tx, strings.ToLower(e.Profile.Email))
		return err
	})
	return &e, err
}
