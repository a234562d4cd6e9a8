-- Every large table carries the commune its rows belong to (SQLite 0030): reports, the
-- monthly roll-up, audit, outbox. With it, a national deployment can distribute these tables
-- by commune_id (Citus: create_distributed_table(..., 'commune_id', colocate_with => ...)),
-- a commune's rows on one node. The repositories fill it in on every insert; older rows are
-- backfilled here. NULL where a row belongs to no commune (a province staff member's
-- messages, deployment-wide admin actions). The inbox and conversations are keyed by chat,
-- known before the sender is: they stay without one (small, short-lived rows).
ALTER TABLE reports ADD COLUMN commune_id BIGINT REFERENCES units (id);
UPDATE reports r SET commune_id = u.parent_id FROM units u WHERE u.id = r.village_id;

ALTER TABLE report_months ADD COLUMN commune_id BIGINT;
UPDATE report_months m SET commune_id = u.parent_id FROM units u WHERE u.id = m.village_id;

CREATE OR REPLACE FUNCTION reports_month_add() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO report_months AS m (village_id, month, service, households, reports, commune_id)
    VALUES (NEW.village_id, substr(NEW.occurred_on, 1, 7), NEW.service, NEW.count, 1,
            COALESCE(NEW.commune_id, (SELECT u.parent_id FROM units u WHERE u.id = NEW.village_id)))
    ON CONFLICT (village_id, month, service)
    DO UPDATE SET households = m.households + excluded.households, reports = m.reports + 1;
    RETURN NULL;
END;
$$;

ALTER TABLE audit ADD COLUMN commune_id BIGINT REFERENCES units (id);
UPDATE audit a SET commune_id = CASE u.kind WHEN 'commune' THEN u.id WHEN 'village' THEN u.parent_id END
FROM units u WHERE u.id = a.unit_id;

ALTER TABLE outbox ADD COLUMN commune_id BIGINT REFERENCES units (id);
UPDATE outbox o SET commune_id = CASE u.kind WHEN 'commune' THEN u.id WHEN 'village' THEN u.parent_id END
FROM members m JOIN units u ON u.id = m.unit_id WHERE m.id = o.member_id;
