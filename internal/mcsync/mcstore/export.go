package mcstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"github.com/heraldhq/herald/internal/sqlstore"
	"sort"
	"strings"
	"time"
)

// ExportMember is one subscription of a list, with what Mailchimp's
// audience export holds about it.
type ExportMember struct {
	SubscriberID int64
	Email        string
	Name         string
	Attributes   map[string]any
	Status       string // the subscription's
	Suppressed   bool
	OptinIP      string
	OptinAt      time.Time
	ConfirmIP    string
	ConfirmAt    time.Time
	UnsubAt      time.Time
	ChangedAt    time.Time
}

// ExportPage returns up to n subscriptions of a list in a status, with
// subscriber ids above after, by id (keyset: memory stays flat whatever
// the list's size).
func (db *Store) ExportPage(ctx context.Context, listID int64, status string, after int64, n int) ([]ExportMember, error) {
	var out []ExportMember
	err := db.read(ctx, func(tx *sqlstore.Tx) error {
		var slug string
		if err := tx.QueryRow(ctx, `SELECT slug FROM lists WHERE id = ?`, listID).Scan(&slug); err != nil {
			if sqlstore.IsNoRows(err) {
				return notFound("List")
			}
			return err
		}
		rows, err := tx.Query(ctx, `SELECT sub.id, sub.email, sub.name, sub.attributes, s.unsubscribed_at, s.updated_at
			FROM subscriptions s JOIN subscribers sub ON sub.id = s.subscriber_id
			WHERE s.list_id = ? AND s.status = ? AND s.subscriber_id > ? ORDER BY s.subscriber_id LIMIT ?`, listID, status, after, n)
		if err != nil {
			return err
		}
		var ids []int64
		for rows.Next() {
			var m ExportMember
			var attrs string
			var unsub sql.NullTime
			if err := rows.Scan(&m.SubscriberID, &m.Email, &m.Name, &attrs, &unsub, &m.ChangedAt); err != nil {
				rows.Close()
				return err
			}
			m.Status = status
			if unsub.Valid {
				m.UnsubAt = unsub.Time.UTC()
			}
			m.ChangedAt = m.ChangedAt.UTC()
			if attrs != "" && attrs != "{}" {
				_ = json.Unmarshal([]byte(attrs), &m.Attributes)
			}
			out = append(out, m)
			ids = append(ids, m.SubscriberID)
		}
		rows.Close()
		if err := rows.Err(); err != nil || len(out) == 0 {
			return err
		}
		metas, err := memberMeta(ctx, tx, ids, listID, slug)
		if err != nil {
			return err
		}
		hashes := make([]any, len(out))
		byHash := make(map[string]int, len(out))
		for i := range out {
			if d := metas[out[i].SubscriberID]; d != nil {
				out[i].OptinIP, out[i].OptinAt, out[i].ConfirmIP, out[i].ConfirmAt = d.SignupIP, d.SignupAt, d.OptIP, d.OptAt
			}
			h := tx.DB().SuppressionHash(strings.ToLower(out[i].Email))
			hashes[i] = h
			byHash[h] = i
		}
		rows, err = tx.Query(ctx, `SELECT hash FROM suppressions WHERE hash IN (`+sqlstore.Placeholders(len(hashes))+`)`, hashes...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var h string
			if err := rows.Scan(&h); err != nil {
				return err
			}
			out[byHash[h]].Suppressed = true
		}
		return rows.Err()
	})
	return out, err
}

// AttributeKeys returns the attribute names that the list's subscribers
// (confirmed or unsubscribed) have, sorted: the extra columns of an export.
func (db *Store) AttributeKeys(ctx context.Context, listID int64) ([]string, error) {
	keys := map[string]bool{}
	var after int64
	for {
		n := 0
		err := db.read(ctx, func(tx *sqlstore.Tx) error {
			rows, err := tx.Query(ctx, `SELECT sub.id, sub.attributes FROM subscriptions s JOIN subscribers sub ON sub.id = s.subscriber_id
				WHERE s.list_id = ? AND s.subscriber_id > ? AND s.status IN ('confirmed', 'unsubscribed') ORDER BY s.subscriber_id LIMIT 5000`, listID, after)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				var attrs string
				if err := rows.Scan(&after, &attrs); err != nil {
					return err
				}
				n++
				if attrs == "" || attrs == "{}" {
					continue
				}
				var m map[string]json.RawMessage
				if json.Unmarshal([]byte(attrs), &m) == nil {
					for k := range m {
						keys[k] = true
					}
				}
			}
			return rows.Err()
		})
		if err != nil {
			return nil, err
		}
		if n < 5000 {
			break
		}
	}
	out := make([]string, 0, len(keys))
	for k := range keys {
		out = append(out, k)
	}
	sort.Strings(out)
	return out, nil
}
