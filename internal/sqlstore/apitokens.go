package sqlstore

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"time"

	"github.com/heraldhq/herald"
)

// APITokenPrefix starts every API token, so leaked ones are easy to spot.
const APITokenPrefix = "hrld_"

// APITokenUseGranularity is how precisely a token's last use is kept:
// UseAPIToken writes it only when the stored time is older than this, so a
// busy token costs one write a minute, not one per request.
const APITokenUseGranularity = time.Minute

// APIToken describes a stored API token; the token itself is never kept,
// only its SHA-256 hash.
type APIToken struct {
	ID         int64      `json:"id"`
	Name       string     `json:"name"`
	Role       string     `json:"role"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
}

func hashToken(raw string) string {
	h := sha256.Sum256([]byte(raw))
	return hex.EncodeToString(h[:])
}

// CreateAPIToken makes a new API token and returns it; only its hash is kept.
func (db *DB) CreateAPIToken(ctx context.Context, name string) (string, error) {
	_, raw, err := db.NewAPIToken(ctx, name)
	return raw, err
}

// NewAPIToken makes a new API token and returns its description and the
// token, which cannot be shown again: only its hash is kept.
func (db *DB) NewAPIToken(ctx context.Context, name string) (*APIToken, string, error) {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 100 {
		return nil, "", herald.FieldError("name", "A token needs a name of 1–100 characters.")
	}
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	raw := APITokenPrefix + base64.RawURLEncoding.EncodeToString(b)
	t := &APIToken{Name: name, Role: "admin"}
	err := db.write(ctx, func(tx *Tx) error {
		t.CreatedAt = tx.now
		return tx.queryRow(ctx, `INSERT INTO api_tokens (name, hash, created_at, role) VALUES (?, ?, ?, ?) RETURNING id`,
			name, hashToken(raw), tx.now, t.Role).Scan(&t.ID)
	})
	if err != nil {
		return nil, "", err
	}
	return t, raw, nil
}

// AuthenticateAPIToken returns the name of the token, or EUNAUTHORIZED.
func (db *DB) AuthenticateAPIToken(ctx context.Context, raw string) (string, error) {
	t, err := db.UseAPIToken(ctx, raw)
	if err != nil {
		return "", err
	}
	return t.Name, nil
}

// UseAPIToken returns the token whose hash matches raw, or EUNAUTHORIZED,
// and records its use: the stored last use is moved forward only when it
// is older than APITokenUseGranularity, so most calls only read.
func (db *DB) UseAPIToken(ctx context.Context, raw string) (*APIToken, error) {
	if !strings.HasPrefix(raw, APITokenPrefix) {
		return nil, herald.Errorf(herald.EUNAUTHORIZED, "Invalid API token.")
	}
	var t *APIToken
	var now time.Time
	err := db.read(ctx, func(tx *Tx) error {
		now = tx.now
		var err error
		t, err = scanAPIToken(tx.queryRow(ctx, `SELECT `+apiTokenColumns+` FROM api_tokens WHERE hash = ?`, hashToken(raw)))
		if isNoRows(err) {
			return herald.Errorf(herald.EUNAUTHORIZED, "Invalid API token.")
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if t.LastUsedAt != nil && now.Sub(*t.LastUsedAt) < APITokenUseGranularity {
		return t, nil
	}
	err = db.write(ctx, func(tx *Tx) error {
		// The condition keeps concurrent requests (and other processes)
		// from writing the same minute again.
		_, err := tx.exec(ctx, `UPDATE api_tokens SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)`,
			tx.now, t.ID, tx.now.Add(-APITokenUseGranularity))
		if err == nil {
			t.LastUsedAt = &tx.now
		}
		return err
	})
	return t, err
}

const apiTokenColumns = `id, name, role, created_at, last_used_at`

func scanAPIToken(r interface{ Scan(...any) error }) (*APIToken, error) {
	var t APIToken
	var last sql.NullTime
	if err := r.Scan(&t.ID, &t.Name, &t.Role, &t.CreatedAt, &last); err != nil {
		return nil, err
	}
	t.CreatedAt = t.CreatedAt.UTC()
	t.LastUsedAt = nullTime(last)
	if t.LastUsedAt != nil {
		u := t.LastUsedAt.UTC()
		t.LastUsedAt = &u
	}
	return &t, nil
}

// ListAPITokens returns every token, oldest first.
func (db *DB) ListAPITokens(ctx context.Context) ([]*APIToken, error) {
	out := []*APIToken{}
	err := db.read(ctx, func(tx *Tx) error {
		rows, err := tx.query(ctx, `SELECT `+apiTokenColumns+` FROM api_tokens ORDER BY id`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			t, err := scanAPIToken(rows)
			if err != nil {
				return err
			}
			out = append(out, t)
		}
		return rows.Err()
	})
	return out, err
}

// RevokeAPIToken deletes the token with this id, so it no longer
// authenticates, and returns what it was; ENOTFOUND if there is none.
func (db *DB) RevokeAPIToken(ctx context.Context, id int64) (*APIToken, error) {
	var t *APIToken
	err := db.write(ctx, func(tx *Tx) error {
		var err error
		t, err = scanAPIToken(tx.queryRow(ctx, `DELETE FROM api_tokens WHERE id = ? RETURNING `+apiTokenColumns, id))
		if isNoRows(err) {
			return herald.Errorf(herald.ENOTFOUND, "No API token with id %d.", id)
		}
		return err
	})
	return t, err
}
