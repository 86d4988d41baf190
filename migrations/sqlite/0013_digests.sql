-- Digests: a channel hears once a day, at a time of a zone, what the jobs it follows did
-- in the last 24 hours. Each day's digest is posted once, whichever replica composes it
-- first: the row of `digest_days` is inserted with the post queued in the same
-- transaction. Times are unix milliseconds; `day` is the calendar day of the zone.

CREATE TABLE digests (
    channel_id  TEXT PRIMARY KEY,
    at_minute   INTEGER NOT NULL,
    tz          TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    -- Why it is paused (the bot cannot post in the channel), or NULL.
    paused      TEXT
);

CREATE TABLE digest_days (
    channel_id  TEXT NOT NULL,
    day         TEXT NOT NULL,
    lane        TEXT NOT NULL,
    posted_at   BIGINT NOT NULL,
    -- The jobs it covered, and those among them that need a look.
    jobs        INTEGER NOT NULL,
    attention   INTEGER NOT NULL,
    PRIMARY KEY (channel_id, day)
);
