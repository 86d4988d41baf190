-- Each lane's first pending message, kept beside the outbox by triggers, as PostgreSQL
-- has since 0010: a claim (the first due lane heads, most urgent first) and the outbox's
-- next due time read one small row per lane, instead of walking every pending message
-- and looking up its lane's head. With 100,000 runs followed, that walk took more than a
-- second a claim, on the file's one connection. The columns are copies of the head
-- message's; `lane` and `id` of a message never change.
-- Then a job's runs followed now, counted and claimed from the index alone: the finished
-- runs of a job (no longer active, kept for their cards) are no longer read one by one at
-- every pass.

DROP INDEX watches_by_job;
CREATE INDEX watches_by_job ON watches (job, active, next_poll_at);
-- The watches a replica holds, for when the next may be claimed.
CREATE INDEX watches_held ON watches (lease_owner) WHERE lease_owner IS NOT NULL;

CREATE TABLE lane_heads (
    lane             TEXT PRIMARY KEY,
    head_id          INTEGER NOT NULL,
    urgency          BIGINT NOT NULL,
    next_attempt_at  BIGINT NOT NULL,
    lease_owner      TEXT,
    lease_until      BIGINT
);
CREATE INDEX lane_heads_claim ON lane_heads (urgency, head_id);

-- Claimed, deferred, retried: a head's copy follows it (a no-op for the others).
CREATE TRIGGER outbox_head_follows AFTER UPDATE OF state, urgency, next_attempt_at, lease_owner, lease_until ON outbox
WHEN OLD.state = 'pending' AND NEW.state = 'pending'
BEGIN
    UPDATE lane_heads SET urgency = NEW.urgency, next_attempt_at = NEW.next_attempt_at,
           lease_owner = NEW.lease_owner, lease_until = NEW.lease_until
     WHERE lane = NEW.lane AND head_id = NEW.id;
END;

-- Sent or failed: the lane's next pending message is its head, if any.
CREATE TRIGGER outbox_head_passes AFTER UPDATE OF state ON outbox
WHEN OLD.state = 'pending' AND NEW.state <> 'pending'
BEGIN
    DELETE FROM lane_heads WHERE lane = OLD.lane;
    INSERT INTO lane_heads (lane, head_id, urgency, next_attempt_at, lease_owner, lease_until)
        SELECT lane, id, urgency, next_attempt_at, lease_owner, lease_until
          FROM outbox WHERE state = 'pending' AND lane = OLD.lane ORDER BY id LIMIT 1;
END;

-- Deleted (a newer edit replaced it): the same.
CREATE TRIGGER outbox_head_deleted AFTER DELETE ON outbox
WHEN OLD.state = 'pending'
BEGIN
    DELETE FROM lane_heads WHERE lane = OLD.lane;
    INSERT INTO lane_heads (lane, head_id, urgency, next_attempt_at, lease_owner, lease_until)
        SELECT lane, id, urgency, next_attempt_at, lease_owner, lease_until
          FROM outbox WHERE state = 'pending' AND lane = OLD.lane ORDER BY id LIMIT 1;
END;

-- A new pending message heads its lane if the lane had none or only later ones.
CREATE TRIGGER outbox_head_new AFTER INSERT ON outbox
WHEN NEW.state = 'pending'
BEGIN
    INSERT OR IGNORE INTO lane_heads (lane, head_id, urgency, next_attempt_at, lease_owner, lease_until)
        VALUES (NEW.lane, NEW.id, NEW.urgency, NEW.next_attempt_at, NEW.lease_owner, NEW.lease_until);
    UPDATE lane_heads SET head_id = NEW.id, urgency = NEW.urgency, next_attempt_at = NEW.next_attempt_at,
           lease_owner = NEW.lease_owner, lease_until = NEW.lease_until
     WHERE lane = NEW.lane AND head_id > NEW.id;
END;

-- Pending again (as a new message).
CREATE TRIGGER outbox_head_again AFTER UPDATE OF state ON outbox
WHEN OLD.state <> 'pending' AND NEW.state = 'pending'
BEGIN
    INSERT OR IGNORE INTO lane_heads (lane, head_id, urgency, next_attempt_at, lease_owner, lease_until)
        VALUES (NEW.lane, NEW.id, NEW.urgency, NEW.next_attempt_at, NEW.lease_owner, NEW.lease_until);
    UPDATE lane_heads SET head_id = NEW.id, urgency = NEW.urgency, next_attempt_at = NEW.next_attempt_at,
           lease_owner = NEW.lease_owner, lease_until = NEW.lease_until
     WHERE lane = NEW.lane AND head_id > NEW.id;
END;

INSERT INTO lane_heads (lane, head_id, urgency, next_attempt_at, lease_owner, lease_until)
    SELECT lane, id, urgency, next_attempt_at, lease_owner, lease_until FROM outbox o
     WHERE state = 'pending' AND id = (SELECT MIN(p.id) FROM outbox p WHERE p.lane = o.lane AND p.state = 'pending');
