-- An announcement to a whole commune has ~10,000 copies: they are queued in chunks, each
-- its own short transaction (issue 11, item 6). queued_after is where the fan-out stands:
-- copies are queued for every recipient with a member id up to it; NULL once all are.
-- Existing announcements had all their copies queued with them.
ALTER TABLE announcements ADD COLUMN queued_after INTEGER;
