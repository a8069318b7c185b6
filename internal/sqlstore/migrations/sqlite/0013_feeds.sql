-- Feeds (RSS, Atom, JSON Feed) that lists follow, and the items read from
-- them (internal/feed polls; internal/sqlstore/feeds.go keeps them).
-- A feed is due when next_poll_at has passed; a poller claims it by
-- setting lease_until, so two processes never poll one feed at once.
-- errors counts consecutive failed polls (for the backoff); etag and
-- last_modified are the validators of the last good response.
CREATE TABLE feeds (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    url              TEXT NOT NULL UNIQUE,
    interval_seconds INTEGER NOT NULL DEFAULT 300 CHECK (interval_seconds >= 60),
    status           TEXT NOT NULL DEFAULT 'ok' CHECK (status IN ('ok', 'error')),
    last_error       TEXT NOT NULL DEFAULT '',
    errors           INTEGER NOT NULL DEFAULT 0,
    etag             TEXT NOT NULL DEFAULT '',
    last_modified    TEXT NOT NULL DEFAULT '',
    title            TEXT NOT NULL DEFAULT '',
    last_polled_at   TIMESTAMP,
    next_poll_at     TIMESTAMP NOT NULL,
    lease_until      TIMESTAMP,
    created_at       TIMESTAMP NOT NULL,
    updated_at       TIMESTAMP NOT NULL
);
CREATE INDEX feeds_due ON feeds (next_poll_at, id);

CREATE TABLE feed_lists (
    feed_id INTEGER NOT NULL REFERENCES feeds (id) ON DELETE CASCADE,
    list_id INTEGER NOT NULL REFERENCES lists (id) ON DELETE CASCADE,
    PRIMARY KEY (feed_id, list_id)
);
CREATE INDEX feed_lists_list ON feed_lists (list_id);

-- An item is unique per feed by guid; the store also matches an incoming
-- item to a stored one by canonical link before inserting it. first_seen_at
-- never changes: an item edited later is updated in place and is not new.
-- categories is a JSON array of strings.
CREATE TABLE feed_items (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    feed_id       INTEGER NOT NULL REFERENCES feeds (id) ON DELETE CASCADE,
    guid          TEXT NOT NULL,
    link          TEXT NOT NULL DEFAULT '',
    title         TEXT NOT NULL DEFAULT '',
    summary       TEXT NOT NULL DEFAULT '',
    image         TEXT NOT NULL DEFAULT '',
    author        TEXT NOT NULL DEFAULT '',
    categories    TEXT NOT NULL DEFAULT '[]',
    published_at  TIMESTAMP,
    first_seen_at TIMESTAMP NOT NULL,
    updated_at    TIMESTAMP NOT NULL,
    UNIQUE (feed_id, guid)
);
CREATE INDEX feed_items_link ON feed_items (feed_id, link);
CREATE INDEX feed_items_seen ON feed_items (feed_id, first_seen_at, id);
