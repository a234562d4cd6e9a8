-- Outbox for pushed messages (reminders, digests, ad-hoc reminders), one-off deadlines
-- added by commune staff, and per-member reminder preferences.
--
-- A row is written before anything is sent; its key (rule, period, step, recipient) is
-- unique, so planning the same step twice enqueues nothing new. Status moves
-- pending -> sending (claimed, with a lease) -> sent | blocked | failed | uncertain,
-- or pending -> skipped (the village reported meanwhile) | expired (too late to be useful).

CREATE TABLE outbox (
    id            INTEGER PRIMARY KEY,
    rule          TEXT NOT NULL,
    period        TEXT NOT NULL,
    step          TEXT NOT NULL,
    recipient     TEXT NOT NULL,            -- "<member id>/<channel>"
    member_id     INTEGER REFERENCES members (id),
    channel       TEXT NOT NULL,
    chat_id       TEXT NOT NULL,
    payload       TEXT NOT NULL,            -- JSON: {"text": ..., "options": [[{label, data, key}]]}
    due_at        TEXT NOT NULL,            -- ISO-8601 UTC
    expires_at    TEXT,
    village_id    INTEGER REFERENCES units (id),  -- set: skip if this village reports in covers_*
    covers_start  TEXT,
    covers_end    TEXT,
    status        TEXT NOT NULL DEFAULT 'pending'
                  CHECK (status IN ('pending', 'sending', 'sent', 'blocked', 'failed', 'uncertain',
                                    'skipped', 'expired')),
    attempts      INTEGER NOT NULL DEFAULT 0,
    last_error    TEXT,
    claimed_until TEXT,
    claimed_by    TEXT,
    created_at    TEXT NOT NULL,
    sent_at       TEXT,
    UNIQUE (rule, period, step, recipient)
);
CREATE INDEX outbox_pending ON outbox (status, due_at);
CREATE INDEX outbox_chat ON outbox (channel, chat_id, status);

CREATE TABLE custom_deadlines (
    id          INTEGER PRIMARY KEY,
    commune_id  INTEGER NOT NULL REFERENCES units (id),
    name        TEXT NOT NULL,
    starts_on   TEXT NOT NULL,
    due_on      TEXT NOT NULL,
    created_by  INTEGER REFERENCES members (id),
    created_at  TEXT NOT NULL,
    UNIQUE (commune_id, due_on, name)
);

CREATE TABLE member_prefs (
    member_id   INTEGER PRIMARY KEY REFERENCES members (id),
    digest      INTEGER NOT NULL DEFAULT 1,
    updated_at  TEXT NOT NULL
);
