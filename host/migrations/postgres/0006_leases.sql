-- Leases: which node runs a job, until when, and the token that guards
-- every write of that run (see docs/scaling.md, "The lease protocol").
-- Lease times are the database's clock (`wades_now()`), never a node's, so
-- skewed clocks on the nodes do not matter.

ALTER TABLE jobs
    ADD COLUMN lease_owner  TEXT,
    ADD COLUMN lease_token  BIGINT,
    ADD COLUMN lease_until  BIGINT;

CREATE FUNCTION wades_now() RETURNS BIGINT LANGUAGE sql VOLATILE
    AS $$ SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint $$;

-- Every time a job becomes final, one row: a final state that was rewritten
-- would show as a second row of the same job. Operators can audit it; the
-- chaos test reads it.
CREATE TABLE job_final_states (
    seq     BIGSERIAL PRIMARY KEY,
    job_id  TEXT   NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    status  TEXT   NOT NULL,
    at      BIGINT NOT NULL
);

CREATE INDEX job_final_states_job ON job_final_states (job_id);

CREATE FUNCTION wades_record_final() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.status IN ('successful', 'failed', 'dismissed')
       AND (TG_OP = 'INSERT' OR OLD.status IS DISTINCT FROM NEW.status) THEN
        INSERT INTO job_final_states (job_id, status, at) VALUES (NEW.id, NEW.status, wades_now());
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER jobs_record_final AFTER INSERT OR UPDATE OF status ON jobs
    FOR EACH ROW EXECUTE FUNCTION wades_record_final();
