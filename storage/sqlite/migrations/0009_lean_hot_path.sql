-- Fewer pages written per report (issue 2: every commit writes each page it touched).
--
-- processed_updates becomes WITHOUT ROWID: one b-tree keyed by (channel, update_key)
-- instead of a rowid table plus its primary-key index.
CREATE TABLE processed_updates_new (
    channel       TEXT NOT NULL,
    update_key    TEXT NOT NULL,
    processed_at  TEXT NOT NULL,
    PRIMARY KEY (channel, update_key)
) WITHOUT ROWID;
INSERT INTO processed_updates_new (channel, update_key, processed_at)
SELECT channel, update_key, processed_at FROM processed_updates;
DROP TABLE processed_updates;
ALTER TABLE processed_updates_new RENAME TO processed_updates;

-- Batches are looked up by (member, batch): batch ids are short random tokens, unique
-- per member but not across members, so a lookup by batch id alone could reach another
-- member's reports. reports_member_created serves the lookup; this index only cost writes.
DROP INDEX reports_batch;
