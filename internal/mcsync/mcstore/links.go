package mcstore

// The account connection (an API key kept encrypted), the lists connected
// to audiences, and each connected list's own signup disclosure (kept on
// the list, through the store, so that signups name Mailchimp as
// processor). The sync jobs are in sync.go, webhook application in
// webhook.go.

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/sqlstore"
)

// Delivery modes of a connected list.
const (
	// DeliveryMailchimp: Mailchimp sends the list's campaigns; Herald's
	// campaign sender refuses the list.
	DeliveryMailchimp = "mailchimp"
	// DeliveryHerald: Herald sends the list's campaigns and keeps the
	// audience in sync. Unconnected lists are delivered by Herald too.
	DeliveryHerald = "herald"
)

// DeliveredBy names Mailchimp on the lists it delivers (the store's
// lists.delivered_by), as campaign refusals show it.
const DeliveredBy = "Mailchimp"

// MailchimpConnection is the account-level connection. The API key leaves
// the store only through this struct, which the API never serialises.
type MailchimpConnection struct {
	APIKey        string // decrypted
	KeyHint       string // "…cdef-us6": enough to recognise a key, not to use it
	BaseURL       string // "" = the key's data centre
	WebhookSecret string
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// sealKey derives the AES-256 key that encrypts Mailchimp secrets at rest
// from the installation secret.
func (db *Store) sealKey() []byte {
	return db.mac("herald mailchimp secrets v1")
}

// seal encrypts s with AES-256-GCM: base64(nonce ‖ ciphertext ‖ tag).
func (db *Store) seal(s string) (string, error) {
	if !db.DB.HasSecret() {
		return "", errors.New("no installation secret to encrypt with")
	}
	block, err := aes.NewCipher(db.sealKey())
	if err != nil {
		return "", err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, gcm.NonceSize(), gcm.NonceSize()+len(s)+gcm.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	return base64.RawStdEncoding.EncodeToString(gcm.Seal(nonce, nonce, []byte(s), nil)), nil
}

var errUnseal = herald.Errorf(herald.EINTERNAL, "A Mailchimp secret could not be decrypted: was HERALD_SECRET changed? Set the API key again (PUT /api/v1/integrations/mailchimp).")

func (db *Store) unseal(s string) (string, error) {
	raw, err := base64.RawStdEncoding.DecodeString(s)
	if err != nil {
		return "", errUnseal
	}
	block, err := aes.NewCipher(db.sealKey())
	if err != nil {
		return "", err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return "", err
	}
	if len(raw) < gcm.NonceSize() {
		return "", errUnseal
	}
	out, err := gcm.Open(nil, raw[:gcm.NonceSize()], raw[gcm.NonceSize():], nil)
	if err != nil {
		return "", errUnseal
	}
	return string(out), nil
}

// mailchimpMemberKey identifies a member of an audience without a readable
// address: a keyed hash of the audience and the member's subscriber hash
// (the MD5 of the address in lower case), which is all an erased reader's
// jobs know.
func (db *Store) mailchimpMemberKey(audienceID, memberHash string) string {
	return hex.EncodeToString(db.mac("herald mailchimp member v2 ", audienceID, "\x00", memberHash)[:20])
}

// webhookMarkKey identifies a member in mailchimp_webhook_marks: a keyed
// hash of the audience and the normalised address.
func (db *Store) webhookMarkKey(audienceID, emailKey string) string {
	return hex.EncodeToString(db.mac("herald mailchimp member v1 ", audienceID, "\x00", emailKey)[:20])
}

func keyHint(key string) string {
	key = strings.TrimSpace(key)
	if len(key) <= 8 {
		return "…"
	}
	return "…" + key[len(key)-8:]
}

func randomSecret() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// MailchimpConnection returns the connection, ENOTFOUND when there is none.
func (db *Store) MailchimpConnection(ctx context.Context) (*MailchimpConnection, error) {
	var c *MailchimpConnection
	err := db.read(ctx, func(tx *sqlstore.Tx) (err error) {
		c, err = db.connection(ctx, tx)
		return err
	})
	return c, err
}

func (db *Store) connection(ctx context.Context, tx *sqlstore.Tx) (*MailchimpConnection, error) {
	var c MailchimpConnection
	var enc string
	err := tx.QueryRow(ctx, `SELECT api_key_enc, key_hint, base_url, webhook_secret, created_at, updated_at
		FROM mailchimp_connection WHERE id = 1`).Scan(&enc, &c.KeyHint, &c.BaseURL, &c.WebhookSecret, &c.CreatedAt, &c.UpdatedAt)
	if sqlstore.IsNoRows(err) {
		return nil, herald.Errorf(herald.ENOTFOUND, "Mailchimp is not connected: PUT /api/v1/integrations/mailchimp with an API key first.")
	} else if err != nil {
		return nil, err
	}
	c.CreatedAt, c.UpdatedAt = c.CreatedAt.UTC(), c.UpdatedAt.UTC()
	if c.APIKey, err = db.unseal(enc); err != nil {
		return nil, err
	}
	return &c, nil
}

// MailchimpWebhookSecret returns the secret of the webhook URL, "" when
// Mailchimp is not connected.
func (db *Store) MailchimpWebhookSecret(ctx context.Context) (string, error) {
	var s string
	err := db.read(ctx, func(tx *sqlstore.Tx) error {
		err := tx.QueryRow(ctx, `SELECT webhook_secret FROM mailchimp_connection WHERE id = 1`).Scan(&s)
		if sqlstore.IsNoRows(err) {
			return nil
		}
		return err
	})
	return s, err
}

// SetMailchimpConnection creates or updates the connection. apiKey nil
// keeps the stored key (it is required the first time); baseURL nil keeps
// the stored override. Callers validate the values.
func (db *Store) SetMailchimpConnection(ctx context.Context, apiKey, baseURL *string) (*MailchimpConnection, error) {
	var c *MailchimpConnection
	err := db.write(ctx, func(tx *sqlstore.Tx) error {
		cur, err := db.connection(ctx, tx)
		if err != nil && herald.ErrorCode(err) != herald.ENOTFOUND && err != errUnseal {
			return err
		}
		if cur == nil && apiKey == nil {
			return herald.FieldError("api_key", "api_key is required to connect Mailchimp.")
		}
		if err == errUnseal && apiKey == nil {
			return err
		}
		next := MailchimpConnection{WebhookSecret: randomSecret(), CreatedAt: tx.Now()}
		if cur != nil {
			next = *cur
		} else if err == errUnseal {
			// A new key for a connection whose key cannot be read (the
			// installation secret changed): the webhook URL stays, as it
			// is registered with Mailchimp.
			if err := tx.QueryRow(ctx, `SELECT webhook_secret, created_at FROM mailchimp_connection WHERE id = 1`).Scan(&next.WebhookSecret, &next.CreatedAt); err != nil {
				return err
			}
		}
		if apiKey != nil {
			next.APIKey = strings.TrimSpace(*apiKey)
			next.KeyHint = keyHint(next.APIKey)
		}
		if baseURL != nil {
			next.BaseURL = strings.TrimRight(strings.TrimSpace(*baseURL), "/")
		}
		next.UpdatedAt = tx.Now()
		enc, err := db.seal(next.APIKey)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO mailchimp_connection (id, api_key_enc, key_hint, base_url, webhook_secret, created_at, updated_at)
			VALUES (1, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET api_key_enc = excluded.api_key_enc, key_hint = excluded.key_hint,
				base_url = excluded.base_url, updated_at = excluded.updated_at`,
			enc, next.KeyHint, next.BaseURL, next.WebhookSecret, next.CreatedAt, next.UpdatedAt); err != nil {
			return err
		}
		c = &next
		return nil
	})
	return c, err
}

// DeleteMailchimpConnection forgets the API key. Lists must be
// disconnected first, so no sync is silently dropped.
func (db *Store) DeleteMailchimpConnection(ctx context.Context) error {
	return db.write(ctx, func(tx *sqlstore.Tx) error {
		var n int
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM mailchimp_lists`).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return herald.Errorf(herald.ECONFLICT, "%d list(s) are still connected to Mailchimp: disconnect them first (DELETE /api/v1/lists/{id}/mailchimp).", n)
		}
		res, err := tx.Exec(ctx, `DELETE FROM mailchimp_connection WHERE id = 1`)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return herald.Errorf(herald.ENOTFOUND, "Mailchimp is not connected.")
		}
		return nil
	})
}

// MailchimpLink is a list's connection to a Mailchimp audience.
type MailchimpLink struct {
	ListID       int64              `json:"-"`
	List         string             `json:"list"`
	AudienceID   string             `json:"audience_id"`
	AudienceName string             `json:"audience_name"`
	InterestID   string             `json:"interest_id"`
	CategoryID   string             `json:"interest_category_id"`
	InterestName string             `json:"interest_name"`
	Delivery     string             `json:"delivery"`
	Disclosure   *herald.Disclosure `json:"disclosure"`
	WebhookID    string             `json:"webhook_id"`
	WebhookError string             `json:"webhook_error"`
	Sync         MailchimpSyncState `json:"sync"`
	CreatedAt    time.Time          `json:"created_at"`
	UpdatedAt    time.Time          `json:"updated_at"`
}

// MailchimpSyncState is the progress of the list's last bulk sync.
type MailchimpSyncState struct {
	State      string     `json:"state"` // never, queued, running, done, failed
	Members    int        `json:"members"`
	Created    int        `json:"created"`
	Updated    int        `json:"updated"`
	Errors     int        `json:"errors"`
	LastError  string     `json:"last_error"`
	StartedAt  *time.Time `json:"started_at"`
	FinishedAt *time.Time `json:"finished_at"`
	cursor     int64
}

const linkColumns = `ml.list_id, l.slug, ml.audience_id, ml.audience_name, ml.interest_id, ml.category_id, ml.interest_name,
	ml.delivery, ml.webhook_id, ml.webhook_error, ml.sync_state, ml.sync_cursor, ml.sync_members, ml.sync_created,
	ml.sync_updated, ml.sync_errors, ml.sync_error, ml.sync_started_at, ml.sync_finished_at, ml.created_at, ml.updated_at,
	d.id, d.version, d.text, d.hash, d.created_at`

const linkFrom = ` FROM mailchimp_lists ml JOIN lists l ON l.id = ml.list_id JOIN disclosures d ON d.id = ml.disclosure_id`

func scanLink(sc interface{ Scan(...any) error }) (*MailchimpLink, error) {
	var k MailchimpLink
	var d herald.Disclosure
	var started, finished sql.NullTime
	err := sc.Scan(&k.ListID, &k.List, &k.AudienceID, &k.AudienceName, &k.InterestID, &k.CategoryID, &k.InterestName,
		&k.Delivery, &k.WebhookID, &k.WebhookError, &k.Sync.State, &k.Sync.cursor, &k.Sync.Members, &k.Sync.Created,
		&k.Sync.Updated, &k.Sync.Errors, &k.Sync.LastError, &started, &finished, &k.CreatedAt, &k.UpdatedAt,
		&d.ID, &d.Version, &d.Text, &d.Hash, &d.CreatedAt)
	if err != nil {
		return nil, err
	}
	k.Sync.StartedAt, k.Sync.FinishedAt = nullTime(started), nullTime(finished)
	k.CreatedAt, k.UpdatedAt, d.CreatedAt = k.CreatedAt.UTC(), k.UpdatedAt.UTC(), d.CreatedAt.UTC()
	k.Disclosure = &d
	return &k, nil
}

// MailchimpLink returns a list's link; ENOTFOUND when the list does not
// exist or is not connected.
func (db *Store) MailchimpLink(ctx context.Context, idOrSlug string) (*MailchimpLink, error) {
	var k *MailchimpLink
	err := db.read(ctx, func(tx *sqlstore.Tx) error {
		l, err := sqlstore.GetList(ctx, tx, idOrSlug)
		if err != nil {
			return err
		}
		k, err = mailchimpLink(ctx, tx, l.ID)
		return err
	})
	return k, err
}

func mailchimpLink(ctx context.Context, tx *sqlstore.Tx, listID int64) (*MailchimpLink, error) {
	k, err := scanLink(tx.QueryRow(ctx, `SELECT `+linkColumns+linkFrom+` WHERE ml.list_id = ?`, listID))
	if sqlstore.IsNoRows(err) {
		return nil, herald.Errorf(herald.ENOTFOUND, "This list is not connected to Mailchimp.")
	}
	return k, err
}

// MailchimpLinks returns every connected list, by list id.
func (db *Store) MailchimpLinks(ctx context.Context) ([]*MailchimpLink, error) {
	return db.mailchimpLinksWhere(ctx, ``)
}

// MailchimpLinksForAudience returns the lists connected to an audience.
func (db *Store) MailchimpLinksForAudience(ctx context.Context, audienceID string) ([]*MailchimpLink, error) {
	return db.mailchimpLinksWhere(ctx, ` WHERE ml.audience_id = ?`, audienceID)
}

func (db *Store) mailchimpLinksWhere(ctx context.Context, where string, args ...any) ([]*MailchimpLink, error) {
	var out []*MailchimpLink
	err := db.read(ctx, func(tx *sqlstore.Tx) (err error) {
		out, err = linksWhere(ctx, tx, where, args...)
		return err
	})
	return out, err
}

func linksWhere(ctx context.Context, tx *sqlstore.Tx, where string, args ...any) ([]*MailchimpLink, error) {
	rows, err := tx.Query(ctx, `SELECT `+linkColumns+linkFrom+where+` ORDER BY ml.list_id`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*MailchimpLink
	for rows.Next() {
		k, err := scanLink(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

// MailchimpLinkInput is what connecting a list sets. The caller has checked
// the audience and interest with Mailchimp (and filled in their names).
type MailchimpLinkInput struct {
	AudienceID   string
	AudienceName string
	InterestID   string
	CategoryID   string
	InterestName string
	Delivery     string // "" keeps the current one (DeliveryMailchimp for a new link)
	// DisclosureText is the list's signup disclosure naming Mailchimp. A
	// new version is stored when the list is newly connected, when it
	// moves to another audience or interest, or when the text changes.
	DisclosureText string
}

// PutMailchimpLink connects a list to an audience, or changes its link. It
// queues the registration of Herald's webhook on the audience in the same
// transaction. created reports a new connection.
func (db *Store) PutMailchimpLink(ctx context.Context, idOrSlug string, in MailchimpLinkInput) (link *MailchimpLink, created bool, err error) {
	switch in.Delivery {
	case "", DeliveryMailchimp, DeliveryHerald:
	default:
		return nil, false, herald.FieldError("delivery", "delivery must be mailchimp or herald.")
	}
	in.DisclosureText = strings.TrimSpace(in.DisclosureText)
	if in.DisclosureText == "" || len(in.DisclosureText) > 10000 {
		return nil, false, herald.FieldError("disclosure", "The list's disclosure text is required (at most 10,000 characters).")
	}
	err = db.write(ctx, func(tx *sqlstore.Tx) error {
		l, err := sqlstore.GetList(ctx, tx, idOrSlug)
		if err != nil {
			return err
		}
		if _, err := db.connection(ctx, tx); err != nil {
			if herald.ErrorCode(err) == herald.ENOTFOUND {
				return herald.Errorf(herald.ECONFLICT, "Connect Mailchimp first: PUT /api/v1/integrations/mailchimp with an API key.")
			}
			return err
		}
		// An audience is either one list's as a whole, or shared by lists
		// that each have an interest of it: unsubscribing from one list
		// must not unsubscribe from another.
		others, err := linksWhere(ctx, tx, ` WHERE ml.audience_id = ? AND ml.list_id <> ?`, in.AudienceID, l.ID)
		if err != nil {
			return err
		}
		for _, o := range others {
			switch {
			case o.InterestID == in.InterestID:
				return &herald.Error{Code: herald.ECONFLICT, Field: "interest_id", Message: fmt.Sprintf("The list %q is already connected to this audience and interest.", o.List)}
			case o.InterestID == "" || in.InterestID == "":
				return &herald.Error{Code: herald.ECONFLICT, Field: "interest_id", Message: fmt.Sprintf("The list %q is connected to this audience too: lists that share an audience must each name an interest (group) of it.", o.List)}
			}
		}
		cur, err := mailchimpLink(ctx, tx, l.ID)
		if err != nil && herald.ErrorCode(err) != herald.ENOTFOUND {
			return err
		}
		created = cur == nil
		delivery := in.Delivery
		if delivery == "" {
			delivery = DeliveryMailchimp
			if cur != nil {
				delivery = cur.Delivery
			}
		}
		var discID int64
		if cur != nil && cur.AudienceID == in.AudienceID && cur.InterestID == in.InterestID && cur.Disclosure.Text == in.DisclosureText {
			discID = cur.Disclosure.ID
			if err := sqlstore.SetListDisclosure(ctx, tx, l.ID, discID); err != nil {
				return err
			}
		} else {
			d, err := sqlstore.NewListDisclosure(ctx, tx, l.ID, in.DisclosureText)
			if err != nil {
				return err
			}
			discID = d.ID
			if _, err := tx.Exec(ctx, `INSERT INTO mailchimp_list_disclosures (list_id, disclosure_id) VALUES (?, ?)`, l.ID, discID); err != nil {
				return err
			}
		}
		by := ""
		if delivery == DeliveryMailchimp {
			by = DeliveredBy
		}
		if err := sqlstore.SetListDelivery(ctx, tx, l.ID, by); err != nil {
			return err
		}
		if created {
			_, err = tx.Exec(ctx, `INSERT INTO mailchimp_lists (list_id, audience_id, audience_name, interest_id, category_id, interest_name,
				delivery, disclosure_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				l.ID, in.AudienceID, in.AudienceName, in.InterestID, in.CategoryID, in.InterestName, delivery, discID, tx.Now(), tx.Now())
		} else {
			_, err = tx.Exec(ctx, `UPDATE mailchimp_lists SET audience_id = ?, audience_name = ?, interest_id = ?, category_id = ?,
				interest_name = ?, delivery = ?, disclosure_id = ?, updated_at = ? WHERE list_id = ?`,
				in.AudienceID, in.AudienceName, in.InterestID, in.CategoryID, in.InterestName, delivery, discID, tx.Now(), l.ID)
		}
		if err != nil {
			return err
		}
		if created || cur.AudienceID != in.AudienceID {
			if !created && cur.WebhookID != "" {
				var shared int
				if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM mailchimp_lists WHERE audience_id = ?`, cur.AudienceID).Scan(&shared); err != nil {
					return err
				}
				if shared == 0 { // the old audience feeds no other list
					if err := enqueueJob(ctx, tx, JobMailchimpWebhook, MailchimpWebhookJob{ListID: l.ID, Action: "remove", AudienceID: cur.AudienceID, WebhookID: cur.WebhookID}); err != nil {
						return err
					}
				}
			}
			if _, err := tx.Exec(ctx, `UPDATE mailchimp_lists SET webhook_id = '', webhook_error = '' WHERE list_id = ?`, l.ID); err != nil {
				return err
			}
			if err := enqueueJob(ctx, tx, JobMailchimpWebhook, MailchimpWebhookJob{ListID: l.ID, Action: "register", AudienceID: in.AudienceID}); err != nil {
				return err
			}
		}
		link, err = mailchimpLink(ctx, tx, l.ID)
		return err
	})
	return link, created, err
}

// DeleteMailchimpLink disconnects a list: it is delivered by Herald again,
// signups see the installation's disclosure again, and Herald's webhook is
// removed from the audience (by a job). Sync jobs already queued still run:
// an unsubscribe or an erasure must still reach Mailchimp.
func (db *Store) DeleteMailchimpLink(ctx context.Context, idOrSlug string) error {
	return db.write(ctx, func(tx *sqlstore.Tx) error {
		l, err := sqlstore.GetList(ctx, tx, idOrSlug)
		if err != nil {
			return err
		}
		cur, err := mailchimpLink(ctx, tx, l.ID)
		if err != nil {
			return err
		}
		if err := sqlstore.SetListDisclosure(ctx, tx, l.ID, 0); err != nil {
			return err
		}
		if err := sqlstore.SetListDelivery(ctx, tx, l.ID, ""); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM mailchimp_lists WHERE list_id = ?`, l.ID); err != nil {
			return err
		}
		if cur.WebhookID == "" {
			return nil
		}
		var shared int
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM mailchimp_lists WHERE audience_id = ?`, cur.AudienceID).Scan(&shared); err != nil {
			return err
		}
		if shared > 0 {
			return nil // the audience still feeds other lists through the same webhook
		}
		return enqueueJob(ctx, tx, JobMailchimpWebhook, MailchimpWebhookJob{ListID: l.ID, Action: "remove", AudienceID: cur.AudienceID, WebhookID: cur.WebhookID})
	})
}

// SetMailchimpWebhook records the outcome of registering Herald's webhook
// on a list's audience.
func (db *Store) SetMailchimpWebhook(ctx context.Context, listID int64, webhookID, errText string) error {
	return db.write(ctx, func(tx *sqlstore.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE mailchimp_lists SET webhook_id = ?, webhook_error = ? WHERE list_id = ?`, webhookID, clip(errText, 1000), listID)
		return err
	})
}

// ListDelivery says who delivers a list's campaigns: DeliveryMailchimp for
// a list connected to Mailchimp with delivery "mailchimp" (Herald must not
// send campaigns to it), else DeliveryHerald. ENOTFOUND for no such list.
func (db *Store) ListDelivery(ctx context.Context, listID int64) (string, error) {
	var d sql.NullString
	err := db.read(ctx, func(tx *sqlstore.Tx) error {
		err := tx.QueryRow(ctx, `SELECT ml.delivery FROM lists l LEFT JOIN mailchimp_lists ml ON ml.list_id = l.id WHERE l.id = ?`, listID).Scan(&d)
		if sqlstore.IsNoRows(err) {
			return notFound("List")
		}
		return err
	})
	if err != nil {
		return "", err
	}
	if d.Valid && d.String == DeliveryMailchimp {
		return DeliveryMailchimp, nil
	}
	return DeliveryHerald, nil
}
