-- Store first (issue 11): an inbound update is written here, durably, before its channel
-- is told it arrived (Telegram's getUpdates offset, a webhook's 200). Processing it, in the
-- same transaction as its effects, clears the payload and stamps processed_at: the row then
-- is the de-duplication marker that processed_updates used to be, so a redelivery changes
-- nothing, and no message text stays behind.
--
-- A row is waiting while processed_at IS NULL; seq is its arrival order (replayed in that
-- order on start). Updates that never waited (the terminal chat) are claimed directly as
-- processed rows with seq 0 and no payload.
CREATE TABLE inbox (
    channel       TEXT NOT NULL,
    update_key    TEXT NOT NULL,
    seq           INTEGER NOT NULL,
    received_at   TEXT NOT NULL,
    payload       TEXT,
    attempts      INTEGER NOT NULL DEFAULT 0,
    processed_at  TEXT,
    PRIMARY KEY (channel, update_key)
) WITHOUT ROWID;
INSERT INTO inbox (channel, update_key, seq, received_at, processed_at)
SELECT channel, update_key, 0, processed_at, processed_at FROM processed_updates;
DROP TABLE processed_updates;
-- Only waiting rows are indexed: the index stays as small as the backlog.
CREATE INDEX inbox_waiting ON inbox (channel, seq) WHERE processed_at IS NULL;
