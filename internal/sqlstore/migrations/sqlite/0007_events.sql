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
-- Only what an erasure scrubs is indexed by reader: an index entry per
-- event would cost every signup another B-tree insert.
CREATE INDEX events_profile ON events (subscriber_id) WHERE kind = 'profile_changed';

CREATE TABLE event_cursors (
    consumer   TEXT PRIMARY KEY,
    after_id   INTEGER NOT NULL DEFAULT 0,
    handled    INTEGER NOT NULL DEFAULT 0,
    updated_at TIMESTAMP NOT NULL
);

-- Lists an integration takes over: its own signup disclosure (every
-- version it has had, so a version a form posts can be checked against the
-- list it was shown for) and who delivers its campaigns ('' = Herald).
-- Until now only the Mailchimp tables knew; they keep their columns, which
-- the Mailchimp integration maintains alongside these.
ALTER TABLE lists ADD COLUMN delivered_by TEXT NOT NULL DEFAULT '';
ALTER TABLE lists ADD COLUMN disclosure_id INTEGER REFERENCES disclosures (id);
CREATE TABLE list_disclosures (
    list_id       INTEGER NOT NULL REFERENCES lists (id) ON DELETE CASCADE,
    disclosure_id INTEGER NOT NULL REFERENCES disclosures (id),
    PRIMARY KEY (list_id, disclosure_id)
);
INSERT INTO list_disclosures (list_id, disclosure_id) SELECT list_id, disclosure_id FROM mailchimp_list_disclosures;
UPDATE lists SET disclosure_id = (SELECT ml.disclosure_id FROM mailchimp_lists ml WHERE ml.list_id = lists.id),
    delivered_by = COALESCE((SELECT 'Mailchimp' FROM mailchimp_lists ml WHERE ml.list_id = lists.id AND ml.delivery = 'mailchimp'), '');
