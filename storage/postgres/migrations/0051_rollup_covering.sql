-- The roll-up's key carries its figures (INCLUDE), so a tally reads a commune's month from the
-- index alone. A heap table keeps rows in the order they came, not by key: a province's month
-- (~18,000 rows, one per village and service) sat on ~18,000 heap pages, one visit each, where
-- SQLite's WITHOUT ROWID table (0030) has them side by side. The figures change with every
-- report, so those updates are no longer HOT: the index takes a new entry each time, and
-- vacuum, run more often here than the default, clears the old ones and keeps the visibility
-- map (which index-only scans need) current.
ALTER TABLE report_months DROP CONSTRAINT report_months_pkey;
ALTER TABLE report_months ADD PRIMARY KEY (commune_id, month, village_id, service) INCLUDE (households, reports);
ALTER TABLE report_months SET (autovacuum_vacuum_scale_factor = 0.01, autovacuum_vacuum_insert_scale_factor = 0.01,
                               autovacuum_analyze_scale_factor = 0.02);
