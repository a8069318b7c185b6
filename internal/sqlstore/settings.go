package sqlstore

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strings"

	"github.com/heraldhq/herald"
)

// Secret returns the installation's signing secret, creating a random one
// the first time. Several processes racing here agree on one value.
func (db *DB) Secret(ctx context.Context) ([]byte, error) {
	var v string
	err := db.write(ctx, func(tx *Tx) error {
		b := make([]byte, 32)
		_, _ = rand.Read(b)
		if _, err := tx.exec(ctx, `INSERT INTO settings (key, value) VALUES ('secret', ?) ON CONFLICT (key) DO NOTHING`, hex.EncodeToString(b)); err != nil {
			return err
		}
		return tx.queryRow(ctx, `SELECT value FROM settings WHERE key = 'secret'`).Scan(&v)
	})
	return []byte(v), err
}

// APITokenPrefix starts every API token, so leaked ones are easy to spot.
const APITokenPrefix = "hrld_"

func hashToken(raw string) string {
	h := sha256.Sum256([]byte(raw))
	return hex.EncodeToString(h[:])
}

// CreateAPIToken makes a new API token and returns it; only its hash is kept.
func (db *DB) CreateAPIToken(ctx context.Context, name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 100 {
		return "", herald.FieldError("name", "A token needs a name of 1–100 characters.")
	}
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	raw := APITokenPrefix + base64.RawURLEncoding.EncodeToString(b)
	err := db.write(ctx, func(tx *Tx) error {
		_, err := tx.exec(ctx, `INSERT INTO api_tokens (name, hash, created_at) VALUES (?, ?, ?)`, name, hashToken(raw), tx.now)
		return err
	})
	return raw, err
}

// AuthenticateAPIToken returns the name of the token, or EUNAUTHORIZED.
func (db *DB) AuthenticateAPIToken(ctx context.Context, raw string) (string, error) {
	var name string
	err := db.read(ctx, func(tx *Tx) error {
		err := tx.queryRow(ctx, `SELECT name FROM api_tokens WHERE hash = ?`, hashToken(raw)).Scan(&name)
		if isNoRows(err) {
			return herald.Errorf(herald.EUNAUTHORIZED, "Invalid API token.")
		}
		return err
	})
	return name, err
}
