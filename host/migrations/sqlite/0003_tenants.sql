-- Tenants, their API keys, and who owns and may see what.
--
-- A key is stored only as the sha256 of its secret, so the database cannot
-- be used to impersonate anyone. Rows created before tenancy belong to the
-- anonymous tenant.

CREATE TABLE tenants (
    id       TEXT    NOT NULL PRIMARY KEY,
    role     TEXT    NOT NULL CHECK (role IN ('admin', 'developer', 'user')),
    created  INTEGER NOT NULL
) STRICT;

CREATE TABLE api_keys (
    id         TEXT    NOT NULL PRIMARY KEY,
    tenant_id  TEXT    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    hash       TEXT    NOT NULL UNIQUE,
    created    INTEGER NOT NULL,
    revoked    INTEGER
) STRICT;

ALTER TABLE jobs ADD COLUMN owner TEXT NOT NULL DEFAULT 'anonymous';

-- A tenant's job list, newest first.
CREATE INDEX jobs_owner_created ON jobs (owner, created DESC, id);

ALTER TABLE processes ADD COLUMN owner TEXT NOT NULL DEFAULT 'anonymous';

-- `{"visibility": "private" | "public"}` or
-- `{"visibility": "shared", "tenants": [...]}`.
ALTER TABLE processes ADD COLUMN visibility TEXT NOT NULL DEFAULT '{"visibility":"private"}';
