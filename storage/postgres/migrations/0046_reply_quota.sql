-- Zalo counts every message a bot sends against its quota, an answer as well as a push (issue
-- 15): direct replies are counted per channel and month next to the pushes.
ALTER TABLE channel_quota ADD COLUMN replies INTEGER NOT NULL DEFAULT 0;
