-- PostgreSQL: the same tables as the SQLite store, one migration for each of its own.
-- The front door: requests already handled, confirmations, the audit trail, and the runs
-- the bot launched (so that `status <run_id>` knows their job). Times are unix milliseconds.

CREATE TABLE handled_requests (
    key         TEXT PRIMARY KEY,
    handled_at  BIGINT NOT NULL
);
CREATE INDEX handled_requests_at ON handled_requests (handled_at);

CREATE TABLE confirmations (
    id             TEXT PRIMARY KEY,
    created_at     BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL,
    team_id        TEXT NOT NULL,
    channel_id     TEXT NOT NULL,
    requester      TEXT NOT NULL,
    action         TEXT NOT NULL,
    plan           TEXT NOT NULL,
    second_person  BOOLEAN NOT NULL,
    state          TEXT NOT NULL,
    decided_by     TEXT,
    decided_at     BIGINT
);

CREATE TABLE audit (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at             BIGINT NOT NULL,
    reference      TEXT NOT NULL,
    user_id        TEXT NOT NULL,
    channel_id     TEXT NOT NULL,
    action         TEXT NOT NULL,
    job            TEXT,
    environment    TEXT,
    outcome        TEXT NOT NULL,
    detail         TEXT NOT NULL,
    tailer_answer  TEXT
);
CREATE INDEX audit_job_at ON audit (job, at);

CREATE TABLE runs (
    run_id       TEXT PRIMARY KEY,
    job          TEXT NOT NULL,
    channel_id   TEXT,
    launched_by  TEXT,
    created_at   BIGINT NOT NULL
);
