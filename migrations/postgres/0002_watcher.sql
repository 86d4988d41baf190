-- The watcher: runs being followed, the cards that show them, subscriptions and what
-- they already announced, timed re-enables, and the outbox every Slack write goes
-- through. Times are unix milliseconds. `lease_*` columns let several replicas share
-- the work (one claims a row at a time; a dead one's claims expire).

CREATE TABLE watches (
    run_id         TEXT PRIMARY KEY,
    job            TEXT NOT NULL,
    status         TEXT,
    status_since   BIGINT,
    first_seen_at  BIGINT,
    started_at     BIGINT NOT NULL,
    interval_ms    BIGINT NOT NULL,
    next_poll_at   BIGINT NOT NULL,
    polls          BIGINT NOT NULL DEFAULT 0,
    item           TEXT,
    active         BOOLEAN NOT NULL,
    lease_owner    TEXT,
    lease_until    BIGINT
);
CREATE INDEX watches_due ON watches (active, next_poll_at);

CREATE TABLE run_cards (
    run_id       TEXT NOT NULL,
    channel_id   TEXT NOT NULL,
    lane         TEXT NOT NULL,
    launched_by  TEXT,
    watched_by   TEXT,
    created_at   BIGINT NOT NULL,
    active       BOOLEAN NOT NULL,
    PRIMARY KEY (run_id, channel_id)
);

CREATE TABLE threads (
    lane        TEXT PRIMARY KEY,
    channel_id  TEXT NOT NULL,
    ts          TEXT NOT NULL
);

CREATE TABLE outbox (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    lane             TEXT NOT NULL,
    method           TEXT NOT NULL,
    channel_id       TEXT,
    user_id          TEXT,
    in_thread        BOOLEAN NOT NULL,
    root             BOOLEAN NOT NULL,
    broadcast        BOOLEAN NOT NULL,
    collapse_key     TEXT,
    response_url     TEXT,
    body             TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    next_attempt_at  BIGINT NOT NULL,
    attempts         BIGINT NOT NULL DEFAULT 0,
    state            TEXT NOT NULL,
    last_error       TEXT,
    lease_owner      TEXT,
    lease_until      BIGINT
);
CREATE INDEX outbox_pending ON outbox (state, lane, id);
CREATE INDEX outbox_collapse ON outbox (collapse_key, state);

CREATE TABLE subscriptions (
    channel_id  TEXT NOT NULL,
    target      TEXT NOT NULL,
    filter      TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (channel_id, target)
);

CREATE TABLE announced (
    channel_id  TEXT NOT NULL,
    run_id      TEXT NOT NULL,
    at          BIGINT NOT NULL,
    PRIMARY KEY (channel_id, run_id)
);

CREATE TABLE timers (
    id            TEXT PRIMARY KEY,
    job           TEXT NOT NULL,
    due_at        BIGINT NOT NULL,
    channel_id    TEXT NOT NULL,
    lane          TEXT NOT NULL,
    requested_by  TEXT NOT NULL,
    reason        TEXT,
    state         TEXT NOT NULL,
    attempts      BIGINT NOT NULL DEFAULT 0,
    created_at    BIGINT NOT NULL,
    lease_owner   TEXT,
    lease_until   BIGINT
);
CREATE INDEX timers_due ON timers (state, due_at);

CREATE TABLE markers (
    key    TEXT PRIMARY KEY,
    value  BIGINT NOT NULL
);
