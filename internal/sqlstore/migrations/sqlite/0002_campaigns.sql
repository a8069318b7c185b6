-- Campaigns and their delivery ledger.
--
-- deliveries is the per-recipient ledger, one row per (campaign, subscriber),
-- written once for every recipient when the campaign starts (the recipient
-- set is fixed then) and updated once with the outcome. Rows of the first
-- pass are claimed by ranges of subscriber_id (delivery_batches) rather
-- than row by row, so a message costs one ledger write, not three; rows to
-- retry are claimed one by one ('sending', leased until next_attempt_at).
-- Message-IDs are not stored: each is the (campaign, subscriber) pair
-- encrypted under a key derived from the installation's secret, so the
-- sender and the API derive the same one (sqlstore.MessageIDs).
-- The SQLite and PostgreSQL versions have the same tables and columns.

-- Kept in step with the suppressions table (suppress and lift), so that the
-- recipient set can leave suppressed addresses out in SQL.
ALTER TABLE subscribers ADD COLUMN suppressed BOOLEAN NOT NULL DEFAULT FALSE;

CREATE TABLE campaigns (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    name         TEXT NOT NULL,
    subject      TEXT NOT NULL DEFAULT '',
    from_addr    TEXT NOT NULL DEFAULT '',
    reply_to     TEXT NOT NULL DEFAULT '',
    format       TEXT NOT NULL DEFAULT 'markdown' CHECK (format IN ('markdown', 'html')),
    body         TEXT NOT NULL DEFAULT '',
    layout       TEXT NOT NULL DEFAULT '',
    send_at      TIMESTAMP,
    status       TEXT NOT NULL DEFAULT 'draft'
                 CHECK (status IN ('draft', 'scheduled', 'running', 'paused', 'finished', 'cancelled')),
    recipients   INTEGER NOT NULL DEFAULT 0,
    sent         INTEGER NOT NULL DEFAULT 0,
    failed       INTEGER NOT NULL DEFAULT 0,
    skipped      INTEGER NOT NULL DEFAULT 0,
    claim_cursor INTEGER NOT NULL DEFAULT 0,
    rate_at0     TIMESTAMP,
    rate_done0   INTEGER NOT NULL DEFAULT 0,
    rate_at1     TIMESTAMP,
    rate_done1   INTEGER NOT NULL DEFAULT 0,
    last_error   TEXT NOT NULL DEFAULT '',
    started_at   TIMESTAMP,
    finished_at  TIMESTAMP,
    created_at   TIMESTAMP NOT NULL,
    updated_at   TIMESTAMP NOT NULL
);
CREATE INDEX campaigns_status ON campaigns (status, send_at);

CREATE TABLE campaign_lists (
    campaign_id INTEGER NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    list_id     INTEGER NOT NULL REFERENCES lists (id) ON DELETE CASCADE,
    PRIMARY KEY (campaign_id, list_id)
);
CREATE INDEX campaign_lists_list ON campaign_lists (list_id);

CREATE TABLE deliveries (
    campaign_id     INTEGER NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    subscriber_id   INTEGER NOT NULL,
    status          TEXT NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'sending', 'retry', 'sent', 'failed', 'skipped')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP,
    last_reply      TEXT NOT NULL DEFAULT '',
    updated_at      TIMESTAMP,
    PRIMARY KEY (campaign_id, subscriber_id)
) WITHOUT ROWID;
CREATE INDEX deliveries_due ON deliveries (campaign_id, next_attempt_at) WHERE status IN ('retry', 'sending');

CREATE TABLE delivery_batches (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    campaign_id INTEGER NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    lo          INTEGER NOT NULL,
    hi          INTEGER NOT NULL,
    lease_token TEXT NOT NULL,
    lease_until TIMESTAMP NOT NULL
);
CREATE INDEX delivery_batches_lease ON delivery_batches (campaign_id, lease_until);

-- Installation-wide send limits, shared by every Herald process:
-- send_rate holds the token bucket's theoretical arrival time (GCRA, unix
-- microseconds); send_minutes counts messages per minute for the hourly cap.
CREATE TABLE send_rate (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    tat INTEGER NOT NULL
);
CREATE TABLE send_minutes (
    minute INTEGER PRIMARY KEY,
    sent   INTEGER NOT NULL
);

CREATE TABLE dkim_keys (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    domain      TEXT NOT NULL,
    selector    TEXT NOT NULL,
    algorithm   TEXT NOT NULL CHECK (algorithm IN ('rsa', 'ed25519')),
    private_key TEXT NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    UNIQUE (domain, selector)
);
