-- Every large table carries the commune its rows belong to (reports, the monthly roll-up,
-- audit, outbox), so that a national deployment can distribute them by commune (Citus-style
-- co-location: a commune's rows on one node) and a commune's queries can name it. The
-- repositories fill it in on every insert; rows written before are backfilled here. NULL
-- where a row belongs to no commune (a province staff member's messages, deployment-wide
-- admin actions). The inbox and conversations are keyed by chat, known before the sender
-- is: they stay without one (small, short-lived rows).
ALTER TABLE reports ADD COLUMN commune_id INTEGER REFERENCES units (id);
UPDATE reports SET commune_id = (SELECT u.parent_id FROM units u WHERE u.id = reports.village_id);

-- The roll-up is keyed by commune first: (commune_id, month, village_id, service). A commune's
-- month is one contiguous run of rows and a province's one run per commune, where keyed by
-- village it was a seek per village (3,000 for a province); and the key holds the
-- distribution column, as Citus requires of a distributed table's keys. Rebuilt (SQLite
-- cannot change a key), its triggers dropped first and made again on the new key.
DROP TRIGGER reports_month_add;
DROP TRIGGER reports_month_void;
CREATE TABLE report_months_by_commune (
    commune_id  INTEGER NOT NULL,
    month       TEXT NOT NULL,       -- YYYY-MM of occurred_on
    village_id  INTEGER NOT NULL,
    service     TEXT NOT NULL,
    households  INTEGER NOT NULL,
    reports     INTEGER NOT NULL,
    PRIMARY KEY (commune_id, month, village_id, service)
) WITHOUT ROWID;
INSERT INTO report_months_by_commune (commune_id, month, village_id, service, households, reports)
SELECT u.parent_id, m.month, m.village_id, m.service, m.households, m.reports
FROM report_months m JOIN units u ON u.id = m.village_id;
DROP TABLE report_months;
ALTER TABLE report_months_by_commune RENAME TO report_months;

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

ALTER TABLE audit ADD COLUMN commune_id INTEGER REFERENCES units (id);
UPDATE audit SET commune_id = (
    SELECT CASE u.kind WHEN 'commune' THEN u.id WHEN 'village' THEN u.parent_id END FROM units u WHERE u.id = audit.unit_id
) WHERE unit_id IS NOT NULL;

ALTER TABLE outbox ADD COLUMN commune_id INTEGER REFERENCES units (id);
UPDATE outbox SET commune_id = (
    SELECT CASE u.kind WHEN 'commune' THEN u.id WHEN 'village' THEN u.parent_id END
    FROM members m JOIN units u ON u.id = m.unit_id WHERE m.id = outbox.member_id
) WHERE member_id IS NOT NULL;
