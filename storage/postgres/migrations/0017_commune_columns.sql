-- Every large table carries the commune its rows belong to (SQLite 0030): reports, the
-- monthly roll-up, audit, outbox. With it, a national deployment can distribute these tables
-- by commune_id (Citus: create_distributed_table(..., 'commune_id', colocate_with => ...)),
-- a commune's rows on one node. The repositories fill it in on every insert; older rows are
-- backfilled here. NULL where a row belongs to no commune (a province staff member's
-- messages, deployment-wide admin actions). The inbox and conversations are keyed by chat,
-- known before the sender is: they stay without one (small, short-lived rows).
ALTER TABLE reports ADD COLUMN commune_id BIGINT REFERENCES units (id);
UPDATE reports r SET commune_id = u.parent_id FROM units u WHERE u.id = r.village_id;

-- The roll-up is keyed by commune first: (commune_id, month, village_id, service) (SQLite
-- 0030). A commune's month is one contiguous run of the key and a province's one run per
-- commune, where keyed by village it was a probe per village (3,000 for a province); and
-- the key holds the distribution column, as Citus requires of a distributed table's keys.
ALTER TABLE report_months ADD COLUMN commune_id BIGINT;
UPDATE report_months m SET commune_id = u.parent_id FROM units u WHERE u.id = m.village_id;
ALTER TABLE report_months ALTER COLUMN commune_id SET NOT NULL;
ALTER TABLE report_months DROP CONSTRAINT report_months_pkey;
ALTER TABLE report_months ADD PRIMARY KEY (commune_id, month, village_id, service);

CREATE OR REPLACE FUNCTION reports_month_add() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO report_months AS m (commune_id, month, village_id, service, households, reports)
    VALUES (COALESCE(NEW.commune_id, (SELECT u.parent_id FROM units u WHERE u.id = NEW.village_id)),
            substr(NEW.occurred_on, 1, 7), NEW.village_id, NEW.service, NEW.count, 1)
    ON CONFLICT (commune_id, month, village_id, service)
    DO UPDATE SET households = m.households + excluded.households, reports = m.reports + 1;
    RETURN NULL;
END;
$$;

CREATE OR REPLACE FUNCTION reports_month_void() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE report_months SET households = households - OLD.count, reports = reports - 1
    WHERE commune_id = COALESCE(OLD.commune_id, (SELECT u.parent_id FROM units u WHERE u.id = OLD.village_id))
      AND month = substr(OLD.occurred_on, 1, 7) AND village_id = OLD.village_id AND service = OLD.service;
    RETURN NULL;
END;
$$;

ALTER TABLE audit ADD COLUMN commune_id BIGINT REFERENCES units (id);
UPDATE audit a SET commune_id = CASE u.kind WHEN 'commune' THEN u.id WHEN 'village' THEN u.parent_id END
FROM units u WHERE u.id = a.unit_id;

ALTER TABLE outbox ADD COLUMN commune_id BIGINT REFERENCES units (id);
UPDATE outbox o SET commune_id = CASE u.kind WHEN 'commune' THEN u.id WHEN 'village' THEN u.parent_id END
FROM members m JOIN units u ON u.id = m.unit_id WHERE m.id = o.member_id;
