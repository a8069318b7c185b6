package sqlstore

// Feeds that lists follow and the items read from them. internal/feed
// fetches and parses; this file keeps feeds, their lists, the poll state
// (validators, errors, lease, next poll) and the deduplicated items.

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/heraldhq/herald"
)

// Feed poll intervals: the default, and the bounds a feed may ask for.
const (
	DefaultFeedInterval = 5 * time.Minute
	MinFeedInterval     = time.Minute
	MaxFeedInterval     = 24 * time.Hour
)

// Feed statuses.
const (
	FeedOK    = "ok"
	FeedError = "error"
)

// Feed is a feed and the state of its polling.
type Feed struct {
	ID           int64      `json:"id"`
	URL          string     `json:"url"`
	Lists        []string   `json:"lists"`
	Interval     Interval   `json:"interval"`
	Title        string     `json:"title"`
	Status       string     `json:"status"`
	LastError    string     `json:"last_error"`
	Errors       int        `json:"consecutive_errors"`
	LastPolledAt *time.Time `json:"last_polled_at"`
	NextPollAt   time.Time  `json:"next_poll_at"`
	Items        int        `json:"items"`
	CreatedAt    time.Time  `json:"created_at"`
	UpdatedAt    time.Time  `json:"updated_at"`
}

// Interval is a poll interval, written in JSON as a Go duration ("5m",
// "1h30m").
type Interval time.Duration

// MarshalJSON writes the interval without zero units ("5m", not "5m0s").
func (i Interval) MarshalJSON() ([]byte, error) {
	s := time.Duration(i).String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return json.Marshal(s)
}

// FeedItem is one story read from a feed.
type FeedItem struct {
	ID          int64      `json:"id"`
	FeedID      int64      `json:"feed_id"`
	GUID        string     `json:"guid"`
	Link        string     `json:"link"`
	Title       string     `json:"title"`
	Summary     string     `json:"summary"`
	Image       string     `json:"image"`
	Author      string     `json:"author"`
	Categories  []string   `json:"categories"`
	PublishedAt *time.Time `json:"published_at"`
	FirstSeenAt time.Time  `json:"first_seen_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
}

// FeedPoll is what a poller needs to poll a feed it has claimed.
type FeedPoll struct {
	ID           int64
	URL          string
	Interval     time.Duration
	ETag         string
	LastModified string
	Errors       int // consecutive failed polls before this one
}

// FeedPollResult is the outcome of one poll, recorded by RecordFeedPoll.
type FeedPollResult struct {
	// URL is the URL that was polled: when the feed's URL changed during
	// the poll, the outcome is dropped (the new URL is due at once).
	URL          string
	Err          error // nil when the poll succeeded
	NotModified  bool  // 304: nothing to store
	ETag         string
	LastModified string
	Title        string
	Items        []FeedItem
	// Next is how long until the feed is due again (the poller adds
	// backoff after errors).
	Next time.Duration
}

// ValidateFeedURL checks that raw is an absolute http or https URL without
// credentials, and returns it cleaned.
func ValidateFeedURL(raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", herald.FieldError("url", "A feed needs a url.")
	}
	if len(raw) > 2000 {
		return "", herald.FieldError("url", "The url is longer than 2000 characters.")
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", herald.FieldError("url", "The url must be an absolute http:// or https:// URL.")
	}
	if u.User != nil {
		return "", herald.FieldError("url", "The url must not contain a user name or password.")
	}
	u.Fragment = ""
	return u.String(), nil
}

// ValidateFeedInterval checks a poll interval against its bounds.
func ValidateFeedInterval(d time.Duration) error {
	if d < MinFeedInterval || d > MaxFeedInterval {
		return herald.FieldError("interval", "The interval must be from 1m to 24h.")
	}
	return nil
}

// CreateFeed adds a feed that the given lists (slugs) follow; it is due
// at once.
func (db *DB) CreateFeed(ctx context.Context, rawURL string, lists []string, interval time.Duration) (*Feed, error) {
	u, err := ValidateFeedURL(rawURL)
	if err != nil {
		return nil, err
	}
	if interval == 0 {
		interval = DefaultFeedInterval
	}
	if err := ValidateFeedInterval(interval); err != nil {
		return nil, err
	}
	var id int64
	err = db.write(ctx, func(tx *Tx) error {
		err := tx.queryRow(ctx, `INSERT INTO feeds (url, interval_seconds, next_poll_at, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?) RETURNING id`, u, int64(interval/time.Second), tx.now, tx.now, tx.now).Scan(&id)
		if herald.ErrorCode(err) == herald.ECONFLICT {
			return &herald.Error{Code: herald.ECONFLICT, Field: "url", Message: "A feed with this url exists already."}
		}
		if err != nil {
			return err
		}
		return setFeedLists(ctx, tx, id, lists)
	})
	if err != nil {
		return nil, err
	}
	return db.GetFeed(ctx, id)
}

// setFeedLists replaces the lists a feed feeds.
func setFeedLists(ctx context.Context, tx *Tx, feedID int64, slugs []string) error {
	if _, err := tx.exec(ctx, `DELETE FROM feed_lists WHERE feed_id = ?`, feedID); err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, slug := range slugs {
		if seen[slug] {
			continue
		}
		seen[slug] = true
		var listID int64
		err := tx.queryRow(ctx, `SELECT id FROM lists WHERE slug = ?`, slug).Scan(&listID)
		if isNoRows(err) {
			return herald.FieldError("lists", "There is no list %q.", slug)
		}
		if err != nil {
			return err
		}
		if _, err := tx.exec(ctx, `INSERT INTO feed_lists (feed_id, list_id) VALUES (?, ?)`, feedID, listID); err != nil {
			return err
		}
	}
	return nil
}

const feedColumns = `f.id, f.url, f.interval_seconds, f.title, f.status, f.last_error, f.errors, f.last_polled_at, f.next_poll_at,
	f.created_at, f.updated_at, (SELECT COUNT(*) FROM feed_items i WHERE i.feed_id = f.id)`

func scanFeed(r interface{ Scan(...any) error }) (*Feed, error) {
	var f Feed
	var secs int64
	var polled sql.NullTime
	if err := r.Scan(&f.ID, &f.URL, &secs, &f.Title, &f.Status, &f.LastError, &f.Errors, &polled, &f.NextPollAt,
		&f.CreatedAt, &f.UpdatedAt, &f.Items); err != nil {
		return nil, err
	}
	f.Interval = Interval(time.Duration(secs) * time.Second)
	f.LastPolledAt = nullTime(polled)
	f.NextPollAt, f.CreatedAt, f.UpdatedAt = f.NextPollAt.UTC(), f.CreatedAt.UTC(), f.UpdatedAt.UTC()
	f.Lists = []string{}
	return &f, nil
}

// feedLists fills in the list slugs of feeds.
func feedLists(ctx context.Context, tx *Tx, feeds []*Feed) error {
	if len(feeds) == 0 {
		return nil
	}
	byID := map[int64]*Feed{}
	args := make([]any, len(feeds))
	for i, f := range feeds {
		byID[f.ID] = f
		args[i] = f.ID
	}
	rows, err := tx.query(ctx, `SELECT fl.feed_id, l.slug FROM feed_lists fl JOIN lists l ON l.id = fl.list_id
		WHERE fl.feed_id IN (`+placeholders(len(args))+`) ORDER BY l.slug`, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var slug string
		if err := rows.Scan(&id, &slug); err != nil {
			return err
		}
		byID[id].Lists = append(byID[id].Lists, slug)
	}
	return rows.Err()
}

// GetFeed returns a feed, or ENOTFOUND.
func (db *DB) GetFeed(ctx context.Context, id int64) (*Feed, error) {
	var f *Feed
	err := db.read(ctx, func(tx *Tx) error {
		var err error
		f, err = scanFeed(tx.queryRow(ctx, `SELECT `+feedColumns+` FROM feeds f WHERE f.id = ?`, id))
		if isNoRows(err) {
			return notFound("Feed")
		}
		if err != nil {
			return err
		}
		return feedLists(ctx, tx, []*Feed{f})
	})
	return f, err
}

// ListFeeds returns every feed, oldest first.
func (db *DB) ListFeeds(ctx context.Context) ([]*Feed, error) {
	out := []*Feed{}
	err := db.read(ctx, func(tx *Tx) error {
		rows, err := tx.query(ctx, `SELECT `+feedColumns+` FROM feeds f ORDER BY f.id`)
		if err != nil {
			return err
		}
		for rows.Next() {
			f, err := scanFeed(rows)
			if err != nil {
				rows.Close()
				return err
			}
			out = append(out, f)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		return feedLists(ctx, tx, out)
	})
	return out, err
}

// FeedPatch changes a feed; nil fields stay as they are.
type FeedPatch struct {
	URL      *string
	Lists    *[]string
	Interval *time.Duration
}

// UpdateFeed applies p. A new URL forgets the old one's validators and
// errors and makes the feed due at once; its stored items stay.
func (db *DB) UpdateFeed(ctx context.Context, id int64, p FeedPatch) (*Feed, error) {
	var u string
	if p.URL != nil {
		var err error
		if u, err = ValidateFeedURL(*p.URL); err != nil {
			return nil, err
		}
	}
	if p.Interval != nil {
		if err := ValidateFeedInterval(*p.Interval); err != nil {
			return nil, err
		}
	}
	err := db.write(ctx, func(tx *Tx) error {
		var cur string
		err := tx.queryRow(ctx, `SELECT url FROM feeds WHERE id = ?`, id).Scan(&cur)
		if isNoRows(err) {
			return notFound("Feed")
		}
		if err != nil {
			return err
		}
		if p.URL != nil && u != cur {
			_, err := tx.exec(ctx, `UPDATE feeds SET url = ?, etag = '', last_modified = '', errors = 0, status = 'ok', last_error = '',
				next_poll_at = ?, updated_at = ? WHERE id = ?`, u, tx.now, tx.now, id)
			if herald.ErrorCode(err) == herald.ECONFLICT {
				return &herald.Error{Code: herald.ECONFLICT, Field: "url", Message: "A feed with this url exists already."}
			}
			if err != nil {
				return err
			}
		}
		if p.Interval != nil {
			if _, err := tx.exec(ctx, `UPDATE feeds SET interval_seconds = ?, updated_at = ? WHERE id = ?`,
				int64(*p.Interval/time.Second), tx.now, id); err != nil {
				return err
			}
		}
		if p.Lists != nil {
			if err := setFeedLists(ctx, tx, id, *p.Lists); err != nil {
				return err
			}
			_, err := tx.exec(ctx, `UPDATE feeds SET updated_at = ? WHERE id = ?`, tx.now, id)
			return err
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return db.GetFeed(ctx, id)
}

// DeleteFeed removes a feed and its items.
func (db *DB) DeleteFeed(ctx context.Context, id int64) error {
	return db.write(ctx, func(tx *Tx) error {
		res, err := tx.exec(ctx, `DELETE FROM feeds WHERE id = ?`, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return notFound("Feed")
		}
		return nil
	})
}

const feedPollColumns = `id, url, interval_seconds, etag, last_modified, errors`

func scanFeedPolls(rows *sql.Rows) ([]*FeedPoll, error) {
	defer rows.Close()
	var out []*FeedPoll
	for rows.Next() {
		var p FeedPoll
		var secs int64
		if err := rows.Scan(&p.ID, &p.URL, &secs, &p.ETag, &p.LastModified, &p.Errors); err != nil {
			return nil, err
		}
		p.Interval = time.Duration(secs) * time.Second
		out = append(out, &p)
	}
	return out, rows.Err()
}

// ClaimDueFeeds leases up to n feeds that are due and not leased by
// another poller. On PostgreSQL concurrent claimers skip each other's
// rows, so no feed is polled by two processes at once; a lease that ran
// out (its process died) makes the feed claimable again.
func (db *DB) ClaimDueFeeds(ctx context.Context, n int, lease time.Duration) ([]*FeedPoll, error) {
	var out []*FeedPoll
	err := db.write(ctx, func(tx *Tx) error {
		rows, err := tx.query(ctx, `UPDATE feeds SET lease_until = ?
			WHERE id IN (SELECT id FROM feeds WHERE next_poll_at <= ? AND (lease_until IS NULL OR lease_until < ?)
				ORDER BY next_poll_at, id LIMIT ?`+tx.db.dialect.claimSuffix()+`)
			RETURNING `+feedPollColumns, tx.now.Add(lease), tx.now, tx.now, n)
		if err != nil {
			return err
		}
		out, err = scanFeedPolls(rows)
		return err
	})
	return out, err
}

// ClaimFeed leases one feed whether due or not (poll now): ENOTFOUND, or
// ECONFLICT while another poller holds it.
func (db *DB) ClaimFeed(ctx context.Context, id int64, lease time.Duration) (*FeedPoll, error) {
	var out []*FeedPoll
	err := db.write(ctx, func(tx *Tx) error {
		rows, err := tx.query(ctx, `UPDATE feeds SET lease_until = ? WHERE id = ? AND (lease_until IS NULL OR lease_until < ?)
			RETURNING `+feedPollColumns, tx.now.Add(lease), id, tx.now)
		if err != nil {
			return err
		}
		if out, err = scanFeedPolls(rows); err != nil {
			return err
		}
		if len(out) == 0 {
			var one int
			if err := tx.queryRow(ctx, `SELECT 1 FROM feeds WHERE id = ?`, id).Scan(&one); isNoRows(err) {
				return notFound("Feed")
			}
			return herald.Errorf(herald.ECONFLICT, "The feed is being polled right now; try again in a moment.")
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out[0], nil
}

// RecordFeedPoll stores the outcome of a poll of a claimed feed and
// releases its lease. Items are matched to stored ones by guid, then by
// link: a match is updated in place (keeping its first-seen time), the
// rest are inserted. It returns how many items were new.
func (db *DB) RecordFeedPoll(ctx context.Context, id int64, r *FeedPollResult) (int, error) {
	added := 0
	err := db.write(ctx, func(tx *Tx) error {
		next := tx.now.Add(r.Next)
		var cur string
		if err := tx.queryRow(ctx, `SELECT url FROM feeds WHERE id = ?`, id).Scan(&cur); isNoRows(err) {
			return nil // deleted while it was being polled
		} else if err != nil {
			return err
		}
		if r.URL != "" && r.URL != cur {
			_, err := tx.exec(ctx, `UPDATE feeds SET lease_until = NULL WHERE id = ?`, id)
			return err
		}
		if r.Err != nil {
			msg := r.Err.Error()
			if len(msg) > 1000 {
				msg = msg[:1000]
			}
			_, err := tx.exec(ctx, `UPDATE feeds SET status = 'error', last_error = ?, errors = errors + 1, last_polled_at = ?,
				next_poll_at = ?, lease_until = NULL, updated_at = ? WHERE id = ?`, strings.ToValidUTF8(msg, "?"), tx.now, next, tx.now, id)
			return err
		}
		if r.NotModified {
			_, err := tx.exec(ctx, `UPDATE feeds SET status = 'ok', last_error = '', errors = 0, last_polled_at = ?,
				next_poll_at = ?, lease_until = NULL WHERE id = ?`, tx.now, next, id)
			return err
		}
		for i := range r.Items {
			isNew, err := upsertFeedItem(ctx, tx, id, &r.Items[i])
			if err != nil {
				return fmt.Errorf("storing feed item %q: %w", r.Items[i].GUID, err)
			}
			if isNew {
				added++
			}
		}
		_, err := tx.exec(ctx, `UPDATE feeds SET status = 'ok', last_error = '', errors = 0, etag = ?, last_modified = ?, title = ?,
			last_polled_at = ?, next_poll_at = ?, lease_until = NULL, updated_at = ? WHERE id = ?`,
			r.ETag, r.LastModified, r.Title, tx.now, next, tx.now, id)
		return err
	})
	return added, err
}

func upsertFeedItem(ctx context.Context, tx *Tx, feedID int64, it *FeedItem) (bool, error) {
	cats, _ := json.Marshal(nonNil(it.Categories))
	var existing int64
	err := tx.queryRow(ctx, `SELECT id FROM feed_items WHERE feed_id = ? AND guid = ?`, feedID, it.GUID).Scan(&existing)
	if isNoRows(err) && it.Link != "" {
		err = tx.queryRow(ctx, `SELECT id FROM feed_items WHERE feed_id = ? AND link = ? ORDER BY id LIMIT 1`, feedID, it.Link).Scan(&existing)
	}
	var published any
	if it.PublishedAt != nil {
		published = it.PublishedAt.UTC()
	}
	switch {
	case isNoRows(err):
		_, err = tx.exec(ctx, `INSERT INTO feed_items (feed_id, guid, link, title, summary, image, author, categories, published_at,
			first_seen_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			feedID, it.GUID, it.Link, it.Title, it.Summary, it.Image, it.Author, string(cats), published, tx.now, tx.now)
		return err == nil, err
	case err != nil:
		return false, err
	}
	// The stored guid stays (a republished item under a new guid is the
	// same story); the rest follows the feed, written only when it changed.
	_, err = tx.exec(ctx, `UPDATE feed_items SET link = ?, title = ?, summary = ?, image = ?, author = ?, categories = ?, published_at = ?,
		updated_at = ? WHERE id = ? AND NOT (link = ? AND title = ? AND summary = ? AND image = ? AND author = ? AND categories = ?
		AND published_at IS NOT DISTINCT FROM ?)`,
		it.Link, it.Title, it.Summary, it.Image, it.Author, string(cats), published, tx.now, existing,
		it.Link, it.Title, it.Summary, it.Image, it.Author, string(cats), published)
	return false, err
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// FeedItems returns a feed's items, newest first (by published time, else
// first-seen time), and their total.
func (db *DB) FeedItems(ctx context.Context, feedID int64, limit, offset int) ([]*FeedItem, int, error) {
	out := []*FeedItem{}
	total := 0
	err := db.read(ctx, func(tx *Tx) error {
		var one int
		if err := tx.queryRow(ctx, `SELECT 1 FROM feeds WHERE id = ?`, feedID).Scan(&one); isNoRows(err) {
			return notFound("Feed")
		} else if err != nil {
			return err
		}
		if err := tx.queryRow(ctx, `SELECT COUNT(*) FROM feed_items WHERE feed_id = ?`, feedID).Scan(&total); err != nil {
			return err
		}
		rows, err := tx.query(ctx, `SELECT id, feed_id, guid, link, title, summary, image, author, categories, published_at, first_seen_at, updated_at
			FROM feed_items WHERE feed_id = ? ORDER BY COALESCE(published_at, first_seen_at) DESC, id DESC LIMIT ? OFFSET ?`,
			feedID, limit, offset)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var it FeedItem
			var cats string
			var pub sql.NullTime
			if err := rows.Scan(&it.ID, &it.FeedID, &it.GUID, &it.Link, &it.Title, &it.Summary, &it.Image, &it.Author, &cats, &pub,
				&it.FirstSeenAt, &it.UpdatedAt); err != nil {
				return err
			}
			if err := json.Unmarshal([]byte(cats), &it.Categories); err != nil || it.Categories == nil {
				it.Categories = []string{}
			}
			it.PublishedAt = nullTime(pub)
			it.FirstSeenAt, it.UpdatedAt = it.FirstSeenAt.UTC(), it.UpdatedAt.UTC()
			out = append(out, &it)
		}
		return rows.Err()
	})
	return out, total, err
}
