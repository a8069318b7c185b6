package sqlstore

// Transaction-scoped primitives for the packages that build on the store
// (integrations, the service layer): each does one thing to the core
// tables inside the caller's transaction, with the same checks the
// store's own write paths use.

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"strings"
	"time"

	"github.com/heraldhq/herald"
)

// GetList returns a list by id or slug in tx.
func GetList(ctx context.Context, tx *Tx, idOrSlug string) (*herald.List, error) {
	return getList(ctx, tx, idOrSlug)
}

// AddConsent appends an event to a subscriber's consent ledger; d is the
// disclosure shown, if any.
func AddConsent(ctx context.Context, tx *Tx, subID int64, kind string, m Meta, lists []string, d *herald.Disclosure) error {
	return addConsent(ctx, tx, subID, kind, m, lists, d)
}

// ConfirmSubscriptionAt confirms a subscription (creating it if need be)
// with the times an outside source gives: updatedAt for the change,
// confirmedAt for the confirmation. ECONFLICT when the subscriber or the
// list is gone.
func ConfirmSubscriptionAt(ctx context.Context, tx *Tx, subID, listID int64, updatedAt, confirmedAt time.Time) error {
	refs := []ref{{"subscribers", subID}, {"lists", listID}}
	ok, err := insertRef(ctx, tx, "subscriptions", subscriptionCols[:6], subscriptionTypes[:6],
		[]any{subID, listID, herald.StatusConfirmed, tx.now, updatedAt, confirmedAt}, `
		ON CONFLICT (subscriber_id, list_id) DO UPDATE SET status = 'confirmed', updated_at = excluded.updated_at, confirmed_at = excluded.confirmed_at`,
		refs...)
	if err == nil && !ok {
		err = refGone(refs...)
	}
	return err
}

// Suppression returns when an address (its lower-case key) was
// suppressed, if it is.
func Suppression(ctx context.Context, tx *Tx, emailKey string) (time.Time, bool, error) {
	var t time.Time
	err := tx.queryRow(ctx, `SELECT created_at FROM suppressions WHERE hash = ?`, tx.db.SuppressionHash(emailKey)).Scan(&t)
	if isNoRows(err) {
		return t, false, nil
	}
	return t.UTC(), err == nil, err
}

// SuppressAddress puts an address on the suppression list, with the
// "suppressed" event.
func SuppressAddress(ctx context.Context, tx *Tx, emailKey, reason string) error {
	return suppress(ctx, tx, emailKey, reason)
}

// LiftSuppression takes an address off the suppression list: it signed
// up and confirmed anew.
func LiftSuppression(ctx context.Context, tx *Tx, emailKey string) error {
	if _, err := tx.exec(ctx, `DELETE FROM suppressions WHERE hash = ?`, tx.db.SuppressionHash(emailKey)); err != nil {
		return err
	}
	return setSuppressedFlag(ctx, tx, emailKey, false)
}

// SetSuppressedFlag sets the flag campaigns read on the subscriber with
// this address, after a change of address.
func SetSuppressedFlag(ctx context.Context, tx *Tx, emailKey string, on bool) error {
	return setSuppressedFlag(ctx, tx, emailKey, on)
}

// EnqueueJob adds a job in tx with its own attempt limit and returns its
// id; workers of this process are woken when tx commits.
func EnqueueJob(ctx context.Context, tx *Tx, kind string, payload any, maxAttempts int) (int64, error) {
	b, err := json.Marshal(payload)
	if err != nil {
		return 0, err
	}
	var id int64
	if err := tx.queryRow(ctx, `INSERT INTO jobs (kind, payload, status, attempts, max_attempts, run_at, created_at, updated_at)
		VALUES (?, ?, 'pending', 0, ?, ?, ?, ?) RETURNING id`, kind, string(b), maxAttempts, tx.now, tx.now, tx.now).Scan(&id); err != nil {
		return 0, err
	}
	tx.afterCommit(tx.db.wakeWorkers)
	return id, nil
}

// AddressMD5 is the MD5 of an address in lower case, the key by which
// email service providers know their members.
func AddressMD5(email string) string {
	sum := md5.Sum([]byte(strings.ToLower(email)))
	return hex.EncodeToString(sum[:])
}

// LoadSubscriber returns a subscriber with their subscriptions.
func LoadSubscriber(ctx context.Context, tx *Tx, id int64) (*herald.Subscriber, error) {
	return getSubscriber(ctx, tx, id)
}

// LoadSubscriberRow returns a subscriber's profile, without subscriptions.
func LoadSubscriberRow(ctx context.Context, tx *Tx, id int64) (*herald.Subscriber, error) {
	return getSubscriberRow(ctx, tx, id)
}

// ValidAttributes returns a subscriber's attributes as stored (JSON), or
// a field error when they are too large.
func ValidAttributes(a map[string]any) (string, error) { return validAttributes(a) }

// SetProfile writes a subscriber's address (and its key), name and
// attributes. ECONFLICT on the email field when another subscriber has
// the address.
func SetProfile(ctx context.Context, tx *Tx, id int64, email, key, name, attrs string) error {
	_, err := tx.exec(ctx, `UPDATE subscribers SET email = ?, email_key = ?, name = ?, attributes = ?, updated_at = ? WHERE id = ?`,
		email, key, name, attrs, tx.now, id)
	if herald.ErrorCode(err) == herald.ECONFLICT {
		return &herald.Error{Code: herald.ECONFLICT, Field: "email", Message: "A subscriber with this address already exists."}
	}
	return err
}

// Suppressed reports whether an address (its lower-case key) is on the
// suppression list.
func Suppressed(ctx context.Context, tx *Tx, emailKey string) (bool, error) {
	return isSuppressed(ctx, tx, emailKey)
}

// MoveOutbox makes the stored mail of one address follow the person to
// another, so export and erasure find it.
func MoveOutbox(ctx context.Context, tx *Tx, oldKey, newKey string) error {
	_, err := tx.exec(ctx, `UPDATE outbox SET to_key = ? WHERE to_key = ?`, newKey, oldKey)
	return err
}

// ResolveLists returns the lists named by slugs; an unknown one (or a
// private one, unless allowPrivate) is a field error on "lists".
func ResolveLists(ctx context.Context, tx *Tx, slugs []string, allowPrivate bool) ([]*herald.List, error) {
	return resolveLists(ctx, tx.db, tx, slugs, allowPrivate)
}

// SetSubscriptionStatus sets a subscription's status (creating it if need
// be) and returns the status it had ("" for none).
func SetSubscriptionStatus(ctx context.Context, tx *Tx, subID, listID int64, status string) (string, error) {
	prev, err := subscriptionStatus(ctx, tx, subID, listID)
	if err != nil {
		return "", err
	}
	return prev, setSubscription(ctx, tx, subID, listID, status)
}

// Confirmation returns what a confirmation link leads to in tx: the
// subscriber and their pending subscriptions, if nonce is still the
// current one (0: whatever is current). EGONE when the link was used or
// replaced, or the subscriber is gone.
func Confirmation(ctx context.Context, tx *Tx, subID int64, nonce uint64) (*PendingConfirmation, error) {
	return getConfirmation(ctx, tx, subID, nonce)
}

// ConfirmPending confirms every pending subscription of a subscriber.
func ConfirmPending(ctx context.Context, tx *Tx, subID int64) error {
	_, err := tx.exec(ctx, `UPDATE subscriptions SET status = 'confirmed', confirmed_at = ?, updated_at = ?
		WHERE subscriber_id = ? AND status = 'pending'`, tx.now, tx.now, subID)
	return err
}

// RetireConfirmNonce clears a subscriber's confirmation nonce: the links
// that carry it stop working.
func RetireConfirmNonce(ctx context.Context, tx *Tx, subID int64) error {
	_, err := tx.exec(ctx, `UPDATE subscribers SET confirm_nonce = NULL, updated_at = ? WHERE id = ?`, tx.now, subID)
	return err
}

// UnsubscribeLists ends a subscriber's subscriptions to the given lists
// (all when listIDs is empty) with the unsubscribe consent event and the
// "unsubscribed" events, and returns the slugs of the lists it changed.
func UnsubscribeLists(ctx context.Context, tx *Tx, subID int64, listIDs []int64, m Meta) ([]string, error) {
	return unsubscribe(ctx, tx, subID, listIDs, m)
}

// SignupDisclosure returns the disclosure a form showed: the given version
// if it exists, the current one otherwise; EINTERNAL when there is none,
// since no consent is recorded without the text it was given to.
func SignupDisclosure(ctx context.Context, tx *Tx, version int) (*herald.Disclosure, error) {
	return signupDisclosure(ctx, tx.db, tx, version)
}

// ListDisclosures returns the lists' own current disclosures by list id.
func ListDisclosures(ctx context.Context, tx *Tx) (map[int64]*herald.Disclosure, error) {
	return cachedListDisclosures(ctx, tx.db, tx)
}

// SignupConsents appends the consent events of a request to join lists:
// one per disclosure shown (global: the form's; perList: the lists' own;
// shown: slug → version the form displayed).
func SignupConsents(ctx context.Context, tx *Tx, subID int64, kind string, m Meta, lists []*herald.List, global *herald.Disclosure,
	perList map[int64]*herald.Disclosure, shown map[string]int) error {
	return signupConsents(ctx, tx, subID, kind, m, lists, global, perList, shown)
}

// SubscribeLists writes what a request to join lists does (policy.Join
// decides each status), appends the events, and queues a confirmation mail
// when one is due (policy.ConfirmMailDue; force skips the throttle).
func SubscribeLists(ctx context.Context, tx *Tx, subID int64, lists []*herald.List, suppressed bool, opt SignupOptions, force bool, actor string) (*SignupResult, error) {
	return subscribeLists(ctx, tx, subID, nil, lists, suppressed, opt, force, actor)
}

// InsertSubscriber adds a subscriber with no subscriptions and returns its
// id. ECONFLICT on the email field when the address exists.
func InsertSubscriber(ctx context.Context, tx *Tx, email, key, name, attrs string) (int64, error) {
	var id int64
	err := tx.queryRow(ctx, `INSERT INTO subscribers (email, email_key, name, attributes, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?) RETURNING id`, email, key, name, attrs, tx.now, tx.now).Scan(&id)
	if err = tx.db.dialect.translate(err); herald.ErrorCode(err) == herald.ECONFLICT {
		return 0, &herald.Error{Code: herald.ECONFLICT, Field: "email", Message: "A subscriber with this address already exists."}
	}
	return id, err
}

// SetSubscription writes a subscription's status (creating it if need
// be), stamping the time of the status it enters.
func SetSubscription(ctx context.Context, tx *Tx, subID, listID int64, status string) error {
	return setSubscription(ctx, tx, subID, listID, status)
}

// SubscriberKey returns a subscriber's address key (its lower-case form);
// ENOTFOUND when there is no such subscriber.
func SubscriberKey(ctx context.Context, tx *Tx, id int64) (string, error) {
	var key string
	err := tx.queryRow(ctx, `SELECT email_key FROM subscribers WHERE id = ?`, id).Scan(&key)
	if isNoRows(err) {
		return "", notFound("Subscriber")
	}
	return key, err
}

// AppendErasedEvent appends the "erased" event of a subscriber, before
// their rows go: it names the lists on which they had ever confirmed and
// the digest of the address, and empties the data of their earlier events.
func AppendErasedEvent(ctx context.Context, tx *Tx, subID int64, emailKey string) error {
	return erasedEvent(ctx, tx, subID, emailKey)
}

// DeletePersonalData deletes a subscriber's profile, subscriptions,
// consent events and the stored mail to their address.
func DeletePersonalData(ctx context.Context, tx *Tx, subID int64, emailKey string) error {
	if _, err := tx.exec(ctx, `DELETE FROM outbox WHERE to_key = ?`, emailKey); err != nil {
		return err
	}
	if _, err := tx.exec(ctx, `DELETE FROM subscribers WHERE id = ?`, subID); err != nil {
		return err
	}
	// After the subscriber row, whose deletion waited for whoever held it:
	// their subscriptions and events are committed by now (PostgreSQL has
	// no foreign keys to cascade: see refs.go).
	if _, err := tx.exec(ctx, `DELETE FROM subscriptions WHERE subscriber_id = ?`, subID); err != nil {
		return err
	}
	_, err := tx.exec(ctx, `DELETE FROM consent_events WHERE subscriber_id = ?`, subID)
	return err
}
