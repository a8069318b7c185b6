-- Mailchimp allows an account 10 simultaneous connections. Each call to it
-- leases one of these rows (holder, until: Unix milliseconds), so that
-- several Herald processes sharing a database share the 10 between them;
-- a process that dies leaves its leases to expire.
CREATE TABLE mailchimp_slots (
    slot   INTEGER PRIMARY KEY,
    holder TEXT NOT NULL DEFAULT '',
    until  BIGINT NOT NULL DEFAULT 0
);
INSERT INTO mailchimp_slots (slot) VALUES (0), (1), (2), (3), (4), (5), (6), (7), (8), (9);
