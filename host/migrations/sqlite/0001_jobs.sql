-- The durable job store.
--
-- Timestamps are INTEGER microseconds since the Unix epoch (UTC). Integers
-- sort and subtract exactly, so listing order, datetime-range filters and
-- duration filters are plain integer comparisons with no parsing in SQL.
--
-- STRICT makes SQLite reject values of the wrong type instead of silently
-- storing them, so a bug in the Rust side cannot corrupt a column's type.

CREATE TABLE jobs (
    id          TEXT    NOT NULL PRIMARY KEY,
    process_id  TEXT    NOT NULL,
    status      TEXT    NOT NULL
                CHECK (status IN ('accepted', 'running', 'successful', 'failed', 'dismissed')),
    message     TEXT,
    progress    INTEGER CHECK (progress BETWEEN 0 AND 100),
    created     INTEGER NOT NULL,
    started     INTEGER,
    finished    INTEGER,
    updated     INTEGER NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    request     TEXT    NOT NULL,
    results     TEXT,
    error       TEXT
) STRICT;

-- Claiming takes the oldest accepted job; id breaks ties the same way the
-- claim query does, so the index alone answers it.
CREATE INDEX jobs_status_created ON jobs (status, created, id);

-- Filtering the job list by process.
CREATE INDEX jobs_process_id ON jobs (process_id);

-- The job list's order (newest first, then id), so paging needs no sort.
CREATE INDEX jobs_created_desc ON jobs (created DESC, id);

CREATE TABLE job_logs (
    job_id   TEXT    NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    seq      INTEGER NOT NULL,
    time     INTEGER NOT NULL,
    level    TEXT    NOT NULL,
    message  TEXT    NOT NULL,
    -- Doubles as the index for reading a job's log in order and for finding
    -- the next sequence number when appending.
    PRIMARY KEY (job_id, seq)
) STRICT;
