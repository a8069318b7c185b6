-- Core schema: settings, lists, subscribers, subscriptions, consent ledger,
-- disclosures, suppressions, jobs, outbox, API tokens.
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE lists (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    slug        TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    visibility  TEXT NOT NULL DEFAULT 'public' CHECK (visibility IN ('public', 'private')),
    optin       TEXT NOT NULL DEFAULT 'double' CHECK (optin IN ('double', 'single')),
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL
);

CREATE TABLE subscribers (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    email         TEXT NOT NULL,
    email_key     TEXT NOT NULL UNIQUE,
    name          TEXT NOT NULL DEFAULT '',
    attributes    TEXT NOT NULL DEFAULT '{}',
    confirm_nonce INTEGER,
    confirm_mail_at TIMESTAMP,
    created_at    TIMESTAMP NOT NULL,
    updated_at    TIMESTAMP NOT NULL
);

CREATE TABLE subscriptions (
    subscriber_id   INTEGER NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
    list_id         INTEGER NOT NULL REFERENCES lists (id) ON DELETE CASCADE,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'confirmed', 'unsubscribed')),
    created_at      TIMESTAMP NOT NULL,
    updated_at      TIMESTAMP NOT NULL,
    confirmed_at    TIMESTAMP,
    unsubscribed_at TIMESTAMP,
    PRIMARY KEY (subscriber_id, list_id)
);
CREATE INDEX subscriptions_list_status ON subscriptions (list_id, status, subscriber_id);

CREATE TABLE disclosures (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    version    INTEGER NOT NULL UNIQUE,
    text       TEXT NOT NULL,
    hash       TEXT NOT NULL,
    current    BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE consent_events (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    subscriber_id      INTEGER NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
    kind               TEXT NOT NULL,
    actor              TEXT NOT NULL,
    created_at         TIMESTAMP NOT NULL,
    ip                 TEXT NOT NULL DEFAULT '',
    user_agent         TEXT NOT NULL DEFAULT '',
    source_url         TEXT NOT NULL DEFAULT '',
    lists              TEXT NOT NULL DEFAULT '',
    disclosure_id      INTEGER REFERENCES disclosures (id),
    disclosure_version INTEGER,
    disclosure_hash    TEXT NOT NULL DEFAULT '',
    detail             TEXT NOT NULL DEFAULT ''
);
CREATE INDEX consent_events_subscriber ON consent_events (subscriber_id, id);

CREATE TABLE suppressions (
    hash       TEXT PRIMARY KEY,
    reason     TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE jobs (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    kind         TEXT NOT NULL,
    payload      TEXT NOT NULL DEFAULT '{}',
    status       TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'running', 'failed')),
    attempts     INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL DEFAULT 10,
    run_at       TIMESTAMP NOT NULL,
    lease_until  TIMESTAMP,
    last_error   TEXT NOT NULL DEFAULT '',
    created_at   TIMESTAMP NOT NULL,
    updated_at   TIMESTAMP NOT NULL
);
CREATE INDEX jobs_ready ON jobs (status, run_at, id);
CREATE INDEX jobs_kind_ready ON jobs (status, kind, run_at, id);

CREATE TABLE outbox (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    from_addr     TEXT NOT NULL,
    to_addr       TEXT NOT NULL,
    to_key        TEXT NOT NULL,
    subject       TEXT NOT NULL DEFAULT '',
    raw           TEXT NOT NULL,
    created_at    TIMESTAMP NOT NULL
);
CREATE INDEX outbox_to ON outbox (to_key);

CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    name         TEXT NOT NULL,
    hash         TEXT NOT NULL UNIQUE,
    created_at   TIMESTAMP NOT NULL
);
