-- maturion:destructive drops the maintenance scope's insert trigger on event_log (see below)
--
-- 2.0.0: event_log's rollups follow the bus's record of publishing transactions
-- (maintenance 1.1.0) instead of the statement trigger invalidate_rollups_on_insert, which
-- cost every publishing statement a transition table, a SECURITY DEFINER call and an INSERT.
-- Every transaction that inserts into event_log gets one event_commits row per organisation
-- at commit, naming the distinct timestamps of its events, and 1.1.0 indexes them by
-- transaction id. This is the breaking part: nothing records invalidations for inserted
-- events any more; a maintenance job older than maintenance 1.1.0 would stop refreshing them.
-- Deletes keep their trigger.

-- The hours of event_log that got rows from the transactions in [from, to). Run by the
-- maintenance job (BYPASSRLS).
CREATE FUNCTION maturion.event_log_changed_hours(from_transaction bigint, to_transaction bigint)
RETURNS TABLE (organisation_id uuid, hour timestamptz)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT DISTINCT c.organisation_id, date_trunc('hour', t.stamp, 'UTC')
  FROM maturion.event_commits c, unnest(c.event_timestamps) AS t(stamp)
  WHERE c.transaction_id >= from_transaction::text::xid8 AND c.transaction_id < to_transaction::text::xid8
$$;
COMMENT ON FUNCTION maturion.event_log_changed_hours(bigint, bigint) IS 'UTC hours of event_log, per organisation, that got events from the transactions in [from, to): how the rollup refresh follows event_log.';
REVOKE EXECUTE ON FUNCTION maturion.event_log_changed_hours(bigint, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION maturion.event_log_changed_hours(bigint, bigint) TO maturion_maintenance;

DROP TRIGGER invalidate_rollups_on_insert ON public.event_log;
-- Events of transactions below the oldest one running now were recorded by the trigger; the
-- refresh finds every later one through event_commits.
INSERT INTO maturion.rollup_watermarks (log, transaction_id, changed_hours)
VALUES ('event_log', pg_snapshot_xmin(pg_current_snapshot())::text::bigint,
        'maturion.event_log_changed_hours');
