-- Writes in progress (disable, enable, reset, mark, launch): noted before Tailer is asked,
-- with everything needed to finish them (the plan, who asked and confirmed, where to
-- answer); each job's outcome is added as it is known, and the answer is queued in the
-- same transaction that marks the write done. One still `calling` whose replica died is
-- taken over by another (its lease expired) or by the next start: it is finished, and
-- its message says what is known.

CREATE TABLE writes (
    reference        TEXT PRIMARY KEY,
    action           TEXT NOT NULL,
    plan             TEXT NOT NULL,
    channel_id       TEXT NOT NULL,
    user_id          TEXT NOT NULL,
    confirmed_by     TEXT,
    response_url     TEXT,
    replace_question BOOLEAN NOT NULL,
    question_ts      TEXT,
    started_at       BIGINT NOT NULL,
    steps            TEXT NOT NULL,
    state            TEXT NOT NULL,
    lease_owner      TEXT,
    lease_until      BIGINT
);
CREATE INDEX writes_calling ON writes (state, lease_until);
CREATE INDEX timers_lane ON timers (lane);
