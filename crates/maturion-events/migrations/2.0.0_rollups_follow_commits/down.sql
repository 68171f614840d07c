-- Reverts 2.0.0: event_log's rollups go back to the insert trigger, whose invalidations the
-- events published meanwhile get now.
CREATE TRIGGER invalidate_rollups_on_insert AFTER INSERT ON public.event_log
  REFERENCING NEW TABLE AS changed_rows
  FOR EACH STATEMENT EXECUTE FUNCTION maturion.invalidate_rollups();
INSERT INTO maturion.rollup_invalidations (log, organisation_id, hour)
SELECT 'event_log', c.organisation_id, c.hour
FROM maturion.rollup_watermarks w,
     maturion.event_log_changed_hours(w.transaction_id, pg_snapshot_xmax(pg_current_snapshot())::text::bigint) c
WHERE w.log = 'event_log';
DELETE FROM maturion.rollup_watermarks WHERE log = 'event_log';
DROP FUNCTION maturion.event_log_changed_hours(bigint, bigint);
