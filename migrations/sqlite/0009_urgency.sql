-- How soon a message goes out (the claim serves the most urgent lanes first, then the
-- oldest): 0 a run's card and thread and what a write did or what a conversation was
-- answered, 1 a Home tab, 2 the rest (answers queued after their response_url failed,
-- subscription announcements, audit echoes, notices). Indexed in the claim's order, so
-- that a claim reads the first due lane heads instead of sorting the whole backlog.

ALTER TABLE outbox ADD COLUMN urgency BIGINT NOT NULL DEFAULT 2;
UPDATE outbox SET urgency = 0 WHERE lane LIKE 'card:%' OR lane LIKE 'write:%' OR lane LIKE 'said:%';
UPDATE outbox SET urgency = 1 WHERE lane LIKE 'home:%';
CREATE INDEX outbox_urgency ON outbox (state, urgency, id);
