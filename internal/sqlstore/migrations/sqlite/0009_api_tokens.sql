-- API tokens: when each was last used (recorded at most about once a
-- minute, see UseAPIToken) and the role it will act with once roles are
-- enforced (every token is an admin until then).
ALTER TABLE api_tokens ADD COLUMN last_used_at TIMESTAMP;
ALTER TABLE api_tokens ADD COLUMN role TEXT NOT NULL DEFAULT 'admin' CHECK (role IN ('admin', 'editor', 'author', 'viewer'));
