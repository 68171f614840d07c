-- Undoes 1.0.0_partitioning. Monthly partitions made by `maturion maintain` are left in place:
-- they hold log rows.
DROP TABLE event_log_daily, event_log_hourly, audit_log_daily, audit_log_hourly;
DROP TRIGGER invalidate_rollups_on_delete ON event_log;
DROP TRIGGER invalidate_rollups_on_insert ON event_log;
DROP TRIGGER invalidate_rollups_on_delete ON audit_log;
DROP TRIGGER invalidate_rollups_on_insert ON audit_log;
DROP FUNCTION maturion.invalidate_rollups();
DROP TABLE maturion.rollup_invalidations;
ALTER TABLE event_log_default DISABLE ROW LEVEL SECURITY;
ALTER TABLE audit_log_default DISABLE ROW LEVEL SECURITY;
ALTER TABLE event_log_default ALTER COLUMN payload SET COMPRESSION default;
ALTER TABLE event_log ALTER COLUMN payload SET COMPRESSION default;
ALTER TABLE audit_log_default ALTER COLUMN changes SET COMPRESSION default;
ALTER TABLE audit_log ALTER COLUMN changes SET COMPRESSION default;
