-- Targets may also be a share of a unit's adults (e.g. digital-skills courses):
-- kind 'percent_adults'. SQLite cannot change a CHECK constraint, so the table is rebuilt.
CREATE TABLE targets_new (
    unit_id     INTEGER NOT NULL REFERENCES units (id),
    service     TEXT NOT NULL,
    year        INTEGER NOT NULL CHECK (year BETWEEN 2000 AND 2100),
    kind        TEXT NOT NULL CHECK (kind IN ('percent', 'percent_adults', 'absolute')),
    value       REAL NOT NULL CHECK (value >= 0),
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (unit_id, service, year)
);
INSERT INTO targets_new SELECT unit_id, service, year, kind, value, updated_at FROM targets;
DROP TABLE targets;
ALTER TABLE targets_new RENAME TO targets;
