-- Quotations, bills and the execution history quotations are made from
-- (wades::billing): the tables of the SQLite migration 0010_billing.sql.
-- Timestamps are BIGINT microseconds since the Unix epoch (UTC), as in the
-- job tables; documents are JSON text, so both stores share their code.

CREATE TABLE quotations (
    id          TEXT   NOT NULL PRIMARY KEY,
    process_id  TEXT   NOT NULL,
    owner       TEXT   NOT NULL,
    created     BIGINT NOT NULL,
    expires     BIGINT NOT NULL,
    -- Set once, by the execution that wins (the row lock of the UPDATE
    -- decides between nodes); never cleared but by a failed submission of
    -- its job.
    executed    BIGINT,
    job_id      TEXT,
    request     TEXT   NOT NULL,
    quote       TEXT   NOT NULL
);

-- A tenant's quotations, newest first.
CREATE INDEX quotations_owner_created ON quotations (owner, created DESC, id);

-- A bill has the id of the quotation its job executed.
CREATE TABLE bills (
    id          TEXT             NOT NULL PRIMARY KEY,
    job_id      TEXT             NOT NULL,
    process_id  TEXT             NOT NULL,
    owner       TEXT             NOT NULL,
    created     BIGINT           NOT NULL,
    amount      DOUBLE PRECISION NOT NULL CHECK (amount >= 0),
    fuel        BIGINT           NOT NULL CHECK (fuel >= 0),
    document    TEXT             NOT NULL
);

-- A tenant's bills, newest first; and their totals.
CREATE INDEX bills_owner_created ON bills (owner, created DESC, id);

-- Runs of a component (by digest, so a replaced process starts afresh):
-- dry runs and quoted jobs.
CREATE TABLE billing_samples (
    digest       TEXT   NOT NULL,
    created      BIGINT NOT NULL,
    input_bytes  BIGINT NOT NULL CHECK (input_bytes >= 0),
    fuel         BIGINT NOT NULL CHECK (fuel >= 0),
    memory_peak  BIGINT NOT NULL CHECK (memory_peak >= 0),
    wall_micros  BIGINT NOT NULL CHECK (wall_micros >= 0),
    stored_bytes BIGINT NOT NULL CHECK (stored_bytes >= 0)
);

CREATE INDEX billing_samples_digest ON billing_samples (digest, created DESC);
