-- The durable store on PostgreSQL: the schema the SQLite migrations
-- 0001..0005 build, in one step (a PostgreSQL store starts out new).
--
-- Timestamps are BIGINT microseconds since the Unix epoch (UTC), as on
-- SQLite, so both stores read and write the same values with the same
-- code. JSON columns are TEXT for the same reason.

CREATE TABLE jobs (
    id            TEXT   NOT NULL PRIMARY KEY,
    process_id    TEXT   NOT NULL,
    status        TEXT   NOT NULL
                  CHECK (status IN ('accepted', 'running', 'successful', 'failed', 'dismissed')),
    message       TEXT,
    progress      BIGINT CHECK (progress BETWEEN 0 AND 100),
    created       BIGINT NOT NULL,
    started       BIGINT,
    finished      BIGINT,
    updated       BIGINT NOT NULL,
    attempts      BIGINT NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    request       TEXT   NOT NULL,
    results       TEXT,
    error         TEXT,
    owner         TEXT   NOT NULL DEFAULT 'anonymous',
    fuel          BIGINT CHECK (fuel >= 0),
    result_bytes  BIGINT CHECK (result_bytes >= 0)
);

-- Filtering the job list by process.
CREATE INDEX jobs_process_id ON jobs (process_id);

-- The job list's order (newest first, then id), so paging needs no sort;
-- retention finds old jobs through it too.
CREATE INDEX jobs_created_desc ON jobs (created DESC, id);

-- A tenant's job list, newest first.
CREATE INDEX jobs_owner_created ON jobs (owner, created DESC, id);

-- Open jobs only (every statement that ends a job sets `finished`): the
-- claim, the running count per owner, the queue quota's count.
CREATE INDEX jobs_open ON jobs (status, owner, created, id) WHERE finished IS NULL;

CREATE TABLE job_logs (
    job_id   TEXT   NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    seq      BIGINT NOT NULL,
    time     BIGINT NOT NULL,
    level    TEXT   NOT NULL,
    message  TEXT   NOT NULL,
    PRIMARY KEY (job_id, seq)
);

CREATE TABLE processes (
    id          TEXT   NOT NULL PRIMARY KEY,
    digest      TEXT   NOT NULL,
    package     TEXT   NOT NULL,
    created     BIGINT NOT NULL,
    updated     BIGINT NOT NULL,
    owner       TEXT   NOT NULL DEFAULT 'anonymous',
    visibility  TEXT   NOT NULL DEFAULT '{"visibility":"private"}'
);

CREATE INDEX processes_digest ON processes (digest);

CREATE TABLE tenants (
    id       TEXT   NOT NULL PRIMARY KEY,
    role     TEXT   NOT NULL CHECK (role IN ('admin', 'developer', 'user')),
    created  BIGINT NOT NULL
);

CREATE TABLE api_keys (
    id         TEXT   NOT NULL PRIMARY KEY,
    tenant_id  TEXT   NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    hash       TEXT   NOT NULL UNIQUE,
    created    BIGINT NOT NULL,
    revoked    BIGINT
);

CREATE TABLE tenant_quotas (
    tenant_id  TEXT   NOT NULL PRIMARY KEY,
    quota      TEXT   NOT NULL,
    updated    BIGINT NOT NULL
);

CREATE TABLE usage_days (
    owner  TEXT   NOT NULL,
    day    BIGINT NOT NULL,
    fuel   BIGINT NOT NULL CHECK (fuel >= 0),
    PRIMARY KEY (owner, day)
);
