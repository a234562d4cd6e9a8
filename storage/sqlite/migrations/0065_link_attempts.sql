-- /lienket codes (issue 15): wrong codes counted per chat and per account, so that guessing an
-- 8-digit code is cut off after a few tries, in every worker and across restarts. A subject is
-- a hash of "chat:<channel>:<id>" or "user:<channel>:<id>", never the id itself; a row is
-- forgotten once its window has passed.
CREATE TABLE link_attempts (
    subject    TEXT PRIMARY KEY,
    failures   INTEGER NOT NULL,
    first_at   TEXT NOT NULL   -- the first wrong code of the window
) WITHOUT ROWID;
