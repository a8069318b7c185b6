-- Subscriptions and consent events name their subscriber (and a
-- subscription its list) without foreign keys. PostgreSQL checks a foreign
-- key with one query per inserted row, run after the statement: importing
-- a million readers (a subscription and two consent events each) spent
-- half of the server's time in those checks, and took twice as long.
--
-- The references are kept by the code that writes and deletes them:
--   - every statement that adds a subscription or a consent event for a
--     subscriber (or list) other than one its own transaction created
--     reads that row FOR KEY SHARE in the same statement, the lock the
--     foreign key took, and fails when the row is gone;
--   - erasing a subscriber deletes its subscriptions and consent events
--     after the subscriber row (so that it first waits for any
--     transaction holding that lock), and deleting a list deletes its
--     subscriptions the same way;
--   - an import locks the lists and the existing subscribers of each
--     batch in one statement.
-- DB.CountOrphans counts rows whose subscriber or list is gone; the tests
-- keep it at zero, concurrent erasures included.
ALTER TABLE subscriptions DROP CONSTRAINT IF EXISTS subscriptions_subscriber_id_fkey;
ALTER TABLE subscriptions DROP CONSTRAINT IF EXISTS subscriptions_list_id_fkey;
ALTER TABLE consent_events DROP CONSTRAINT IF EXISTS consent_events_subscriber_id_fkey;
