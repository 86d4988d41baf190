-- Claims shared between replicas: a message claimed by a replica that died (or that timed
-- out on the wire) may have reached Slack, so it is checked before it is sent again; named
-- leases give periodic work (the subscription poll) to one replica at a time.

ALTER TABLE outbox ADD COLUMN in_doubt BOOLEAN NOT NULL DEFAULT FALSE;

CREATE TABLE leases (
    name         TEXT PRIMARY KEY,
    lease_owner  TEXT,
    lease_until  BIGINT
);
