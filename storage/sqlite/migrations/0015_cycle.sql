-- The reporting cycle (issue 13). A village is "reported" for a period when its leader
-- confirms its figures: one live confirmation per village and period (a report, void or
-- correction dated in the period reopens it: reopened_at set, the row kept as history;
-- the next confirmation is a new row). figures: the snapshot confirmed, JSON {service: count}.
CREATE TABLE confirmations (
    id            INTEGER PRIMARY KEY,
    commune_id    INTEGER NOT NULL REFERENCES units (id),
    village_id    INTEGER NOT NULL REFERENCES units (id),
    period        TEXT NOT NULL,
    starts_on     TEXT NOT NULL,
    ends_on       TEXT NOT NULL,
    confirmed_by  INTEGER NOT NULL REFERENCES members (id),
    confirmed_at  TEXT NOT NULL,
    figures       TEXT NOT NULL,
    on_time       INTEGER NOT NULL,
    reopened_at   TEXT,
    reopened_by   INTEGER REFERENCES members (id),
    reopen_reason TEXT
);
CREATE UNIQUE INDEX confirmations_live ON confirmations (village_id, period) WHERE reopened_at IS NULL;
CREATE INDEX confirmations_commune ON confirmations (commune_id, period);

-- A closed period: nothing dated in it changes until staff reopen it (the row is deleted;
-- closing and reopening are in the audit log). closed_by NULL: closed by itself.
CREATE TABLE period_locks (
    commune_id  INTEGER NOT NULL REFERENCES units (id),
    period      TEXT NOT NULL,
    starts_on   TEXT NOT NULL,
    ends_on     TEXT NOT NULL,
    closed_by   INTEGER REFERENCES members (id),
    closed_at   TEXT NOT NULL,
    PRIMARY KEY (commune_id, period)
);
