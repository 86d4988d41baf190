-- What the bot knows to be switched off: one row per catalog job, the latest of what it
-- did (a disable, an enable, the re-enable of a timed disable) and of what it saw (a run
-- that ended DEACTIVATED: someone switched the job off outside the bot). A newer fact
-- replaces an older one; an older one never overwrites a newer one.

CREATE TABLE switches (
    job      TEXT PRIMARY KEY,
    off      BOOLEAN NOT NULL,
    by_user  TEXT,
    reason   TEXT,
    since_ms BIGINT NOT NULL,
    until_ms BIGINT,
    source   TEXT NOT NULL
);
