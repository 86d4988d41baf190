-- Refused attempts are summed per person and per minute into one post of the audit
-- channel: each refusal reads that person's refusals of the minute, by this index, so
-- that a flood of refusals costs one short range read each, never a scan of the audit.
-- Audit echoes of real writes and confirmations now go ahead of those summaries.

CREATE INDEX audit_user_at ON audit (user_id, at);
UPDATE outbox SET urgency = 1 WHERE lane LIKE 'audit:%' AND state = 'pending';
