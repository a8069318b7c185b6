package sqlstore

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/heraldhq/herald"
)

// cacheTTL bounds how stale another process's list or disclosure change
// can look here; changes made through this process are seen at once.
const cacheTTL = 2 * time.Second

// cache keeps the small, hot, rarely changing tables that every signup
// reads: lists and disclosures. Disclosure versions are immutable; only
// which one is current changes.
type cache struct {
	mu          sync.Mutex
	lists       map[string]*herald.List // by slug; SubscriberCount not kept
	listsAt     time.Time
	disclosures map[int]*herald.Disclosure
	current     int
	currentAt   time.Time
}

func (db *DB) invalidateLists() {
	db.cache.mu.Lock()
	db.cache.lists = nil
	db.cache.mu.Unlock()
}

func (db *DB) invalidateDisclosure() {
	db.cache.mu.Lock()
	db.cache.current = 0
	db.cache.mu.Unlock()
}

// inTx runs fn in tx, or in a read transaction of its own when tx is nil:
// cache lookups open a transaction only when they must load.
func (db *DB) inTx(ctx context.Context, tx *Tx, fn func(*Tx) error) error {
	if tx != nil {
		return fn(tx)
	}
	return db.read(ctx, fn)
}

// cachedLists returns every list by slug, loading them (through tx, if
// not nil) when the cache is cold or stale.
func cachedLists(ctx context.Context, db *DB, tx *Tx) (map[string]*herald.List, error) {
	c := &db.cache
	c.mu.Lock()
	if c.lists != nil && time.Since(c.listsAt) < cacheTTL {
		m := c.lists
		c.mu.Unlock()
		return m, nil
	}
	c.mu.Unlock()
	m := map[string]*herald.List{}
	err := db.inTx(ctx, tx, func(tx *Tx) error {
		rows, err := tx.query(ctx, `SELECT l.id, l.slug, l.name, l.description, l.visibility, l.optin, l.created_at, l.updated_at, 0 FROM lists l`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			l, err := scanList(rows)
			if err != nil {
				return err
			}
			m[l.Slug] = l
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.lists, c.listsAt = m, time.Now()
	c.mu.Unlock()
	return m, nil
}

// PublicLists returns the public lists, ordered by name, from the cache
// (without subscriber counts): what reader pages show.
func (db *DB) PublicLists(ctx context.Context) ([]*herald.List, error) {
	db.cache.mu.Lock()
	m := db.cache.lists
	if m != nil && time.Since(db.cache.listsAt) >= cacheTTL {
		m = nil
	}
	db.cache.mu.Unlock()
	var err error
	if m == nil {
		m, err = cachedLists(ctx, db, nil)
	}
	var out []*herald.List
	for _, l := range m {
		if l.Visibility == herald.Public {
			cp := *l
			out = append(out, &cp)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].ID < out[j].ID
	})
	return out, err
}

// cachedDisclosure returns the current disclosure (version 0) or a given
// version, from the cache when it can (loading through tx, if not nil).
func cachedDisclosure(ctx context.Context, db *DB, tx *Tx, version int) (*herald.Disclosure, error) {
	c := &db.cache
	c.mu.Lock()
	if version == 0 && c.current != 0 && time.Since(c.currentAt) < cacheTTL {
		version = c.current
	}
	if d, ok := c.disclosures[version]; ok && version != 0 {
		c.mu.Unlock()
		return d, nil
	}
	c.mu.Unlock()
	var d *herald.Disclosure
	err := db.inTx(ctx, tx, func(tx *Tx) (err error) {
		if version == 0 {
			d, err = currentDisclosure(ctx, tx)
			return err
		}
		d, err = scanDisclosure(tx.queryRow(ctx, `SELECT `+disclosureColumns+` FROM disclosures WHERE version = ?`, version))
		if isNoRows(err) {
			err = notFound("Disclosure")
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.disclosures == nil {
		c.disclosures = map[int]*herald.Disclosure{}
	}
	cp := *d
	cp.Current = false // "current" is not part of the immutable version
	c.disclosures[d.Version] = &cp
	if version == 0 {
		c.current, c.currentAt = d.Version, time.Now()
	}
	c.mu.Unlock()
	return d, nil
}

// ListNames returns the names of the lists with the given ids (unknown ids
// are skipped), from the cache.
func (db *DB) ListNames(ctx context.Context, ids []int64) ([]string, error) {
	m, err := cachedLists(ctx, db, nil)
	if err != nil {
		return nil, err
	}
	byID := make(map[int64]string, len(m))
	for _, l := range m {
		byID[l.ID] = l.Name
	}
	var out []string
	for _, id := range ids {
		if n, ok := byID[id]; ok {
			out = append(out, n)
		}
	}
	return out, nil
}
