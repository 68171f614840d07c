-- Maintenance scope 1.1.0: rollups can follow a log by transaction id instead of by trigger.
--
-- The invalidation trigger of 1.0.0 costs every writing statement a transition table, a
-- SECURITY DEFINER call and an INSERT. A scope that knows, for a range of transaction ids,
-- which (organisation, hour) buckets of a log got rows (audit_log rows carry the id of their
-- transaction; the event bus records each publishing transaction) needs none of that: it
-- registers the log here with a function that answers that question through an index, and
-- drops the log's insert trigger. Every refresh then reads the horizon below which every
-- transaction has ended, counts again the buckets of the transactions between the watermark
-- and the horizon, and moves the watermark, in the refresh's own transaction. Until a log is
-- registered the trigger path of 1.0.0 stays in force. Deletes keep their trigger either way.

CREATE TABLE maturion.rollup_watermarks (
  log TEXT PRIMARY KEY CHECK (log IN ('audit_log', 'event_log')),
  transaction_id BIGINT NOT NULL,
  changed_hours REGPROC NOT NULL,
  updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
COMMENT ON TABLE maturion.rollup_watermarks IS '@internal Platform machinery, not tenant data: the logs whose rollups follow transaction ids, and how far they are counted.';
COMMENT ON COLUMN maturion.rollup_watermarks.log IS 'The log: audit_log or event_log.';
COMMENT ON COLUMN maturion.rollup_watermarks.transaction_id IS 'Every transaction with a smaller id had ended when the rollups were last refreshed, and its rows are counted.';
COMMENT ON COLUMN maturion.rollup_watermarks.changed_hours IS 'Function (from_transaction bigint, to_transaction bigint) returning (organisation_id uuid, hour timestamptz): the UTC hours that got rows from the transactions in [from, to).';
COMMENT ON COLUMN maturion.rollup_watermarks.updated_at IS 'When the watermark last moved.';
REVOKE ALL ON maturion.rollup_watermarks FROM PUBLIC;
GRANT SELECT, UPDATE ON maturion.rollup_watermarks TO maturion_maintenance;

-- The transaction id below which every transaction that could write to this database has
-- ended, so the rows below it are final and visible to any later snapshot. The snapshot's xmin
-- would do, but it is held back by the transactions of every database in the cluster. So a
-- transaction the snapshot saw running is skipped when it is proven harmless: ended since (it
-- can write nothing more, and a later snapshot sees its rows), or running in another database
-- (its xid lock is held by a backend connected elsewhere). Anything unproven holds it back: a
-- prepared transaction, an xid whose lock is not visible yet.
CREATE FUNCTION maturion.finished_transactions_horizon() RETURNS bigint
LANGUAGE sql
VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
  WITH snapshot AS (
    SELECT pg_current_snapshot() AS s
  ), elsewhere AS MATERIALIZED (
    SELECT l.transactionid
    FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
    WHERE l.locktype = 'transactionid' AND l.mode = 'ExclusiveLock' AND l.granted
      AND a.datid IS DISTINCT FROM (SELECT d.oid FROM pg_database d WHERE d.datname = current_database())
  )
  SELECT least(
    (SELECT pg_snapshot_xmax(s) FROM snapshot),
    (SELECT min(x) FROM snapshot, pg_snapshot_xip(s) AS x
     WHERE NOT EXISTS (SELECT FROM elsewhere e WHERE e.transactionid = xid(x))
       AND pg_xact_status(x) IS DISTINCT FROM 'committed'
       AND pg_xact_status(x) IS DISTINCT FROM 'aborted'))::text::bigint
$$;
COMMENT ON FUNCTION maturion.finished_transactions_horizon() IS 'Transaction id below which every transaction that could write to this database has ended (a later snapshot sees all their rows).';
REVOKE EXECUTE ON FUNCTION maturion.finished_transactions_horizon() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION maturion.finished_transactions_horizon() TO maturion_maintenance;

-- For a registered log: the hours that got rows from the transactions between the watermark
-- and `horizon` (which the caller read before its snapshot), and the watermark moved there in
-- the caller's transaction. Nothing for a log that is not registered.
CREATE FUNCTION maturion.rollup_follow_watermark(target_log text, horizon bigint)
RETURNS TABLE (organisation_id uuid, hour timestamptz)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  mark maturion.rollup_watermarks;
BEGIN
  SELECT * INTO mark FROM maturion.rollup_watermarks w WHERE w.log = target_log FOR UPDATE;
  IF NOT FOUND OR mark.transaction_id >= horizon THEN
    RETURN;
  END IF;
  RETURN QUERY EXECUTE format('SELECT organisation_id, hour FROM %s($1, $2)', mark.changed_hours)
    USING mark.transaction_id, horizon;
  UPDATE maturion.rollup_watermarks w SET transaction_id = horizon, updated_at = now()
  WHERE w.log = target_log;
END
$$;
COMMENT ON FUNCTION maturion.rollup_follow_watermark(text, bigint) IS 'For a log registered in rollup_watermarks: the hours written by the transactions from the watermark to the horizon; moves the watermark to the horizon.';
REVOKE EXECUTE ON FUNCTION maturion.rollup_follow_watermark(text, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION maturion.rollup_follow_watermark(text, bigint) TO maturion_maintenance;
