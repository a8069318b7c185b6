-- Mailchimp: the account connection, the lists connected to audiences, the
-- per-list disclosures, ordering keys of sync jobs, and what webhooks have
-- already been applied. The SQLite and PostgreSQL versions have the same
-- tables and columns.

-- One row at most: the account's API key, encrypted with a key derived from
-- the installation secret (AES-256-GCM), and the secret in the webhook URL.
CREATE TABLE mailchimp_connection (
    id             INTEGER PRIMARY KEY CHECK (id = 1),
    api_key_enc    TEXT NOT NULL,
    key_hint       TEXT NOT NULL,
    base_url       TEXT NOT NULL DEFAULT '',
    webhook_secret TEXT NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL
);

-- A Herald list connected to a Mailchimp audience (and optionally one
-- interest of it). disclosure_id is the list's current signup disclosure.
CREATE TABLE mailchimp_lists (
    list_id          BIGINT PRIMARY KEY REFERENCES lists (id) ON DELETE CASCADE,
    audience_id      TEXT NOT NULL,
    audience_name    TEXT NOT NULL DEFAULT '',
    interest_id      TEXT NOT NULL DEFAULT '',
    category_id      TEXT NOT NULL DEFAULT '',
    interest_name    TEXT NOT NULL DEFAULT '',
    delivery         TEXT NOT NULL DEFAULT 'mailchimp' CHECK (delivery IN ('mailchimp', 'herald')),
    disclosure_id    BIGINT NOT NULL REFERENCES disclosures (id),
    webhook_id       TEXT NOT NULL DEFAULT '',
    webhook_error    TEXT NOT NULL DEFAULT '',
    sync_state       TEXT NOT NULL DEFAULT 'never' CHECK (sync_state IN ('never', 'queued', 'running', 'done', 'failed')),
    sync_cursor      BIGINT NOT NULL DEFAULT 0,
    sync_members     INTEGER NOT NULL DEFAULT 0,
    sync_created     INTEGER NOT NULL DEFAULT 0,
    sync_updated     INTEGER NOT NULL DEFAULT 0,
    sync_errors      INTEGER NOT NULL DEFAULT 0,
    sync_error       TEXT NOT NULL DEFAULT '',
    sync_started_at  TIMESTAMPTZ,
    sync_finished_at TIMESTAMPTZ,
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX mailchimp_lists_target ON mailchimp_lists (audience_id, interest_id);

-- Every disclosure version a list has had while connected, so a version a
-- form posts can be checked against the list it was shown for.
CREATE TABLE mailchimp_list_disclosures (
    list_id       BIGINT NOT NULL REFERENCES lists (id) ON DELETE CASCADE,
    disclosure_id BIGINT NOT NULL REFERENCES disclosures (id),
    PRIMARY KEY (list_id, disclosure_id)
);

-- The member a Mailchimp sync job is about (a keyed hash of audience and
-- address), so jobs for one member run in the order they were queued.
-- Rows go with their job.
CREATE TABLE mailchimp_sync_keys (
    job_id        BIGINT PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
    member_key    TEXT NOT NULL,
    subscriber_id BIGINT NOT NULL
);
CREATE INDEX mailchimp_sync_keys_member ON mailchimp_sync_keys (member_key, job_id);
CREATE INDEX mailchimp_sync_keys_subscriber ON mailchimp_sync_keys (subscriber_id);

-- Webhook events already applied (a keyed hash of the whole post), so a
-- replay changes nothing; pruned after 30 days.
CREATE TABLE mailchimp_webhook_events (
    event_key  TEXT PRIMARY KEY,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX mailchimp_webhook_events_created ON mailchimp_webhook_events (created_at);

-- The fired_at of the newest webhook event applied per member (a keyed hash
-- of audience and address), so an older event arriving late is not applied.
CREATE TABLE mailchimp_webhook_marks (
    member_key TEXT PRIMARY KEY,
    fired_at   TIMESTAMPTZ NOT NULL
);
