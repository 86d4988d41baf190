-- Expectations: a channel expects a job to have succeeded each day by a time of a zone.
-- Each day of an expectation is decided once, whichever replica checks it first: the row
-- of `expectation_days` is inserted with the alert queued in the same transaction.
-- Times are unix milliseconds; `day` is the calendar day of the zone (YYYY-MM-DD).

CREATE TABLE expectations (
    channel_id  TEXT NOT NULL,
    job         TEXT NOT NULL,
    at_minute   INTEGER NOT NULL,
    tz          TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    -- Why it is paused (the bot cannot post in the channel), or NULL.
    paused      TEXT,
    PRIMARY KEY (channel_id, job)
);

-- `state`: met (on time, nothing said), missed or unknown (alerted), late (alerted, then
-- met: said in the alert's thread), muted (alerted, then muted for the day).
CREATE TABLE expectation_days (
    channel_id  TEXT NOT NULL,
    job         TEXT NOT NULL,
    day         TEXT NOT NULL,
    state       TEXT NOT NULL,
    deadline    BIGINT NOT NULL,
    lane        TEXT NOT NULL,
    decided_at  BIGINT NOT NULL,
    met_run     TEXT,
    met_at      BIGINT,
    PRIMARY KEY (channel_id, job, day)
);

CREATE INDEX expectation_days_open ON expectation_days (state, deadline);
