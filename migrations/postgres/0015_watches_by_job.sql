-- The watcher follows all the watched runs of a job with one call to Tailer: with a due
-- watch it also takes the job's other watches due soon, found by job.

CREATE INDEX watches_by_job ON watches (job, next_poll_at);
