-- A write whose answer went out while the store refused to settle it: given back with
-- this mark, it is settled later without a second answer (one that would say the bot
-- restarted when it did not). A write taken over after a replica died is unmarked, and
-- its answer says what is known.

ALTER TABLE writes ADD COLUMN answered BOOLEAN NOT NULL DEFAULT FALSE;
