-- maturion:destructive drops the maintenance scope's insert trigger on audit_log (see 1.)
--
-- 2.0.0: what an audited write costs beyond the audit row itself, cut down; and batched
-- `viewed` entries.
--
-- 1. audit_log's rollups follow its transaction ids (maintenance 1.1.0) instead of the
--    statement trigger invalidate_rollups_on_insert, which cost every audited statement a
--    transition table, a SECURITY DEFINER call and an INSERT. Every row of audit_log carries
--    the id of the transaction that wrote it (1.0.0), indexed by BRIN. This is the breaking
--    part: nothing records invalidations for inserted audit rows any more; a maintenance job
--    older than maintenance 1.1.0 would stop refreshing them. Deletes keep their trigger.
-- 2. The tenant-context guard on audit_log runs only for statements the session itself sends
--    (pg_trigger_depth() = 0): the audit trigger writes from inside a statement on a tenant
--    table whose own guard already ran, and record_view(s) checks the context itself.
-- 3. The sealer's horizon is the maintenance scope's finished_transactions_horizon(): one
--    definition of "every transaction below this id has ended".
-- 4. record_views: one call writes the viewed entries of a whole list.
-- 5. audit_log has no foreign keys any more (platform 2.0.0: the trail outlives the users and
--    organisations it names), so its writers check the actor themselves.

-- The hours of audit_log that got rows from the transactions in [from, to), through the BRIN
-- index on transaction_id. Run by the maintenance job (BYPASSRLS), which reads every tenant.
CREATE FUNCTION maturion.audit_log_changed_hours(from_transaction bigint, to_transaction bigint)
RETURNS TABLE (organisation_id uuid, hour timestamptz)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT DISTINCT a.organisation_id, date_trunc('hour', a."timestamp", 'UTC')
  FROM public.audit_log a
  WHERE a.transaction_id >= from_transaction AND a.transaction_id < to_transaction
$$;
COMMENT ON FUNCTION maturion.audit_log_changed_hours(bigint, bigint) IS 'UTC hours of audit_log, per organisation, that got rows from the transactions in [from, to): how the rollup refresh follows audit_log.';
REVOKE EXECUTE ON FUNCTION maturion.audit_log_changed_hours(bigint, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION maturion.audit_log_changed_hours(bigint, bigint) TO maturion_maintenance;

DROP TRIGGER invalidate_rollups_on_insert ON audit_log;
-- Rows of transactions below the oldest one running now were recorded by the trigger; the
-- refresh finds every later one by its transaction id.
INSERT INTO maturion.rollup_watermarks (log, transaction_id, changed_hours)
VALUES ('audit_log', pg_snapshot_xmin(pg_current_snapshot())::text::bigint,
        'maturion.audit_log_changed_hours');

CREATE OR REPLACE FUNCTION maturion.audit_trail() RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
  new_row jsonb;
  old_row jsonb;
  organisation uuid;
  actor uuid := nullif(pg_catalog.current_setting('app.current_user_id', true), '')::uuid;
  -- Read here, not in the INSERT: a plpgsql assignment is a cached simple expression, while
  -- every function in the INSERT would be looked up and permission-checked on each execution.
  client_address inet := nullif(pg_catalog.current_setting('app.ip_address', true), '')::inet;
  client_agent text := nullif(pg_catalog.current_setting('app.user_agent', true), '');
  action text;
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

  -- The actor must be a user of the row's organisation: audit_log has no foreign keys (the
  -- trail outlives its users), so this is what keeps an audit row from naming another
  -- tenant's user. A new organisation has no user yet when it is created, so on the tenant
  -- root an actor who does not belong is left out instead.
  IF actor IS NOT NULL
     AND NOT EXISTS (SELECT FROM public.users u WHERE u.organisation_id = organisation AND u.id = actor) THEN
    IF TG_ARGV[1] = 'id' THEN
      actor := NULL;
    ELSE
      RAISE EXCEPTION 'cross-tenant reference refused: the acting user % is not a user of organisation %',
        actor, organisation
        USING ERRCODE = 'MT403';
    END IF;
  END IF;

  IF TG_OP = 'INSERT' THEN
    INSERT INTO public.audit_log
      (organisation_id, user_id, module, entity_type, entity_id, action, changes, ip_address, user_agent)
    VALUES
      (organisation, actor, TG_ARGV[0], TG_ARGV[2], NEW.id, 'created', new_row, client_address, client_agent);
  ELSIF TG_OP = 'UPDATE' THEN
    -- A soft delete (deleted_at set) is a deletion; a restore (deleted_at cleared) is an update
    -- whose changes show deleted_at going back to null.
    action := CASE WHEN old_row ->> 'deleted_at' IS NULL AND new_row ->> 'deleted_at' IS NOT NULL
                   THEN 'deleted' ELSE 'updated' END;
    -- Only the columns that changed, as {"column": {"old": …, "new": …}}, computed in the
    -- INSERT itself (one statement, not two); no row when no column changed.
    INSERT INTO public.audit_log
      (organisation_id, user_id, module, entity_type, entity_id, action, changes, ip_address, user_agent)
    SELECT organisation, actor, TG_ARGV[0], TG_ARGV[2], NEW.id, action, diff.changes, client_address, client_agent
    FROM (SELECT pg_catalog.jsonb_object_agg(
                   n.key, pg_catalog.jsonb_build_object('old', old_row -> n.key, 'new', n.value)) AS changes
          FROM pg_catalog.jsonb_each(new_row) AS n
          WHERE n.value IS DISTINCT FROM old_row -> n.key) AS diff
    WHERE diff.changes IS NOT NULL;
  ELSE
    INSERT INTO public.audit_log
      (organisation_id, user_id, module, entity_type, entity_id, action, changes, ip_address, user_agent)
    VALUES
      (organisation, actor, TG_ARGV[0], TG_ARGV[2], OLD.id, 'deleted', old_row, client_address, client_agent);
  END IF;
  RETURN NULL;
END
$$;

CREATE OR REPLACE TRIGGER require_tenant_context BEFORE INSERT OR UPDATE OR DELETE ON audit_log
  FOR EACH STATEMENT WHEN (pg_trigger_depth() = 0)
  EXECUTE FUNCTION maturion.require_tenant_context();

CREATE OR REPLACE FUNCTION maturion.audit_seal_horizon() RETURNS bigint
LANGUAGE sql
VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT maturion.finished_transactions_horizon()
$$;

-- `viewed` entries for many entities of one type at once (a list or a report), in one INSERT.
-- SECURITY DEFINER because the application cannot insert into audit_log directly; the forced
-- tenant policy still applies to the owner, so the rows can only be the context's.
CREATE FUNCTION maturion.record_views(module text, entity_type text, entity_ids uuid[])
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  context text := nullif(current_setting('app.current_organisation_id', true), '');
  organisation uuid;
  actor uuid := nullif(current_setting('app.current_user_id', true), '')::uuid;
  client_address inet := nullif(current_setting('app.ip_address', true), '')::inet;
  client_agent text := nullif(current_setting('app.user_agent', true), '');
  written bigint;
BEGIN
  IF context IS NULL THEN
    RAISE EXCEPTION 'no tenant context: recording views needs app.current_organisation_id'
      USING ERRCODE = 'MT401',
            HINT = 'Open a tenant transaction; it sets app.current_organisation_id with set_config(..., true).';
  END IF;
  BEGIN
    organisation := context::uuid;
  EXCEPTION WHEN invalid_text_representation THEN
    RAISE EXCEPTION 'malformed tenant context: app.current_organisation_id = % is not a UUID', quote_literal(context)
      USING ERRCODE = 'MT400';
  END;
  IF record_views.module IS NULL OR record_views.module !~ '^[a-z][a-z0-9_]*$' THEN
    RAISE EXCEPTION 'module name % must be lower case letters, digits and _', quote_nullable(record_views.module)
      USING ERRCODE = '22023';
  END IF;
  IF record_views.entity_type IS NULL OR btrim(record_views.entity_type) = ''
     OR record_views.entity_ids IS NULL OR array_position(record_views.entity_ids, NULL) IS NOT NULL THEN
    RAISE EXCEPTION 'recording views needs an entity type and entity ids' USING ERRCODE = '22023';
  END IF;
  -- Once for the whole call what a foreign key would check per row. The forced tenant policy
  -- shows the owner only the context's organisation and its users.
  IF NOT EXISTS (SELECT FROM public.organisations o WHERE o.id = organisation) THEN
    RAISE EXCEPTION 'no organisation % to record views for', organisation USING ERRCODE = 'MT403';
  END IF;
  IF actor IS NOT NULL
     AND NOT EXISTS (SELECT FROM public.users u WHERE u.organisation_id = organisation AND u.id = actor) THEN
    RAISE EXCEPTION 'cross-tenant reference refused: the acting user % is not a user of organisation %',
      actor, organisation
      USING ERRCODE = 'MT403';
  END IF;
  INSERT INTO public.audit_log
    (organisation_id, user_id, module, entity_type, entity_id, action, ip_address, user_agent)
  SELECT organisation, actor, record_views.module, record_views.entity_type, viewed.entity_id, 'viewed',
         client_address, client_agent
  FROM unnest(record_views.entity_ids) AS viewed(entity_id);
  GET DIAGNOSTICS written = ROW_COUNT;
  RETURN written;
END
$$;
COMMENT ON FUNCTION maturion.record_views(text, text, uuid[]) IS 'Writes one viewed entry to audit_log per entity id, for the current tenant context (organisation, user, client address, user agent), in one INSERT; returns the number written.';
REVOKE EXECUTE ON FUNCTION maturion.record_views(text, text, uuid[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION maturion.record_views(text, text, uuid[]) TO maturion_app;

CREATE OR REPLACE FUNCTION maturion.record_view(module text, entity_type text, entity_id uuid)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF record_view.entity_id IS NULL THEN
    RAISE EXCEPTION 'recording a view needs an entity id' USING ERRCODE = '22023';
  END IF;
  PERFORM maturion.record_views(record_view.module, record_view.entity_type, ARRAY[record_view.entity_id]);
END
$$;
