package sqlstore

import (
	"bufio"
	"bytes"
	"context"
	"mime"
	"net/textproto"
	"strings"

	"github.com/heraldhq/herald"
)

var wordDecoder = new(mime.WordDecoder)

// WriteOutbox keeps a message in the built-in outbox, one row per recipient.
func (db *DB) WriteOutbox(ctx context.Context, from string, to []string, raw []byte) error {
	subject := ""
	if h, err := textproto.NewReader(bufio.NewReader(bytes.NewReader(raw))).ReadMIMEHeader(); err == nil {
		subject = h.Get("Subject")
		if dec, err := wordDecoder.DecodeHeader(subject); err == nil {
			subject = dec
		}
	}
	return db.writeGrouped(ctx, func(tx *Tx) error {
		for _, rcpt := range to {
			if _, err := tx.exec(ctx, `INSERT INTO outbox (from_addr, to_addr, to_key, subject, raw, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
				from, rcpt, strings.ToLower(rcpt), clip(subject, 1000), string(raw), tx.now); err != nil {
				return err
			}
		}
		return nil
	})
}

// OutboxFilter narrows Outbox.
type OutboxFilter struct {
	To     string
	Limit  int
	Offset int
}

// Outbox lists kept messages, newest first, without their raw text.
func (db *DB) Outbox(ctx context.Context, f OutboxFilter) ([]herald.OutboxMessage, int, error) {
	if f.Limit <= 0 || f.Limit > 1000 {
		f.Limit = 50
	}
	where, args := "", []any{}
	if f.To != "" {
		where, args = ` WHERE to_key = ?`, append(args, strings.ToLower(strings.TrimSpace(f.To)))
	}
	var out []herald.OutboxMessage
	var total int
	err := db.read(ctx, func(tx *Tx) error {
		if err := tx.queryRow(ctx, `SELECT COUNT(*) FROM outbox`+where, args...).Scan(&total); err != nil {
			return err
		}
		rows, err := tx.query(ctx, `SELECT id, to_addr, subject, created_at FROM outbox`+where+` ORDER BY id DESC LIMIT ? OFFSET ?`,
			append(args, f.Limit, f.Offset)...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var m herald.OutboxMessage
			if err := rows.Scan(&m.ID, &m.To, &m.Subject, &m.CreatedAt); err != nil {
				return err
			}
			m.CreatedAt = m.CreatedAt.UTC()
			out = append(out, m)
		}
		return rows.Err()
	})
	if out == nil {
		out = []herald.OutboxMessage{}
	}
	return out, total, err
}

// GetOutbox returns one kept message with its raw text.
func (db *DB) GetOutbox(ctx context.Context, id int64) (*herald.OutboxMessage, error) {
	var m herald.OutboxMessage
	err := db.read(ctx, func(tx *Tx) error {
		err := tx.queryRow(ctx, `SELECT id, to_addr, subject, created_at, raw FROM outbox WHERE id = ?`, id).
			Scan(&m.ID, &m.To, &m.Subject, &m.CreatedAt, &m.Raw)
		if isNoRows(err) {
			return notFound("Message")
		}
		m.CreatedAt = m.CreatedAt.UTC()
		return err
	})
	return &m, err
}

func outboxFor(ctx context.Context, tx *Tx, key string) ([]herald.OutboxMessage, error) {
	rows, err := tx.query(ctx, `SELECT id, to_addr, subject, created_at FROM outbox WHERE to_key = ? ORDER BY id`, key)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []herald.OutboxMessage{}
	for rows.Next() {
		var m herald.OutboxMessage
		if err := rows.Scan(&m.ID, &m.To, &m.Subject, &m.CreatedAt); err != nil {
			return nil, err
		}
		m.CreatedAt = m.CreatedAt.UTC()
		out = append(out, m)
	}
	return out, rows.Err()
}
