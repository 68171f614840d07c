-- Maintenance scope 1.0.0 (spec §2.2, §8.1): what the monthly partitions of audit_log and
-- event_log need besides the partitions themselves, which `maturion maintain` creates ahead,
-- moves rows into and drops when expired.
-- Runs as maturion_owner after the platform migrations.

------------------------------------------------------------------------------------------------
-- Compression: the JSONB columns are TOASTed with lz4 (faster than pglz at a similar ratio).
-- PostgreSQL 15 records the setting on the parent for future partitions but does not pass it
-- down to existing ones, so the default partitions are set too. Values already stored keep
-- their compression until rewritten.
------------------------------------------------------------------------------------------------

ALTER TABLE audit_log ALTER COLUMN changes SET COMPRESSION lz4;
ALTER TABLE audit_log_default ALTER COLUMN changes SET COMPRESSION lz4;
ALTER TABLE event_log ALTER COLUMN payload SET COMPRESSION lz4;
ALTER TABLE event_log_default ALTER COLUMN payload SET COMPRESSION lz4;

------------------------------------------------------------------------------------------------
-- Partitions are reached only through their parent, where RLS applies (a partition is a
-- table of its own for privileges and RLS). Every partition has no grant at all, and RLS
-- enabled without a policy, so even a grant given by mistake shows no row. The owner (the
-- maintenance job) is not subject to it: RLS is enabled, not forced.
-- Indexes: the platform already has what the logs need on every partition: BRIN on
-- "timestamp", and btrees leading with (organisation_id, "timestamp") in the
-- UNIQUE (organisation_id, "timestamp", id) keys; nothing is added here.
------------------------------------------------------------------------------------------------

REVOKE ALL ON audit_log_default FROM PUBLIC, maturion_app, maturion_readonly, maturion_maintenance;
REVOKE ALL ON event_log_default FROM PUBLIC, maturion_app, maturion_readonly, maturion_maintenance;
ALTER TABLE audit_log_default ENABLE ROW LEVEL SECURITY;
ALTER TABLE event_log_default ENABLE ROW LEVEL SECURITY;

------------------------------------------------------------------------------------------------
-- Rollups (continuous aggregates, natively): hourly and daily counts per organisation, kept
-- exact by the maintenance job, which recomputes only the hours named in the invalidation log.
-- They outlive the logs' retention: daily buckets are kept when partitions are dropped, hourly
-- buckets follow the log's retention.
------------------------------------------------------------------------------------------------

-- Which (log, organisation, hour) buckets got rows since the last refresh. Written by a
-- statement trigger in the writer's transaction, so an entry exists if and only if its rows
-- committed: a transaction that commits after a refresh started leaves its entry for the next
-- one. No index and no unique key: writers never wait on each other here (an ON CONFLICT on
-- a shared key would serialise them); the refresh claims all entries with one DELETE.
CREATE TABLE maturion.rollup_invalidations (
  log TEXT NOT NULL CHECK (log IN ('audit_log', 'event_log')),
  organisation_id UUID NOT NULL,
  hour TIMESTAMPTZ NOT NULL
);
COMMENT ON TABLE maturion.rollup_invalidations IS '@internal Platform machinery, not tenant data: hours of audit_log/event_log whose rollups must be recomputed. Written only by maturion.invalidate_rollups(), consumed by the maintenance job.';
COMMENT ON COLUMN maturion.rollup_invalidations.log IS 'Which log changed: audit_log or event_log.';
COMMENT ON COLUMN maturion.rollup_invalidations.organisation_id IS 'Organisation whose rows changed (no FK: this is a work queue, not tenant data).';
COMMENT ON COLUMN maturion.rollup_invalidations.hour IS 'Start of the UTC hour that changed.';
REVOKE ALL ON maturion.rollup_invalidations FROM PUBLIC;
GRANT SELECT, DELETE ON maturion.rollup_invalidations TO maturion_maintenance;

-- SECURITY DEFINER: the writer (maturion_app) has no privilege on the invalidation log.
-- UTC hours, whatever the session's TimeZone.
CREATE FUNCTION maturion.invalidate_rollups() RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  INSERT INTO maturion.rollup_invalidations (log, organisation_id, hour)
  SELECT DISTINCT TG_TABLE_NAME, changed.organisation_id, date_trunc('hour', changed."timestamp", 'UTC')
  FROM changed_rows AS changed;
  RETURN NULL;
END
$$;
COMMENT ON FUNCTION maturion.invalidate_rollups() IS 'Statement trigger on audit_log/event_log (transition table changed_rows): records the hours whose rollups are stale.';
REVOKE EXECUTE ON FUNCTION maturion.invalidate_rollups() FROM PUBLIC;

-- Statement level with a transition table: one INSERT per statement, however many rows.
-- Only the parents have them, so rows moved between partitions by maintenance (which change
-- no count) fire nothing. UPDATE is not watched: the rollup keys (organisation, timestamp,
-- module, action, event type) are never updated (audit_log is immutable; the application may
-- update only event_log.processed_at).
CREATE TRIGGER invalidate_rollups_on_insert AFTER INSERT ON audit_log
  REFERENCING NEW TABLE AS changed_rows
  FOR EACH STATEMENT EXECUTE FUNCTION maturion.invalidate_rollups();
CREATE TRIGGER invalidate_rollups_on_delete AFTER DELETE ON audit_log
  REFERENCING OLD TABLE AS changed_rows
  FOR EACH STATEMENT EXECUTE FUNCTION maturion.invalidate_rollups();
CREATE TRIGGER invalidate_rollups_on_insert AFTER INSERT ON event_log
  REFERENCING NEW TABLE AS changed_rows
  FOR EACH STATEMENT EXECUTE FUNCTION maturion.invalidate_rollups();
CREATE TRIGGER invalidate_rollups_on_delete AFTER DELETE ON event_log
  REFERENCING OLD TABLE AS changed_rows
  FOR EACH STATEMENT EXECUTE FUNCTION maturion.invalidate_rollups();

-- Rows already in the logs: their hours are stale from the start. The owner is subject to
-- the parents' forced RLS, so the partitions (which have no policy applying to their owner)
-- are read directly.
DO $backfill$
DECLARE
  part RECORD;
BEGIN
  FOR part IN
    SELECT p.relname AS parent, c.oid::regclass AS partition
    FROM pg_inherits i
    JOIN pg_class p ON p.oid = i.inhparent
    JOIN pg_class c ON c.oid = i.inhrelid
    WHERE i.inhparent IN ('public.audit_log'::regclass, 'public.event_log'::regclass)
  LOOP
    EXECUTE format(
      'INSERT INTO maturion.rollup_invalidations (log, organisation_id, hour) '
      'SELECT DISTINCT %L, organisation_id, date_trunc(''hour'', "timestamp", ''UTC'') FROM %s',
      part.parent, part.partition);
  END LOOP;
END
$backfill$;

-- The four rollup tables are tenant tables (RLS, fail-closed policy) that the application
-- only reads; only the maintenance job (BYPASSRLS) writes them. A bucket is the start of a
-- UTC hour or day.
CREATE TABLE audit_log_hourly (
  id UUID NOT NULL DEFAULT generate_uuidv7(),
  organisation_id UUID NOT NULL REFERENCES organisations(id),
  bucket TIMESTAMPTZ NOT NULL,
  module TEXT NOT NULL,
  action TEXT NOT NULL,
  entries BIGINT NOT NULL CHECK (entries > 0),
  created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  refreshed_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  CONSTRAINT audit_log_hourly_pkey PRIMARY KEY (organisation_id, id),
  CONSTRAINT audit_log_hourly_bucket_key UNIQUE (organisation_id, bucket, module, action)
);
COMMENT ON TABLE audit_log_hourly IS '@append-only @rollup Audit entries per organisation, UTC hour, module and action; derived from audit_log by the maintenance job, read-only for the application.';
COMMENT ON COLUMN audit_log_hourly.id IS 'Row id (UUIDv7).';
COMMENT ON COLUMN audit_log_hourly.organisation_id IS 'Tenant key.';
COMMENT ON COLUMN audit_log_hourly.bucket IS 'Start of the UTC hour counted.';
COMMENT ON COLUMN audit_log_hourly.module IS 'audit_log.module.';
COMMENT ON COLUMN audit_log_hourly.action IS 'audit_log.action.';
COMMENT ON COLUMN audit_log_hourly.entries IS 'Number of audit_log rows in the bucket.';
COMMENT ON COLUMN audit_log_hourly.created_at IS 'When the bucket was first counted.';
COMMENT ON COLUMN audit_log_hourly.refreshed_at IS 'When the count last changed.';

CREATE TABLE audit_log_daily (
  id UUID NOT NULL DEFAULT generate_uuidv7(),
  organisation_id UUID NOT NULL REFERENCES organisations(id),
  bucket TIMESTAMPTZ NOT NULL,
  module TEXT NOT NULL,
  action TEXT NOT NULL,
  entries BIGINT NOT NULL CHECK (entries > 0),
  created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  refreshed_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  CONSTRAINT audit_log_daily_pkey PRIMARY KEY (organisation_id, id),
  CONSTRAINT audit_log_daily_bucket_key UNIQUE (organisation_id, bucket, module, action)
);
COMMENT ON TABLE audit_log_daily IS '@append-only @rollup Audit entries per organisation, UTC day, module and action; derived from audit_log_hourly by the maintenance job, read-only for the application.';
COMMENT ON COLUMN audit_log_daily.id IS 'Row id (UUIDv7).';
COMMENT ON COLUMN audit_log_daily.organisation_id IS 'Tenant key.';
COMMENT ON COLUMN audit_log_daily.bucket IS 'Start of the UTC day counted.';
COMMENT ON COLUMN audit_log_daily.module IS 'audit_log.module.';
COMMENT ON COLUMN audit_log_daily.action IS 'audit_log.action.';
COMMENT ON COLUMN audit_log_daily.entries IS 'Number of audit_log rows in the bucket.';
COMMENT ON COLUMN audit_log_daily.created_at IS 'When the bucket was first counted.';
COMMENT ON COLUMN audit_log_daily.refreshed_at IS 'When the count last changed.';

CREATE TABLE event_log_hourly (
  id UUID NOT NULL DEFAULT generate_uuidv7(),
  organisation_id UUID NOT NULL REFERENCES organisations(id),
  bucket TIMESTAMPTZ NOT NULL,
  event_type TEXT NOT NULL,
  events BIGINT NOT NULL CHECK (events > 0),
  created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  refreshed_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  CONSTRAINT event_log_hourly_pkey PRIMARY KEY (organisation_id, id),
  CONSTRAINT event_log_hourly_bucket_key UNIQUE (organisation_id, bucket, event_type)
);
COMMENT ON TABLE event_log_hourly IS '@append-only @rollup Events per organisation, UTC hour and event type; derived from event_log by the maintenance job, read-only for the application.';
COMMENT ON COLUMN event_log_hourly.id IS 'Row id (UUIDv7).';
COMMENT ON COLUMN event_log_hourly.organisation_id IS 'Tenant key.';
COMMENT ON COLUMN event_log_hourly.bucket IS 'Start of the UTC hour counted.';
COMMENT ON COLUMN event_log_hourly.event_type IS 'event_log.event_type.';
COMMENT ON COLUMN event_log_hourly.events IS 'Number of event_log rows in the bucket.';
COMMENT ON COLUMN event_log_hourly.created_at IS 'When the bucket was first counted.';
COMMENT ON COLUMN event_log_hourly.refreshed_at IS 'When the count last changed.';

CREATE TABLE event_log_daily (
  id UUID NOT NULL DEFAULT generate_uuidv7(),
  organisation_id UUID NOT NULL REFERENCES organisations(id),
  bucket TIMESTAMPTZ NOT NULL,
  event_type TEXT NOT NULL,
  events BIGINT NOT NULL CHECK (events > 0),
  created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  refreshed_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  CONSTRAINT event_log_daily_pkey PRIMARY KEY (organisation_id, id),
  CONSTRAINT event_log_daily_bucket_key UNIQUE (organisation_id, bucket, event_type)
);
COMMENT ON TABLE event_log_daily IS '@append-only @rollup Events per organisation, UTC day and event type; derived from event_log_hourly by the maintenance job, read-only for the application.';
COMMENT ON COLUMN event_log_daily.id IS 'Row id (UUIDv7).';
COMMENT ON COLUMN event_log_daily.organisation_id IS 'Tenant key.';
COMMENT ON COLUMN event_log_daily.bucket IS 'Start of the UTC day counted.';
COMMENT ON COLUMN event_log_daily.event_type IS 'event_log.event_type.';
COMMENT ON COLUMN event_log_daily.events IS 'Number of event_log rows in the bucket.';
COMMENT ON COLUMN event_log_daily.created_at IS 'When the bucket was first counted.';
COMMENT ON COLUMN event_log_daily.refreshed_at IS 'When the count last changed.';

-- Hourly buckets past the log's retention are pruned by bucket, across organisations.
CREATE INDEX idx_audit_log_hourly_bucket ON audit_log_hourly (bucket);
CREATE INDEX idx_event_log_hourly_bucket ON event_log_hourly (bucket);

SELECT maturion.enable_tenant_isolation('audit_log_hourly', audit_fields => false);
SELECT maturion.enable_tenant_isolation('audit_log_daily', audit_fields => false);
SELECT maturion.enable_tenant_isolation('event_log_hourly', audit_fields => false);
SELECT maturion.enable_tenant_isolation('event_log_daily', audit_fields => false);
-- Read-only for the application; the maintenance role keeps what enable_tenant_isolation gave.
REVOKE INSERT, UPDATE ON audit_log_hourly, audit_log_daily, event_log_hourly, event_log_daily FROM maturion_app;
