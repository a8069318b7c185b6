package sqlstore

import (
	"context"
	"strconv"

	"github.com/heraldhq/herald"
)

const listColumns = `l.id, l.slug, l.name, l.description, l.visibility, l.optin, l.created_at, l.updated_at,
	(SELECT COUNT(*) FROM subscriptions s WHERE s.list_id = l.id AND s.status = 'confirmed')`

func scanList(sc interface{ Scan(...any) error }) (*herald.List, error) {
	var l herald.List
	err := sc.Scan(&l.ID, &l.Slug, &l.Name, &l.Description, &l.Visibility, &l.OptIn, &l.CreatedAt, &l.UpdatedAt, &l.SubscriberCount)
	l.CreatedAt, l.UpdatedAt = l.CreatedAt.UTC(), l.UpdatedAt.UTC()
	return &l, err
}

// CreateList validates and stores a new list.
func (db *DB) CreateList(ctx context.Context, l *herald.List) error {
	if err := l.Validate(); err != nil {
		return err
	}
	return db.write(ctx, func(tx *Tx) error {
		l.CreatedAt, l.UpdatedAt = tx.now, tx.now
		tx.afterCommit(tx.db.invalidateLists)
		err := tx.queryRow(ctx, `INSERT INTO lists (slug, name, description, visibility, optin, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			l.Slug, l.Name, l.Description, l.Visibility, l.OptIn, tx.now, tx.now).Scan(&l.ID)
		if herald.ErrorCode(tx.db.dialect.translate(err)) == herald.ECONFLICT {
			return &herald.Error{Code: herald.ECONFLICT, Field: "slug", Message: "A list with this slug already exists."}
		}
		return tx.db.dialect.translate(err)
	})
}

// GetList finds a list by numeric id or by slug.
func (db *DB) GetList(ctx context.Context, idOrSlug string) (*herald.List, error) {
	var l *herald.List
	err := db.read(ctx, func(tx *Tx) (err error) {
		l, err = getList(ctx, tx, idOrSlug)
		return err
	})
	return l, err
}

func getList(ctx context.Context, tx *Tx, idOrSlug string) (*herald.List, error) {
	var r *row
	if id, err := strconv.ParseInt(idOrSlug, 10, 64); err == nil {
		r = tx.queryRow(ctx, `SELECT `+listColumns+` FROM lists l WHERE l.id = ?`, id)
	} else {
		r = tx.queryRow(ctx, `SELECT `+listColumns+` FROM lists l WHERE l.slug = ?`, idOrSlug)
	}
	l, err := scanList(r)
	if isNoRows(err) {
		return nil, notFound("List")
	}
	return l, err
}

// ListFilter narrows FindLists.
type ListFilter struct {
	Visibility string // "" = all
}

// FindLists returns lists ordered by name.
func (db *DB) FindLists(ctx context.Context, f ListFilter) ([]*herald.List, error) {
	var out []*herald.List
	err := db.read(ctx, func(tx *Tx) error {
		q := `SELECT ` + listColumns + ` FROM lists l`
		var args []any
		if f.Visibility != "" {
			q += ` WHERE l.visibility = ?`
			args = append(args, f.Visibility)
		}
		rows, err := tx.query(ctx, q+` ORDER BY l.name, l.id`, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			l, err := scanList(rows)
			if err != nil {
				return err
			}
			out = append(out, l)
		}
		return rows.Err()
	})
	return out, err
}

// ListPatch holds the fields of a partial list update; nil = unchanged.
type ListPatch struct {
	Slug, Name, Description, Visibility, OptIn *string
}

// UpdateList applies a patch to the list and returns the result.
func (db *DB) UpdateList(ctx context.Context, idOrSlug string, p ListPatch) (*herald.List, error) {
	var l *herald.List
	err := db.write(ctx, func(tx *Tx) (err error) {
		if l, err = getList(ctx, tx, idOrSlug); err != nil {
			return err
		}
		for dst, src := range map[*string]*string{&l.Slug: p.Slug, &l.Name: p.Name, &l.Description: p.Description, &l.Visibility: p.Visibility, &l.OptIn: p.OptIn} {
			if src != nil {
				*dst = *src
			}
		}
		if err := l.Validate(); err != nil {
			return err
		}
		l.UpdatedAt = tx.now
		tx.afterCommit(tx.db.invalidateLists)
		_, err = tx.exec(ctx, `UPDATE lists SET slug = ?, name = ?, description = ?, visibility = ?, optin = ?, updated_at = ? WHERE id = ?`,
			l.Slug, l.Name, l.Description, l.Visibility, l.OptIn, tx.now, l.ID)
		if herald.ErrorCode(err) == herald.ECONFLICT {
			return &herald.Error{Code: herald.ECONFLICT, Field: "slug", Message: "A list with this slug already exists."}
		}
		return err
	})
	return l, err
}

// DeleteList deletes a list and its subscriptions (not its subscribers).
func (db *DB) DeleteList(ctx context.Context, idOrSlug string) error {
	return db.write(ctx, func(tx *Tx) error {
		l, err := getList(ctx, tx, idOrSlug)
		if err != nil {
			return err
		}
		tx.afterCommit(tx.db.invalidateLists)
		if _, err := tx.exec(ctx, `DELETE FROM lists WHERE id = ?`, l.ID); err != nil {
			return err
		}
		// After the list row (see Erase and refs.go).
		_, err = tx.exec(ctx, `DELETE FROM subscriptions WHERE list_id = ?`, l.ID)
		return err
	})
}

// resolveLists maps slugs to lists, refusing unknown ones and, unless
// allowPrivate, private ones with the same message (no enumeration).
func resolveLists(ctx context.Context, db *DB, tx *Tx, slugs []string, allowPrivate bool) ([]*herald.List, error) {
	seen := map[string]bool{}
	var uniq []any
	for _, s := range slugs {
		if !seen[s] {
			seen[s] = true
			uniq = append(uniq, s)
		}
	}
	if len(uniq) == 0 {
		return nil, nil
	}
	if len(uniq) > 100 {
		return nil, herald.FieldError("lists", "Too many lists.")
	}
	all, err := cachedLists(ctx, db, tx)
	if err != nil {
		return nil, err
	}
	var out []*herald.List
	for _, s := range uniq {
		l, ok := all[s.(string)]
		if !ok || (l.Visibility == herald.Private && !allowPrivate) {
			continue
		}
		out = append(out, l)
	}
	if len(out) != len(uniq) {
		return nil, herald.FieldError("lists", "Unknown mailing list.")
	}
	return out, nil
}
