-- Initial schema: units, members, identities, invites, reports, conversation state,
-- processed updates and audit. Portable SQL (SQLite now, PostgreSQL later):
-- times are ISO-8601 UTC text, days are ISO dates, booleans are 0/1 integers.

CREATE TABLE units (
    id          INTEGER PRIMARY KEY,
    kind        TEXT NOT NULL CHECK (kind IN ('province', 'commune', 'village')),
    parent_id   INTEGER REFERENCES units (id),
    code        TEXT NOT NULL,
    name        TEXT NOT NULL,
    households  INTEGER CHECK (households >= 0),
    adults      INTEGER CHECK (adults >= 0),
    active      INTEGER NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX units_parent_code ON units (parent_id, code);
CREATE UNIQUE INDEX units_top_code ON units (kind, code) WHERE kind IN ('province', 'commune');

CREATE TABLE members (
    id          INTEGER PRIMARY KEY,
    name        TEXT,
    role        TEXT NOT NULL CHECK (role IN ('member', 'leader', 'staff', 'admin')),
    unit_id     INTEGER NOT NULL REFERENCES units (id),
    status      TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled', 'forgotten')),
    created_at  TEXT NOT NULL
);
CREATE INDEX members_unit ON members (unit_id);

CREATE TABLE identities (
    id           INTEGER PRIMARY KEY,
    member_id    INTEGER NOT NULL REFERENCES members (id),
    channel      TEXT NOT NULL,
    external_id  TEXT NOT NULL,
    chat_id      TEXT NOT NULL,
    active       INTEGER NOT NULL DEFAULT 1,
    created_at   TEXT NOT NULL,
    UNIQUE (channel, external_id)
);
CREATE INDEX identities_member ON identities (member_id);

CREATE TABLE invites (
    code        TEXT PRIMARY KEY,
    unit_id     INTEGER NOT NULL REFERENCES units (id),
    role        TEXT NOT NULL CHECK (role IN ('member', 'leader', 'staff', 'admin')),
    expires_at  TEXT NOT NULL,
    max_uses    INTEGER NOT NULL CHECK (max_uses > 0),
    uses        INTEGER NOT NULL DEFAULT 0,
    created_by  INTEGER REFERENCES members (id),
    created_at  TEXT NOT NULL,
    revoked_at  TEXT
);
CREATE INDEX invites_unit ON invites (unit_id);

-- Append-only: a correction voids a row (voided_*) and adds a new one (supersedes).
CREATE TABLE reports (
    id           INTEGER PRIMARY KEY,
    batch_id     TEXT NOT NULL,
    member_id    INTEGER NOT NULL REFERENCES members (id),
    village_id   INTEGER NOT NULL REFERENCES units (id),
    service      TEXT NOT NULL,
    count        INTEGER NOT NULL CHECK (count >= 0),
    occurred_on  TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    source       TEXT NOT NULL CHECK (source IN ('buttons', 'text', 'proxy')),
    voided_at    TEXT,
    voided_by    INTEGER REFERENCES members (id),
    void_reason  TEXT,
    supersedes   INTEGER REFERENCES reports (id)
);
CREATE INDEX reports_village_day ON reports (village_id, occurred_on);
CREATE INDEX reports_member_created ON reports (member_id, created_at);
CREATE INDEX reports_batch ON reports (batch_id);

CREATE TABLE conversations (
    channel     TEXT NOT NULL,
    chat_id     TEXT NOT NULL,
    flow        TEXT NOT NULL,
    step        TEXT NOT NULL,
    data        TEXT NOT NULL,
    version     INTEGER NOT NULL,
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (channel, chat_id)
);

CREATE TABLE processed_updates (
    channel       TEXT NOT NULL,
    update_key    TEXT NOT NULL,
    processed_at  TEXT NOT NULL,
    PRIMARY KEY (channel, update_key)
);

CREATE TABLE audit (
    id         INTEGER PRIMARY KEY,
    actor_id   INTEGER REFERENCES members (id),
    action     TEXT NOT NULL,
    object     TEXT NOT NULL,
    at         TEXT NOT NULL,
    detail     TEXT
);
CREATE INDEX audit_at ON audit (at);
