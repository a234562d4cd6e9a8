-- Corrections: a report entered by someone else for a member without a phone keeps
-- who entered it (source 'proxy'); voids already keep who, when and why.
ALTER TABLE reports ADD COLUMN entered_by INTEGER REFERENCES members (id);
