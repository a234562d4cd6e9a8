-- A unit's children in name order, read from the index alone (SQLite 0070): a province's
-- communes and each commune's villages come out sorted by an index-only scan. Without it the
-- planner joined a province's communes to a sequential scan of every unit (100,000 villages
-- nationally) and sorted the 3,000 it kept.
CREATE INDEX units_children ON units (parent_id, name, id) INCLUDE (kind, code, households, adults, active);
