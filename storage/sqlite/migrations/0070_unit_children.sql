-- A unit's children in name order, read from the index alone (every column a unit has): a
-- commune's villages, a province's communes and then each commune's villages (the province
-- tally's 3,000 villages) come out sorted, with no lookup into the table per row and no sort.
CREATE INDEX units_children ON units (parent_id, name, id, kind, code, households, adults, active);
