-- Domain events (a transactional outbox) and the consumers' cursors.
-- An event is appended in the transaction that makes the change; ids are
-- in commit order (SQLite has one writer), so a consumer's cursor is the
-- last id it handled.
CREATE TABLE events (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    kind          TEXT NOT NULL,
    subscriber_id INTEGER NOT NULL DEFAULT 0,
    list_id       INTEGER NOT NULL DEFAULT 0,
    at            TIMESTAMP NOT NULL,
    data          TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX events_subscriber ON events (subscriber_id);

CREATE TABLE event_cursors (
    consumer   TEXT PRIMARY KEY,
    after_id   INTEGER NOT NULL DEFAULT 0,
    handled    INTEGER NOT NULL DEFAULT 0,
    updated_at TIMESTAMP NOT NULL
);
