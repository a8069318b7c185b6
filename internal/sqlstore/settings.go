package sqlstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
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
