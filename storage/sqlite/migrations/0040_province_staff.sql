-- Province staff (cán bộ tỉnh, Sở KH&CN): a role that reads every commune of its province.
-- SQLite cannot change a CHECK constraint in place, so members and invites are rebuilt with
-- the wider role list (SQLite's documented procedure: new table, copy, drop, rename; the runner
-- applies migrations with foreign keys off and checks them before the commit). Ids, rows and
-- indexes are kept; the tables that reference members keep referencing it by name.

CREATE TABLE members_new (
    id          INTEGER PRIMARY KEY,
    name        TEXT,
    role        TEXT NOT NULL CHECK (role IN ('member', 'leader', 'staff', 'province_staff', 'admin')),
    unit_id     INTEGER NOT NULL REFERENCES units (id),
    status      TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled', 'forgotten')),
    created_at  TEXT NOT NULL
);
INSERT INTO members_new (id, name, role, unit_id, status, created_at)
    SELECT id, name, role, unit_id, status, created_at FROM members;
DROP TABLE members;
ALTER TABLE members_new RENAME TO members;
CREATE INDEX members_unit ON members (unit_id);

CREATE TABLE invites_new (
    code        TEXT PRIMARY KEY,
    unit_id     INTEGER NOT NULL REFERENCES units (id),
    role        TEXT NOT NULL CHECK (role IN ('member', 'leader', 'staff', 'province_staff', 'admin')),
    expires_at  TEXT NOT NULL,
    max_uses    INTEGER NOT NULL CHECK (max_uses > 0),
    uses        INTEGER NOT NULL DEFAULT 0,
    created_by  INTEGER REFERENCES members (id),
    created_at  TEXT NOT NULL,
    revoked_at  TEXT
);
INSERT INTO invites_new (code, unit_id, role, expires_at, max_uses, uses, created_by, created_at, revoked_at)
    SELECT code, unit_id, role, expires_at, max_uses, uses, created_by, created_at, revoked_at FROM invites;
DROP TABLE invites;
ALTER TABLE invites_new RENAME TO invites;
CREATE INDEX invites_unit ON invites (unit_id);
