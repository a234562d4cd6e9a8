-- Every large table carries the commune its rows belong to (reports, the monthly roll-up,
-- audit, outbox), so that a national deployment can distribute them by commune (Citus-style
-- co-location: a commune's rows on one node) and a commune's queries can name it. The
-- repositories fill it in on every insert; rows written before are backfilled here. NULL
-- where a row belongs to no commune (a province staff member's messages, deployment-wide
-- admin actions). The inbox and conversations are keyed by chat, known before the sender
-- is: they stay without one (small, short-lived rows).
ALTER TABLE reports ADD COLUMN commune_id INTEGER REFERENCES units (id);
UPDATE reports SET commune_id = (SELECT u.parent_id FROM units u WHERE u.id = reports.village_id);

ALTER TABLE report_months ADD COLUMN commune_id INTEGER;
UPDATE report_months SET commune_id = (SELECT u.parent_id FROM units u WHERE u.id = report_months.village_id);

DROP TRIGGER reports_month_add;
CREATE TRIGGER reports_month_add AFTER INSERT ON reports WHEN NEW.voided_at IS NULL
BEGIN
    INSERT INTO report_months (village_id, month, service, households, reports, commune_id)
    VALUES (NEW.village_id, substr(NEW.occurred_on, 1, 7), NEW.service, NEW.count, 1,
            COALESCE(NEW.commune_id, (SELECT u.parent_id FROM units u WHERE u.id = NEW.village_id)))
    ON CONFLICT (village_id, month, service)
    DO UPDATE SET households = households + excluded.households, reports = reports + 1;
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
