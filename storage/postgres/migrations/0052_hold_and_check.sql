-- A write to a village's reports holds the village's commune (shared advisory lock, key
-- hold_key + the commune's id: storage.sql.cycle.HOLD_KEY, passed in so the keys cannot drift
-- from CycleRepository.hold) and then checks its days against the commune's closed periods and
-- the village's live confirmations (CycleRepository.check_village): one round trip instead of
-- two. A function, not one SELECT: a statement's snapshot is taken before a lock function
-- inside it runs, so its check would miss a period closed by the exclusive holder it waited
-- for. In a VOLATILE PL/pgSQL function each statement takes a fresh snapshot (READ COMMITTED),
-- so the check, after the PERFORM, sees everything committed before the lock was granted.
-- Dates are ISO text (COLLATE "C"), compared as the repository's query compares them. No row
-- for an unknown village (no lock taken then either, as before).
CREATE FUNCTION tcns_hold_and_check(p_village BIGINT, p_hold_key BIGINT, p_first TEXT, p_last TEXT)
    RETURNS TABLE (closed BOOLEAN, confirmed BOOLEAN)
    LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM pg_advisory_xact_lock_shared((SELECT u.parent_id + p_hold_key FROM units u WHERE u.id = p_village));
    RETURN QUERY
        SELECT EXISTS (SELECT 1 FROM period_locks l WHERE l.commune_id = u.parent_id AND l.starts_on <= p_last
                       AND l.ends_on >= p_first),
               EXISTS (SELECT 1 FROM confirmations c WHERE c.village_id = u.id AND c.reopened_at IS NULL
                       AND c.starts_on <= p_last AND c.ends_on >= p_first)
        FROM units u WHERE u.id = p_village;
END
$$;
