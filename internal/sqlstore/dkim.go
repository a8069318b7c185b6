package sqlstore

import (
	"context"
	"strings"
	"time"

	"github.com/heraldhq/herald"
)

// DKIMKey is a stored DKIM signing key. PrivateKey is PKCS#8 PEM; it is
// kept in the database like the installation's signing secret, so the
// database (and its backups) must be guarded accordingly.
type DKIMKey struct {
	ID         int64     `json:"id"`
	Domain     string    `json:"domain"`
	Selector   string    `json:"selector"`
	Algorithm  string    `json:"algorithm"` // "rsa" or "ed25519"
	PrivateKey string    `json:"-"`
	CreatedAt  time.Time `json:"created_at"`
}

// AddDKIMKey stores a key; a key with the same domain and selector is a
// conflict (pick a new selector to rotate keys).
func (db *DB) AddDKIMKey(ctx context.Context, k *DKIMKey) error {
	k.Domain = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(k.Domain), "."))
	k.Selector = strings.ToLower(strings.TrimSpace(k.Selector))
	return db.write(ctx, func(tx *Tx) error {
		k.CreatedAt = tx.now
		err := tx.queryRow(ctx, `INSERT INTO dkim_keys (domain, selector, algorithm, private_key, created_at) VALUES (?, ?, ?, ?, ?) RETURNING id`,
			k.Domain, k.Selector, k.Algorithm, k.PrivateKey, tx.now).Scan(&k.ID)
		if err = tx.db.dialect.translate(err); herald.ErrorCode(err) == herald.ECONFLICT {
			return &herald.Error{Code: herald.ECONFLICT, Field: "selector", Message: "A key with this selector already exists for this domain: choose another selector."}
		}
		return err
	})
}

// DKIMKeys returns the keys of a domain (all domains when domain is ""),
// newest first.
func (db *DB) DKIMKeys(ctx context.Context, domain string) ([]DKIMKey, error) {
	q, args := `SELECT id, domain, selector, algorithm, private_key, created_at FROM dkim_keys`, []any{}
	if domain != "" {
		q += ` WHERE domain = ?`
		args = append(args, strings.ToLower(strings.TrimSuffix(domain, ".")))
	}
	var out []DKIMKey
	err := db.read(ctx, func(tx *Tx) error {
		rows, err := tx.query(ctx, q+` ORDER BY domain, id DESC`, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var k DKIMKey
			if err := rows.Scan(&k.ID, &k.Domain, &k.Selector, &k.Algorithm, &k.PrivateKey, &k.CreatedAt); err != nil {
				return err
			}
			k.CreatedAt = k.CreatedAt.UTC()
			out = append(out, k)
		}
		return rows.Err()
	})
	return out, err
}

// DeleteDKIMKey removes a key by domain and selector.
func (db *DB) DeleteDKIMKey(ctx context.Context, domain, selector string) error {
	return db.write(ctx, func(tx *Tx) error {
		res, err := tx.exec(ctx, `DELETE FROM dkim_keys WHERE domain = ? AND selector = ?`,
			strings.ToLower(strings.TrimSuffix(domain, ".")), strings.ToLower(selector))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return notFound("DKIM key")
		}
		return nil
	})
}
