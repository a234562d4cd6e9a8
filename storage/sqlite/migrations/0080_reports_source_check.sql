-- The reports' source check, spelled so that SQLite checks it without a temporary table.
-- SQLite evaluates `source IN ('buttons', 'text', 'proxy')` in a CHECK by building an
-- ephemeral b-tree of the list for every row inserted (a pager opened and pages zeroed: about
-- a tenth of the database thread's work for a text report, bench/ingest.py); the same rule as
-- three comparisons costs nothing. The rule is unchanged, so PostgreSQL (whose IN is an array
-- test) has no migration for it.
-- SQLite cannot change a CHECK constraint in place: reports is rebuilt by its documented
-- procedure (new table, copy, drop, rename; the runner applies migrations with foreign keys
-- off and checks them before the commit). Ids, rows, indexes and the roll-up triggers are
-- kept; report_months is not touched (the copy goes into a table without triggers).

CREATE TABLE reports_new (
    id           INTEGER PRIMARY KEY,
    batch_id     TEXT NOT NULL,
    member_id    INTEGER NOT NULL REFERENCES members (id),
    village_id   INTEGER NOT NULL REFERENCES units (id),
    service      TEXT NOT NULL,
    count        INTEGER NOT NULL CHECK (count >= 0),
    occurred_on  TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    source       TEXT NOT NULL CHECK (source = 'buttons' OR source = 'text' OR source = 'proxy'),
    voided_at    TEXT,
    voided_by    INTEGER REFERENCES members (id),
    void_reason  TEXT,
    supersedes   INTEGER REFERENCES reports (id),
    entered_by   INTEGER REFERENCES members (id),
    commune_id   INTEGER REFERENCES units (id)
);
INSERT INTO reports_new (id, batch_id, member_id, village_id, service, count, occurred_on, created_at, source,
                         voided_at, voided_by, void_reason, supersedes, entered_by, commune_id)
    SELECT id, batch_id, member_id, village_id, service, count, occurred_on, created_at, source,
           voided_at, voided_by, void_reason, supersedes, entered_by, commune_id FROM reports;
DROP TABLE reports;
ALTER TABLE reports_new RENAME TO reports;

CREATE INDEX reports_member_created ON reports (member_id, created_at);
CREATE INDEX reports_live_tally ON reports (village_id, occurred_on, service, count)
    WHERE voided_at IS NULL;
CREATE INDEX reports_voided ON reports (village_id, occurred_on) WHERE voided_at IS NOT NULL;
CREATE INDEX reports_village_recent ON reports (village_id, id) WHERE voided_at IS NULL;

CREATE TRIGGER reports_month_add AFTER INSERT ON reports WHEN NEW.voided_at IS NULL
BEGIN
    INSERT INTO report_months (commune_id, month, village_id, service, households, reports)
    VALUES (COALESCE(NEW.commune_id, (SELECT u.parent_id FROM units u WHERE u.id = NEW.village_id)),
            substr(NEW.occurred_on, 1, 7), NEW.village_id, NEW.service, NEW.count, 1)
    ON CONFLICT (commune_id, month, village_id, service)
    DO UPDATE SET households = households + excluded.households, reports = reports + 1;
END;

CREATE TRIGGER reports_month_void AFTER UPDATE OF voided_at ON reports
WHEN OLD.voided_at IS NULL AND NEW.voided_at IS NOT NULL
BEGIN
    UPDATE report_months SET households = households - OLD.count, reports = reports - 1
    WHERE commune_id = COALESCE(OLD.commune_id, (SELECT u.parent_id FROM units u WHERE u.id = OLD.village_id))
      AND month = substr(OLD.occurred_on, 1, 7) AND village_id = OLD.village_id AND service = OLD.service;
END;
