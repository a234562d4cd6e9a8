-- tcns serve (issue 14): files behind signed URLs, leases (one scheduler across workers),
-- and the shared send budget of every channel (one rate for all workers together).

-- A file published for a channel that fetches files by URL (Zalo's sendPhoto); the signed,
-- expiring URL names its id. Deleted once expired (housekeeping).
CREATE TABLE files (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL,
    mime        TEXT NOT NULL,
    data        BLOB NOT NULL,
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL               -- ISO-8601 UTC
);
CREATE INDEX files_expiry ON files (expires_at);

-- A named lease ("scheduler"; "worker:<id>" for each live worker): held by one holder until
-- expires_at (seconds since the epoch), renewed by it, taken over by another once expired.
CREATE TABLE leases (
    name        TEXT PRIMARY KEY,
    holder      TEXT NOT NULL,
    expires_at  REAL NOT NULL
);

-- The next free send slot of a channel (seconds since the epoch): every sender of every
-- worker takes its slot here, so the channel's rate holds whatever the number of workers.
CREATE TABLE send_budget (
    channel     TEXT PRIMARY KEY,
    next_at     REAL NOT NULL
);

-- The earliest moment a chat may get its next pushed message (1 s apart on Telegram).
CREATE TABLE chat_pace (
    channel     TEXT NOT NULL,
    chat_id     TEXT NOT NULL,
    next_at     REAL NOT NULL,
    PRIMARY KEY (channel, chat_id)
);
