-- Each lane's first pending message, kept beside the outbox by a trigger, so that a claim
-- (the first due lane heads, most urgent first) and the outbox's next due time read one
-- small row per lane instead of walking every pending message and looking up its lane's
-- head (with 30,000 runs followed on three replicas, that walk took up to 3 s a claim).
-- The columns are copies of the head message's; `lane` and `id` of a message never change.
-- Then the pace of posts in a channel, shared by the replicas: when a post may next go
-- into it.

CREATE TABLE lane_heads (
    lane             TEXT PRIMARY KEY,
    head_id          BIGINT NOT NULL,
    urgency          BIGINT NOT NULL,
    next_attempt_at  BIGINT NOT NULL,
    lease_owner      TEXT,
    lease_until      BIGINT
) WITH (fillfactor = 70, autovacuum_vacuum_scale_factor = 0.02, autovacuum_vacuum_threshold = 1000);
CREATE INDEX lane_heads_claim ON lane_heads (urgency, head_id);

CREATE FUNCTION outbox_lane_head() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    head record;
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.state = 'pending' AND NEW.state = 'pending' THEN
        -- Claimed, deferred, retried: a head's copy follows it (a no-op for the others).
        -- The lane's row is locked first: a message being made its lane's head by another
        -- transaction is then copied once that one is done, not before this change.
        PERFORM 1 FROM lane_heads WHERE lane = NEW.lane FOR UPDATE;
        UPDATE lane_heads SET urgency = NEW.urgency, next_attempt_at = NEW.next_attempt_at,
               lease_owner = NEW.lease_owner, lease_until = NEW.lease_until
         WHERE lane = NEW.lane AND head_id = NEW.id;
    ELSIF TG_OP <> 'INSERT' AND OLD.state = 'pending' THEN
        -- Sent, failed or deleted: the lane's next pending message is its head, if any.
        PERFORM 1 FROM lane_heads WHERE lane = OLD.lane FOR UPDATE;
        SELECT id, urgency, next_attempt_at, lease_owner, lease_until INTO head
          FROM outbox WHERE state = 'pending' AND lane = OLD.lane ORDER BY id LIMIT 1;
        IF FOUND THEN
            INSERT INTO lane_heads VALUES (OLD.lane, head.id, head.urgency, head.next_attempt_at, head.lease_owner, head.lease_until)
            ON CONFLICT (lane) DO UPDATE SET head_id = excluded.head_id, urgency = excluded.urgency,
                next_attempt_at = excluded.next_attempt_at, lease_owner = excluded.lease_owner, lease_until = excluded.lease_until;
        ELSE
            DELETE FROM lane_heads WHERE lane = OLD.lane;
        END IF;
    ELSIF TG_OP <> 'DELETE' AND NEW.state = 'pending' THEN
        -- A new message heads its lane if the lane had none or only later ones. The upsert
        -- locks the lane's row either way, so two writers cannot both miss a head.
        INSERT INTO lane_heads AS l VALUES (NEW.lane, NEW.id, NEW.urgency, NEW.next_attempt_at, NEW.lease_owner, NEW.lease_until)
        ON CONFLICT (lane) DO UPDATE SET head_id = excluded.head_id, urgency = excluded.urgency,
            next_attempt_at = excluded.next_attempt_at, lease_owner = excluded.lease_owner, lease_until = excluded.lease_until
         WHERE excluded.head_id < l.head_id;
    END IF;
    RETURN NULL;
END $$;

LOCK TABLE outbox IN SHARE ROW EXCLUSIVE MODE;
CREATE TRIGGER outbox_lane_head AFTER INSERT OR DELETE
    OR UPDATE OF state, urgency, next_attempt_at, lease_owner, lease_until ON outbox
    FOR EACH ROW EXECUTE FUNCTION outbox_lane_head();
INSERT INTO lane_heads
    SELECT DISTINCT ON (lane) lane, id, urgency, next_attempt_at, lease_owner, lease_until
      FROM outbox WHERE state = 'pending' ORDER BY lane, id;

CREATE TABLE channel_pace (
    channel_id    TEXT PRIMARY KEY,
    next_post_at  BIGINT NOT NULL
) WITH (fillfactor = 70);
