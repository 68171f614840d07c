-- Reverts 4.1.0: the audit trail looks the actor up per row again, drops a foreign actor to NULL
-- on the tenant root and audits unbound writes without an actor (4.0.0).

CREATE OR REPLACE FUNCTION maturion.audit_trail() RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
  new_row jsonb;
  old_row jsonb;
  organisation uuid;
  actor uuid := maturion.current_user_id();
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
COMMENT ON FUNCTION maturion.audit_trail() IS 'Row trigger audit_trail: one audit_log row per inserted, updated (changed columns only) or deleted row. Arguments: module, tenant key column, entity type.';

CREATE OR REPLACE FUNCTION maturion.record_views(module text, entity_type text, entity_ids uuid[])
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  organisation uuid;
  actor uuid;
  client_address inet := nullif(current_setting('app.ip_address', true), '')::inet;
  client_agent text := nullif(current_setting('app.user_agent', true), '');
  written bigint;
BEGIN
  SELECT b.organisation_id, b.user_id INTO organisation, actor FROM maturion.current_binding() b;
  IF organisation IS NULL THEN
    RAISE EXCEPTION 'no tenant binding: recording views needs a transaction bound with maturion.bind_tenant(token)'
      USING ERRCODE = 'MT401',
            HINT = 'Open a tenant transaction; it binds with SELECT maturion.bind_tenant(token).';
  END IF;
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
