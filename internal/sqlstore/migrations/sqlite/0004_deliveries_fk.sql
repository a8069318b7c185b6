-- PostgreSQL drops the ledger's foreign key to campaigns here (see
-- postgres/0004). SQLite keeps it: its check is an index lookup inside
-- the insert, and dropping it would mean copying the whole table.
SELECT 1;
