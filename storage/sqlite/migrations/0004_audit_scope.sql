-- Audit rows carry the commune (or village) they belong to, so /nhatky can show a
-- commune's staff only their own commune's actions.
ALTER TABLE audit ADD COLUMN unit_id INTEGER REFERENCES units (id);
CREATE INDEX audit_unit ON audit (unit_id, id);
