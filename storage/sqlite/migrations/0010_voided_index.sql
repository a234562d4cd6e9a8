-- One index write fewer per report (issue 2). reports_village_day indexed every row by
-- (village, day); live rows are already indexed by reports_live_tally (0002), which every
-- tally, reminder and outbox check reads. Only the detail export and the village history
-- need voided rows too: they read them from this partial index, which holds just the few
-- voided rows and is written on a void, not on every report.
CREATE INDEX reports_voided ON reports (village_id, occurred_on) WHERE voided_at IS NOT NULL;
DROP INDEX reports_village_day;
