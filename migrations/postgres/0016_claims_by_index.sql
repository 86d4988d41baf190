-- A job's runs followed now, counted and claimed from the index alone: the finished
-- runs of a job (no longer active, kept for their cards) are no longer read one by one at
-- every pass. (SQLite's 0016 also adds the lane heads PostgreSQL has had since 0010.)

DROP INDEX watches_by_job;
CREATE INDEX watches_by_job ON watches (job, active, next_poll_at);
-- The watches a replica holds, for when the next may be claimed.
CREATE INDEX watches_held ON watches (lease_owner) WHERE lease_owner IS NOT NULL;
