package sqlstore

// Lists an integration takes over. A list connected to an outside service
// may carry its own signup disclosure (naming that service as processor),
// and may be delivered by that service rather than by Herald. The store
// keeps both on the list (lists.disclosure_id, lists.delivered_by, and
// list_disclosures for every version a list has had), so signups and the
// campaign sender follow them without knowing which integration set them.

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/heraldhq/herald"
)

// listDiscCache keeps the lists' own disclosures, which every signup
// reads, like the lists and disclosures in cache.go.
type listDiscCache struct {
	mu          sync.Mutex
	disclosures map[int64]*herald.Disclosure // by list id
	at          time.Time
}

func (db *DB) invalidateListDisclosures() {
	db.listDisc.mu.Lock()
	db.listDisc.disclosures = nil
	db.listDisc.mu.Unlock()
}

// ListDisclosures returns the lists that have a signup disclosure of their
// own, by list id. Other lists use the installation's current one.
func (db *DB) ListDisclosures(ctx context.Context) (map[int64]*herald.Disclosure, error) {
	return cachedListDisclosures(ctx, db, nil)
}

// cachedListDisclosures returns the lists' own disclosures from the cache,
// loading them (through tx, if not nil) when it is cold or stale. The map
// is shared: do not change it.
func cachedListDisclosures(ctx context.Context, db *DB, tx *Tx) (map[int64]*herald.Disclosure, error) {
	c := &db.listDisc
	c.mu.Lock()
	if c.disclosures != nil && time.Since(c.at) < cacheTTL {
		m := c.disclosures
		c.mu.Unlock()
		return m, nil
	}
	c.mu.Unlock()
	type lv struct {
		list    int64
		version int
	}
	var found []lv
	err := db.inTx(ctx, tx, func(tx *Tx) error {
		rows, err := tx.query(ctx, `SELECT l.id, d.version FROM lists l JOIN disclosures d ON d.id = l.disclosure_id`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var x lv
			if err := rows.Scan(&x.list, &x.version); err != nil {
				return err
			}
			found = append(found, x)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	m := make(map[int64]*herald.Disclosure, len(found))
	for _, x := range found {
		d, err := cachedDisclosure(ctx, db, tx, x.version)
		if err != nil {
			return nil, err
		}
		m[x.list] = d
	}
	c.mu.Lock()
	c.disclosures, c.at = m, time.Now()
	c.mu.Unlock()
	return m, nil
}

// listDisclosureVersion returns the disclosure with this version if it was
// ever a disclosure of the list, else nil.
func listDisclosureVersion(ctx context.Context, tx *Tx, listID int64, version int) (*herald.Disclosure, error) {
	var n int
	err := tx.queryRow(ctx, `SELECT COUNT(*) FROM list_disclosures ld JOIN disclosures d ON d.id = ld.disclosure_id
		WHERE ld.list_id = ? AND d.version = ?`, listID, version).Scan(&n)
	if err != nil || n == 0 {
		return nil, err
	}
	return cachedDisclosure(ctx, tx.db, tx, version)
}

// NewListDisclosure stores a disclosure version that is not the
// installation's current one but the list's, and makes it the list's
// signup disclosure.
func NewListDisclosure(ctx context.Context, tx *Tx, listID int64, text string) (*herald.Disclosure, error) {
	var next int
	if err := tx.queryRow(ctx, `SELECT COALESCE(MAX(version), 0) + 1 FROM disclosures`).Scan(&next); err != nil {
		return nil, err
	}
	d := &herald.Disclosure{Version: next, Text: text, Hash: DisclosureHash(text), CreatedAt: tx.now}
	if err := tx.queryRow(ctx, `INSERT INTO disclosures (version, text, hash, current, created_at) VALUES (?, ?, ?, FALSE, ?) RETURNING id`,
		d.Version, d.Text, d.Hash, tx.now).Scan(&d.ID); err != nil {
		return nil, err
	}
	if _, err := tx.exec(ctx, `INSERT INTO list_disclosures (list_id, disclosure_id) VALUES (?, ?)`, listID, d.ID); err != nil {
		return nil, err
	}
	return d, SetListDisclosure(ctx, tx, listID, d.ID)
}

// SetListDisclosure makes one of the list's disclosures its signup
// disclosure; 0 goes back to the installation's.
func SetListDisclosure(ctx context.Context, tx *Tx, listID, disclosureID int64) error {
	var id any
	if disclosureID != 0 {
		id = disclosureID
	}
	if _, err := tx.exec(ctx, `UPDATE lists SET disclosure_id = ? WHERE id = ?`, id, listID); err != nil {
		return err
	}
	tx.afterCommit(tx.db.invalidateListDisclosures)
	return nil
}

// SetListDelivery names the service that delivers a list's campaigns
// ("" = Herald). Herald's campaign sender refuses lists delivered
// elsewhere.
func SetListDelivery(ctx context.Context, tx *Tx, listID int64, deliveredBy string) error {
	_, err := tx.exec(ctx, `UPDATE lists SET delivered_by = ? WHERE id = ?`, deliveredBy, listID)
	return err
}

// CheckHeraldDelivers returns an ECONFLICT error naming the lists, among
// listIDs, that another service delivers, or nil when Herald may send to
// all of them. Campaign code calls it before starting (or sending a batch
// of) a campaign.
func (db *DB) CheckHeraldDelivers(ctx context.Context, listIDs []int64) error {
	if len(listIDs) == 0 {
		return nil
	}
	args := make([]any, len(listIDs))
	for i, id := range listIDs {
		args[i] = id
	}
	var err error
	rerr := db.read(ctx, func(tx *Tx) error {
		err = deliveredElsewhere(ctx, tx, `SELECT slug, delivered_by FROM lists WHERE delivered_by <> '' AND id IN (`+placeholders(len(args))+`) ORDER BY slug`, args...)
		return nil
	})
	if rerr != nil {
		return rerr
	}
	return err
}

// deliveredElsewhere runs a query of (slug, delivered_by) rows and returns
// the refusal for them, nil for none.
func deliveredElsewhere(ctx context.Context, tx *Tx, q string, args ...any) error {
	rows, err := tx.query(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	var slugs []string
	by := ""
	for rows.Next() {
		var s, b string
		if err := rows.Scan(&s, &b); err != nil {
			return err
		}
		slugs, by = append(slugs, s), b
	}
	if err := rows.Err(); err != nil || len(slugs) == 0 {
		return err
	}
	return DeliveredElsewhere(slugs, by)
}

// DeliveredElsewhere is the error for sending a campaign to lists that
// another service (by) delivers.
func DeliveredElsewhere(slugs []string, by string) error {
	what := fmt.Sprintf("The list %q is", slugs[0])
	if len(slugs) > 1 {
		what = fmt.Sprintf("The lists %q are", slugs)
	}
	return &herald.Error{Code: herald.ECONFLICT, Field: "lists", Message: fmt.Sprintf("%s delivered by %s: Herald sends no campaigns to it. "+
		"Send from %s, or let Herald deliver the list in its %s settings.", what, by, by, by)}
}

// signupConsents writes the consent events of a signup (or of joining
// lists): one event per distinct disclosure. Lists with a disclosure of
// their own carry it; the others the installation's. shown holds versions
// a form says it showed for lists (by slug); a version that was never the
// list's is ignored.
func signupConsents(ctx context.Context, tx *Tx, subID int64, kind string, m Meta, lists []*herald.List, global *herald.Disclosure,
	perList map[int64]*herald.Disclosure, shown map[string]int) error {
	type group struct {
		d     *herald.Disclosure
		slugs []string
	}
	var groups []*group
	byID := map[int64]*group{}
	for _, l := range lists {
		d := global
		if ld := perList[l.ID]; ld != nil {
			d = ld
			if v := shown[l.Slug]; v > 0 && v != ld.Version {
				old, err := listDisclosureVersion(ctx, tx, l.ID, v)
				if err != nil {
					return err
				}
				if old != nil {
					d = old
				}
			}
		}
		var key int64
		if d != nil {
			key = d.ID
		}
		g := byID[key]
		if g == nil {
			g = &group{d: d}
			byID[key] = g
			groups = append(groups, g)
		}
		g.slugs = append(g.slugs, l.Slug)
	}
	for _, g := range groups {
		if err := addConsent(ctx, tx, subID, kind, m, g.slugs, g.d); err != nil {
			return err
		}
	}
	return nil
}

// listsBySlug returns those of lists whose slug is in slugs.
func listsBySlug(lists []*herald.List, slugs []string) []*herald.List {
	var out []*herald.List
	for _, l := range lists {
		for _, s := range slugs {
			if l.Slug == s {
				out = append(out, l)
				break
			}
		}
	}
	return out
}

func subscriptionStatus(ctx context.Context, tx *Tx, subID, listID int64) (string, error) {
	var st string
	err := tx.queryRow(ctx, `SELECT status FROM subscriptions WHERE subscriber_id = ? AND list_id = ?`, subID, listID).Scan(&st)
	if isNoRows(err) {
		return "", nil
	}
	return st, err
}
