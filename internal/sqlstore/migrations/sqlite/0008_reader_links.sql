-- Reader links (manage, unsubscribe) carry the time they were issued. A
-- link issued at or before revoked_before (Unix milliseconds) no longer
-- opens the reader's pages; mailed_at (Unix milliseconds) is when a fresh
-- manage link was last mailed on request, for the per-address limit.
CREATE TABLE reader_links (
    subscriber_id  INTEGER PRIMARY KEY REFERENCES subscribers (id) ON DELETE CASCADE,
    revoked_before INTEGER NOT NULL DEFAULT 0,
    mailed_at      INTEGER NOT NULL DEFAULT 0
);
