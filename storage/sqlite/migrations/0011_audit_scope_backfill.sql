-- Three actions were audited without their commune until now (/hanchot them, /nhaclai,
-- tcns member forget), so their commune's staff never saw them in /nhatky. Fill it in.
UPDATE audit SET unit_id = (
    SELECT commune_id FROM custom_deadlines WHERE id = CAST(substr(audit.object, 17) AS INTEGER)
) WHERE action = 'deadline.add' AND unit_id IS NULL AND object LIKE 'custom_deadline:%';

-- /nhaclai: the commune of the staff member who sent it.
UPDATE audit SET unit_id = (
    SELECT CASE WHEN u.kind = 'commune' THEN u.id ELSE u.parent_id END
    FROM members m JOIN units u ON u.id = m.unit_id WHERE m.id = audit.actor_id
) WHERE action = 'reminder.adhoc' AND unit_id IS NULL;

-- member forget: the commune of the member forgotten (the member row stays, without a name).
UPDATE audit SET unit_id = (
    SELECT CASE WHEN u.kind = 'commune' THEN u.id ELSE u.parent_id END
    FROM members m JOIN units u ON u.id = m.unit_id WHERE m.id = CAST(substr(audit.object, 8) AS INTEGER)
) WHERE action = 'member_forget' AND unit_id IS NULL AND object LIKE 'member:%';
