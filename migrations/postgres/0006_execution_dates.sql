-- The execution date a run was launched for (YYYY-MM-DD), where the bot launched it with
-- one: shown on its card and kept by *Launch again*, and kept by a launch in progress so
-- that a launch finished by the next start still knows it.

ALTER TABLE run_cards ADD COLUMN execution_date TEXT;
ALTER TABLE launches ADD COLUMN execution_date TEXT;
