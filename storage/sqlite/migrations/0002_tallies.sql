-- Tallies, targets and explicit zero reports (issue 3).
--
-- An explicit "nothing this period" report is a reports row with service 'none' and
-- count 0: it marks the village as reported for the day's periods, is voided and undone
-- like any report, and is left out of every per-service sum (the six service codes stay
-- clean in tallies and exports).
--
-- Tallies read live reports by village and day through a partial covering index: a
-- tally touches only the index entries of its villages and period, never the table, so
-- its time does not grow with reports outside the period. Voiding a report removes it
-- from this index in the same statement, so there is no roll-up to keep in step.

CREATE INDEX reports_live_tally ON reports (village_id, occurred_on, service, count)
    WHERE voided_at IS NULL;

-- Yearly targets per village (or commune) and service: a percentage of the unit's
-- households, or an absolute number of households.
CREATE TABLE targets (
    unit_id     INTEGER NOT NULL REFERENCES units (id),
    service     TEXT NOT NULL,
    year        INTEGER NOT NULL CHECK (year BETWEEN 2000 AND 2100),
    kind        TEXT NOT NULL CHECK (kind IN ('percent', 'absolute')),
    value       REAL NOT NULL CHECK (value >= 0),
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (unit_id, service, year)
);
