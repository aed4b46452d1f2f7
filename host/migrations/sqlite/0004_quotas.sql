-- Per-tenant quotas, and what each job used of them.
--
-- A tenant's own quota is a JSON document of the members it overrides
-- (see wades::tenancy::quota::Quota); members absent or null fall back to
-- the server's [quotas]. No foreign key to tenants: OIDC identities have
-- quotas too, and no row there.

CREATE TABLE tenant_quotas (
    tenant_id  TEXT    NOT NULL PRIMARY KEY,
    quota      TEXT    NOT NULL,
    updated    INTEGER NOT NULL
) STRICT;

-- Fuel burnt and result bytes kept, one row per job that ran. Written when
-- the run ends, which for a short sync job is before its own row exists,
-- hence no foreign key: result bytes count only while the job is still
-- stored and successful (a join), and old rows are swept.
CREATE TABLE job_usage (
    job_id        TEXT    NOT NULL PRIMARY KEY,
    owner         TEXT    NOT NULL,
    finished      INTEGER NOT NULL,
    fuel          INTEGER NOT NULL CHECK (fuel >= 0),
    result_bytes  INTEGER NOT NULL CHECK (result_bytes >= 0)
) STRICT;

-- The day's fuel of a tenant.
CREATE INDEX job_usage_owner_finished ON job_usage (owner, finished);

-- A tenant's queued or running jobs, counted at every submission and claim.
CREATE INDEX jobs_owner_status ON jobs (owner, status);

-- Retention: final jobs by when they finished.
CREATE INDEX jobs_finished ON jobs (finished) WHERE finished IS NOT NULL;
