-- Reverts 2.0.0: audit_log's rollups go back to the insert trigger, whose invalidations the
-- rows written meanwhile get now; the guard and the functions get their 1.0.0 definitions.

CREATE TRIGGER invalidate_rollups_on_insert AFTER INSERT ON audit_log
  REFERENCING NEW TABLE AS changed_rows
  FOR EACH STATEMENT EXECUTE FUNCTION maturion.invalidate_rollups();
-- The owner is subject to the parent's forced RLS, so the partitions are read directly.
DO $$
DECLARE
  partition regclass;
  watermark bigint := (SELECT w.transaction_id FROM maturion.rollup_watermarks w WHERE w.log = 'audit_log');
BEGIN
  FOR partition IN SELECT inhrelid FROM pg_inherits WHERE inhparent = 'public.audit_log'::regclass LOOP
    EXECUTE format(
      'INSERT INTO maturion.rollup_invalidations (log, organisation_id, hour) '
      'SELECT DISTINCT ''audit_log'', organisation_id, date_trunc(''hour'', "timestamp", ''UTC'') FROM %s '
      'WHERE transaction_id >= $1', partition)
      USING watermark;
  END LOOP;
END
$$;
DELETE FROM maturion.rollup_watermarks WHERE log = 'audit_log';
DROP FUNCTION maturion.audit_log_changed_hours(bigint, bigint);

CREATE OR REPLACE TRIGGER require_tenant_context BEFORE INSERT OR UPDATE OR DELETE ON audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION maturion.require_tenant_context();

CREATE OR REPLACE FUNCTION maturion.audit_seal_horizon() RETURNS bigint
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

CREATE OR REPLACE FUNCTION maturion.record_view(module text, entity_type text, entity_id uuid)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  organisation text := nullif(current_setting('app.current_organisation_id', true), '');
BEGIN
  IF organisation IS NULL THEN
    RAISE EXCEPTION 'no tenant context: record_view needs app.current_organisation_id'
      USING ERRCODE = 'MT401',
            HINT = 'Open a tenant transaction; it sets app.current_organisation_id with set_config(..., true).';
  END IF;
  IF record_view.module IS NULL OR record_view.module !~ '^[a-z][a-z0-9_]*$' THEN
    RAISE EXCEPTION 'module name % must be lower case letters, digits and _', quote_nullable(record_view.module)
      USING ERRCODE = '22023';
  END IF;
  IF record_view.entity_type IS NULL OR btrim(record_view.entity_type) = '' OR record_view.entity_id IS NULL THEN
    RAISE EXCEPTION 'record_view needs an entity type and an entity id' USING ERRCODE = '22023';
  END IF;
  -- The organisation is cast inside the INSERT so that a malformed context meets the
  -- require_tenant_context statement trigger (MT400) first.
  INSERT INTO public.audit_log
    (organisation_id, user_id, module, entity_type, entity_id, action, ip_address, user_agent)
  VALUES
    (organisation::uuid,
     nullif(current_setting('app.current_user_id', true), '')::uuid,
     record_view.module, record_view.entity_type, record_view.entity_id, 'viewed',
     nullif(current_setting('app.ip_address', true), '')::inet,
     nullif(current_setting('app.user_agent', true), ''));
END
$$;

CREATE OR REPLACE FUNCTION maturion.audit_trail() RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
  new_row jsonb;
  old_row jsonb;
  changed jsonb;
  organisation uuid;
  actor uuid := nullif(pg_catalog.current_setting('app.current_user_id', true), '')::uuid;
BEGIN
  IF TG_OP = 'INSERT' THEN
    new_row := pg_catalog.to_jsonb(NEW);
    organisation := (new_row ->> TG_ARGV[1])::uuid;
  ELSE
    old_row := pg_catalog.to_jsonb(OLD);
    organisation := (old_row ->> TG_ARGV[1])::uuid;
    IF TG_OP = 'UPDATE' THEN
      new_row := pg_catalog.to_jsonb(NEW);
    END IF;
  END IF;

  -- audit_log.user_id references a user of the same organisation. A new organisation has no
  -- user yet when it is created, so on the tenant root the actor is kept only if it belongs.
  IF TG_ARGV[1] = 'id' AND actor IS NOT NULL THEN
    actor := (SELECT u.id FROM public.users u WHERE u.organisation_id = organisation AND u.id = actor);
  END IF;

  IF TG_OP = 'INSERT' THEN
    INSERT INTO public.audit_log
      (organisation_id, user_id, module, entity_type, entity_id, action, changes, ip_address, user_agent)
    VALUES
      (organisation, actor, TG_ARGV[0], TG_ARGV[2], NEW.id, 'created', new_row,
       nullif(pg_catalog.current_setting('app.ip_address', true), '')::inet,
       nullif(pg_catalog.current_setting('app.user_agent', true), ''));
  ELSIF TG_OP = 'UPDATE' THEN
    -- Only the columns that changed, as {"column": {"old": …, "new": …}}; nothing when no
    -- column changed. A soft delete (deleted_at set) is a deletion; a restore (deleted_at
    -- cleared) is an update whose changes show deleted_at going back to null.
    changed := (
      SELECT pg_catalog.jsonb_object_agg(
               n.key, pg_catalog.jsonb_build_object('old', old_row -> n.key, 'new', n.value))
      FROM pg_catalog.jsonb_each(new_row) AS n
      WHERE n.value IS DISTINCT FROM old_row -> n.key);
    IF changed IS NULL THEN
      RETURN NULL;
    END IF;
    INSERT INTO public.audit_log
      (organisation_id, user_id, module, entity_type, entity_id, action, changes, ip_address, user_agent)
    VALUES
      (organisation, actor, TG_ARGV[0], TG_ARGV[2], NEW.id,
       CASE WHEN old_row ->> 'deleted_at' IS NULL AND new_row ->> 'deleted_at' IS NOT NULL
            THEN 'deleted' ELSE 'updated' END,
       changed,
       nullif(pg_catalog.current_setting('app.ip_address', true), '')::inet,
       nullif(pg_catalog.current_setting('app.user_agent', true), ''));
  ELSE
    INSERT INTO public.audit_log
      (organisation_id, user_id, module, entity_type, entity_id, action, changes, ip_address, user_agent)
    VALUES
      (organisation, actor, TG_ARGV[0], TG_ARGV[2], OLD.id, 'deleted', old_row,
       nullif(pg_catalog.current_setting('app.ip_address', true), '')::inet,
       nullif(pg_catalog.current_setting('app.user_agent', true), ''));
  END IF;
  RETURN NULL;
END
$$;

DROP FUNCTION maturion.record_views(text, text, uuid[]);
