package sqlstore

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/heraldhq/herald"
)

// Meta is who did something and from where, for the consent ledger.
type Meta struct {
	Actor     string // herald.ActorReader, ActorOperator, …
	IP        string
	UserAgent string
	SourceURL string
	Detail    string
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for len(s) > 0 && !isRuneStart(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	return strings.ToValidUTF8(s, "")
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

// addConsent appends one event to the ledger.
func addConsent(ctx context.Context, tx *Tx, subID int64, kind string, m Meta, lists []string, d *herald.Disclosure) error {
	var dID, dVer any
	dHash := ""
	if d != nil {
		dID, dVer, dHash = d.ID, d.Version, d.Hash
	}
	actor := m.Actor
	if actor == "" {
		actor = herald.ActorReader
	}
	sub := ref{"subscribers", subID}
	ok, err := insertRef(ctx, tx, "consent_events",
		[]string{"subscriber_id", "kind", "actor", "created_at", "ip", "user_agent", "source_url", "lists", "disclosure_id", "disclosure_version", "disclosure_hash", "detail"},
		[]string{"int8", "text", "text", "timestamptz", "text", "text", "text", "text", "int8", "int4", "text", "text"},
		[]any{subID, kind, actor, tx.now, clip(m.IP, 64), clip(strings.ToValidUTF8(m.UserAgent, "?"), 512),
			clip(strings.ToValidUTF8(m.SourceURL, "?"), 2048), strings.Join(lists, ","), dID, dVer, dHash, clip(m.Detail, 1000)},
		"", sub)
	if err == nil && !ok {
		err = refGone(sub)
	}
	return err
}

// Consents returns a subscriber's consent events, oldest first.
func (db *DB) Consents(ctx context.Context, subID int64) ([]herald.ConsentEvent, error) {
	var out []herald.ConsentEvent
	err := db.read(ctx, func(tx *Tx) (err error) {
		if _, err := getSubscriberRow(ctx, tx, subID); err != nil {
			return err
		}
		out, err = consents(ctx, tx, subID)
		return err
	})
	return out, err
}

func consents(ctx context.Context, tx *Tx, subID int64) ([]herald.ConsentEvent, error) {
	rows, err := tx.query(ctx, `SELECT id, subscriber_id, kind, actor, created_at, ip, user_agent, source_url, lists,
		disclosure_id, disclosure_version, disclosure_hash, detail
		FROM consent_events WHERE subscriber_id = ? ORDER BY id`, subID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []herald.ConsentEvent{}
	for rows.Next() {
		var e herald.ConsentEvent
		var lists string
		var dID, dVer sql.NullInt64
		if err := rows.Scan(&e.ID, &e.SubscriberID, &e.Kind, &e.Actor, &e.CreatedAt, &e.IP, &e.UserAgent, &e.SourceURL, &lists,
			&dID, &dVer, &e.DisclosureHash, &e.Detail); err != nil {
			return nil, err
		}
		e.CreatedAt = e.CreatedAt.UTC()
		e.DisclosureID, e.DisclosureVersion = dID.Int64, int(dVer.Int64)
		e.Lists = []string{}
		if lists != "" {
			e.Lists = strings.Split(lists, ",")
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// DisclosureHash is the hex SHA-256 of a disclosure text.
func DisclosureHash(text string) string {
	h := sha256.Sum256([]byte(text))
	return hex.EncodeToString(h[:])
}

const disclosureColumns = `id, version, text, hash, current, created_at`

func scanDisclosure(sc interface{ Scan(...any) error }) (*herald.Disclosure, error) {
	var d herald.Disclosure
	err := sc.Scan(&d.ID, &d.Version, &d.Text, &d.Hash, &d.Current, &d.CreatedAt)
	d.CreatedAt = d.CreatedAt.UTC()
	return &d, err
}

// CreateDisclosure stores a new version of the disclosure text and makes it
// current. Old versions stay: the ledger refers to them.
func (db *DB) CreateDisclosure(ctx context.Context, text string) (*herald.Disclosure, error) {
	text = strings.TrimSpace(text)
	if text == "" || utf8.RuneCountInString(text) > 10000 || strings.ContainsRune(text, 0) || !utf8.ValidString(text) {
		return nil, herald.FieldError("text", "The disclosure text is required (valid UTF-8, at most 10,000 characters).")
	}
	var d *herald.Disclosure
	err := db.write(ctx, func(tx *Tx) (err error) {
		d, err = createDisclosure(ctx, tx, text)
		return err
	})
	return d, err
}

func createDisclosure(ctx context.Context, tx *Tx, text string) (*herald.Disclosure, error) {
	var next int
	if err := tx.queryRow(ctx, `SELECT COALESCE(MAX(version), 0) + 1 FROM disclosures`).Scan(&next); err != nil {
		return nil, err
	}
	if _, err := tx.exec(ctx, `UPDATE disclosures SET current = FALSE WHERE current`); err != nil {
		return nil, err
	}
	tx.afterCommit(tx.db.invalidateDisclosure)
	d := &herald.Disclosure{Version: next, Text: text, Hash: DisclosureHash(text), Current: true, CreatedAt: tx.now}
	err := tx.queryRow(ctx, `INSERT INTO disclosures (version, text, hash, current, created_at) VALUES (?, ?, ?, TRUE, ?) RETURNING id`,
		d.Version, d.Text, d.Hash, tx.now).Scan(&d.ID)
	return d, err
}

// generatedDisclosureKey is the settings row naming the disclosure version
// that Herald generated from its settings (rather than one a publisher
// wrote through the API).
const generatedDisclosureKey = "disclosure_generated_version"

// EnsureDisclosure keeps the generated disclosure text current until the
// publisher writes their own. With no disclosure yet, text becomes version
// 1. While the current disclosure is one Herald generated, a different
// text (the settings it is made from changed, e.g. the publisher's name)
// becomes a new version, so consent events keep naming the version and
// hash of the text each reader saw. Once a publisher-written disclosure is
// current (CreateDisclosure), it is never replaced here.
//
// legacy tells whether a current disclosure stored before Herald recorded
// which versions it generated is a generated one (nil: none is).
func (db *DB) EnsureDisclosure(ctx context.Context, text string, legacy func(string) bool) (*herald.Disclosure, bool, error) {
	var out *herald.Disclosure
	created := false
	err := db.write(ctx, func(tx *Tx) error {
		cur, err := currentDisclosure(ctx, tx)
		if err != nil && herald.ErrorCode(err) != herald.ENOTFOUND {
			return err
		}
		if err == nil {
			var gen sql.NullString
			if err := tx.queryRow(ctx, `SELECT value FROM settings WHERE key = ?`, generatedDisclosureKey).Scan(&gen); err != nil && !isNoRows(err) {
				return err
			}
			generated := gen.Valid && gen.String == strconv.Itoa(cur.Version)
			if !gen.Valid && legacy != nil {
				generated = legacy(cur.Text)
			}
			if !generated || cur.Hash == DisclosureHash(text) {
				out = cur
				return nil
			}
		}
		d, err := createDisclosure(ctx, tx, text)
		if err != nil {
			return err
		}
		if _, err := tx.exec(ctx, `INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
			generatedDisclosureKey, strconv.Itoa(d.Version)); err != nil {
			return err
		}
		out, created = d, true
		return nil
	})
	return out, created, err
}

// CurrentDisclosure returns the disclosure shown at signup now.
func (db *DB) CurrentDisclosure(ctx context.Context) (*herald.Disclosure, error) {
	var d *herald.Disclosure
	err := db.read(ctx, func(tx *Tx) (err error) {
		d, err = currentDisclosure(ctx, tx)
		return err
	})
	return d, err
}

func currentDisclosure(ctx context.Context, tx *Tx) (*herald.Disclosure, error) {
	d, err := scanDisclosure(tx.queryRow(ctx, `SELECT `+disclosureColumns+` FROM disclosures WHERE current`))
	if isNoRows(err) {
		return nil, notFound("Disclosure")
	}
	return d, err
}

// GetDisclosure returns one version.
func (db *DB) GetDisclosure(ctx context.Context, version int) (*herald.Disclosure, error) {
	var d *herald.Disclosure
	err := db.read(ctx, func(tx *Tx) (err error) {
		d, err = scanDisclosure(tx.queryRow(ctx, `SELECT `+disclosureColumns+` FROM disclosures WHERE version = ?`, version))
		if isNoRows(err) {
			return notFound("Disclosure")
		}
		return err
	})
	return d, err
}

// Disclosures returns every version, newest first.
func (db *DB) Disclosures(ctx context.Context) ([]*herald.Disclosure, error) {
	var out []*herald.Disclosure
	err := db.read(ctx, func(tx *Tx) error {
		rows, err := tx.query(ctx, `SELECT `+disclosureColumns+` FROM disclosures ORDER BY version DESC`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			d, err := scanDisclosure(rows)
			if err != nil {
				return err
			}
			out = append(out, d)
		}
		return rows.Err()
	})
	return out, err
}
