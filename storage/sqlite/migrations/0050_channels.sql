-- Channels (issue 15): a push budget per channel and month (Zalo: the bot's monthly quota),
-- pushing paused on a channel (its quota spent, its token refused) until the month turns or an
-- operator resumes it; one member on several channels (the channel each identity last used,
-- and one-time codes to link a second channel).

CREATE TABLE channel_quota (
    channel        TEXT PRIMARY KEY,
    month          TEXT NOT NULL,             -- YYYY-MM (the deployment's time zone) that `sent` counts
    sent           INTEGER NOT NULL DEFAULT 0, -- pushes sent in `month`
    budget         INTEGER,                   -- pushes allowed a month (settings); NULL: no budget
    paused_reason  TEXT,                      -- quota | token; NULL: pushing
    paused_month   TEXT,                      -- a quota pause ends when the month turns
    paused_at      TEXT,
    updated_at     TEXT NOT NULL
);

ALTER TABLE identities ADD COLUMN last_seen_at TEXT;

CREATE TABLE link_codes (
    code        TEXT PRIMARY KEY,
    member_id   INTEGER NOT NULL REFERENCES members (id),
    channel     TEXT NOT NULL,                -- where it was asked for; it is sent from another one
    expires_at  TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
CREATE INDEX link_codes_member ON link_codes (member_id);
