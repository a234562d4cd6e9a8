-- Paged lists (issue 11): /gannhat reads the newest live reports of each village in its scope
-- a page at a time (keyset by id, with a LIMIT). Ordered by id within a village, live rows
-- only, this index gives each village's newest ids below a cursor without touching the table;
-- without it the newest reports of a commune were found by sorting all of them (4-5 s at 1M).
-- Two integers per live report: about one more small b-tree insert per report, on the
-- right-most leaf of the village's range.
CREATE INDEX reports_village_recent ON reports (village_id, id) WHERE voided_at IS NULL;
