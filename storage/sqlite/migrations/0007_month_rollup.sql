-- A monthly roll-up of live reports per village and service, kept by triggers in the
-- same statement as the report insert or void: it can never disagree with the rows,
-- and costs no extra round trip. Tallies read whole months here and only the partial
-- months at a period's edges from the daily index (reports_live_tally).
CREATE TABLE report_months (
    village_id  INTEGER NOT NULL,
    month       TEXT NOT NULL,       -- YYYY-MM of occurred_on
    service     TEXT NOT NULL,
    households  INTEGER NOT NULL,
    reports     INTEGER NOT NULL,
    PRIMARY KEY (village_id, month, service)
) WITHOUT ROWID;

INSERT INTO report_months (village_id, month, service, households, reports)
SELECT village_id, substr(occurred_on, 1, 7), service, SUM(count), COUNT(*)
FROM reports WHERE voided_at IS NULL GROUP BY 1, 2, 3;

CREATE TRIGGER reports_month_add AFTER INSERT ON reports WHEN NEW.voided_at IS NULL
BEGIN
    INSERT INTO report_months (village_id, month, service, households, reports)
    VALUES (NEW.village_id, substr(NEW.occurred_on, 1, 7), NEW.service, NEW.count, 1)
    ON CONFLICT (village_id, month, service)
    DO UPDATE SET households = households + excluded.households, reports = reports + 1;
END;

CREATE TRIGGER reports_month_void AFTER UPDATE OF voided_at ON reports
WHEN OLD.voided_at IS NULL AND NEW.voided_at IS NOT NULL
BEGIN
    UPDATE report_months SET households = households - OLD.count, reports = reports - 1
    WHERE village_id = OLD.village_id AND month = substr(OLD.occurred_on, 1, 7) AND service = OLD.service;
END;
