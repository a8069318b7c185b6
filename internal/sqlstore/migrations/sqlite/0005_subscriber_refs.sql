-- PostgreSQL drops the foreign keys of subscriptions and consent events
-- here (see postgres/0005). SQLite keeps them: its checks are index
-- lookups inside the insert, which cost an import little, and dropping
-- them would mean copying both tables.
SELECT 1;
