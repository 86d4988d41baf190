-- A file uploaded with a message (the chart of `history`) goes into a channel or under a
-- thread given by its `ts` (not a lane's root): the outbox keeps that thread.

ALTER TABLE outbox ADD COLUMN thread_ts TEXT;
