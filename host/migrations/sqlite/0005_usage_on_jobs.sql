-- What a job used lives on its own row, written by the same statement that
-- ends it; and indexes that only open jobs need hold only open jobs.
--
-- Every extra b-tree a job's final write touches is pages the writer copies
-- into the WAL on the hot path of every sync execution: the separate usage
-- row (two b-trees) and three indexes that final jobs never need cost
-- about a fifth of the sync throughput.

ALTER TABLE jobs ADD COLUMN fuel INTEGER CHECK (fuel >= 0);
ALTER TABLE jobs ADD COLUMN result_bytes INTEGER CHECK (result_bytes >= 0);

-- Fuel of jobs that retention deleted while their day could still count
-- them (a retention shorter than a day), by owner and UTC day of creation
-- (microseconds / 86400e6).
CREATE TABLE usage_days (
    owner  TEXT    NOT NULL,
    day    INTEGER NOT NULL,
    fuel   INTEGER NOT NULL CHECK (fuel >= 0),
    PRIMARY KEY (owner, day)
) STRICT;

UPDATE jobs SET
    fuel = (SELECT u.fuel FROM job_usage u WHERE u.job_id = jobs.id),
    result_bytes = (SELECT u.result_bytes FROM job_usage u WHERE u.job_id = jobs.id)
WHERE id IN (SELECT job_id FROM job_usage);

INSERT INTO usage_days (owner, day, fuel)
SELECT owner, finished / 86400000000, SUM(fuel) FROM job_usage
WHERE job_id NOT IN (SELECT id FROM jobs)
GROUP BY owner, finished / 86400000000;

DROP TABLE job_usage;

-- `finished IS NULL` is exactly the open jobs (accepted or running): every
-- statement that ends a job sets `finished`. Queries that use this index
-- say `finished IS NULL` themselves, which is how SQLite knows it may. One
-- index serves the claim (owners with queued jobs, found by seeking from
-- one owner to the next, then each owner's oldest), the running count per
-- owner, and the queue quota's count.
DROP INDEX jobs_status_created;
DROP INDEX jobs_owner_status;
CREATE INDEX jobs_open ON jobs (status, owner, created, id) WHERE finished IS NULL;

-- Retention finds old jobs through `jobs_created_desc` (a job finishes
-- after it is created).
DROP INDEX jobs_finished;
