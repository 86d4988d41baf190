-- Launches in progress: written before Tailer is asked, finished once the run is followed
-- (or the launch failed). One still `calling` whose replica died is taken over by another
-- (its lease expired): it looks for the run the launch started and follows it, or says
-- that it cannot find one. Never launched again.

CREATE TABLE launches (
    key          TEXT PRIMARY KEY,
    job          TEXT NOT NULL,
    channel_id   TEXT NOT NULL,
    user_id      TEXT NOT NULL,
    reference    TEXT NOT NULL,
    started_at   BIGINT NOT NULL,
    run_id       TEXT,
    state        TEXT NOT NULL,
    lease_owner  TEXT,
    lease_until  BIGINT
);
CREATE INDEX launches_calling ON launches (state, lease_until);
