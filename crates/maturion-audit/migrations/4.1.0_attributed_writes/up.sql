-- 4.1.0: every audited write names its actor, and the actor is the binding's.
--
-- * A bound transaction writes rows of its own organisation only (the tenant policies' WITH
--   CHECK, and the stamps): the actor is the bound user, or the platform service's reserved id
--   (maturion.platform_service_id(), platform 3.2.0) under a service binding. The binding
--   itself proves that the user belongs to the organisation (bind_tenant reads a token whose
--   composite key names a user of it; create_organisation binds the first administrator it
--   creates in the same call), so the per-row lookup of the user in users (about 55k
--   instructions a row) is gone. A row of another organisation than the bound one is refused
--   (MT403) instead of being audited, on the tenant root too: a foreign actor is no longer
--   dropped to NULL there. The creation of an organisation names its first administrator.
-- * Without a binding, only a role that bypasses row-level security (the maintenance side:
--   its jobs, erasure, an operator) may write; it is the platform service and the trail says
--   so with the same reserved id. Any other unbound write is refused (MT401): no audit row
--   is anonymous any more.
-- * record_views names the service the same way under a service binding.

CREATE OR REPLACE FUNCTION maturion.audit_trail() RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
  new_row jsonb;
  old_row jsonb;
  organisation uuid;
  bound_organisation uuid;
  actor uuid;
  service boolean;
  -- Read here, not in the INSERT: a plpgsql assignment is a cached simple expression, while
  -- every function in the INSERT would be looked up and permission-checked on each execution.
  client_address inet := nullif(pg_catalog.current_setting('app.ip_address', true), '')::inet;
  client_agent text := nullif(pg_catalog.current_setting('app.user_agent', true), '');
  action text;
BEGIN
  SELECT b.organisation_id, b.user_id, b.service INTO bound_organisation, actor, service
  FROM maturion.current_binding() b;
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

  -- The platform service's id is spelled out: maturion.platform_service_id().
  IF organisation = bound_organisation THEN
    IF service THEN
      actor := 'ffffffff-ffff-ffff-ffff-ffffffffffff';
    END IF;
  ELSIF bound_organisation IS NOT NULL THEN
    RAISE EXCEPTION 'cross-tenant write refused: % on % names organisation % but the transaction is bound to %',
      TG_OP, TG_TABLE_NAME, organisation, bound_organisation
      USING ERRCODE = 'MT403';
  ELSIF (SELECT r.rolbypassrls FROM pg_catalog.pg_roles r WHERE r.rolname = current_user) THEN
    actor := 'ffffffff-ffff-ffff-ffff-ffffffffffff';
  ELSE
    RAISE EXCEPTION 'no actor: % on % needs a transaction bound with maturion.bind_tenant(token)', TG_OP, TG_TABLE_NAME
      USING ERRCODE = 'MT401',
            HINT = 'Every audited write names a user of the organisation or the platform service; an unbound write is neither.';
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
COMMENT ON FUNCTION maturion.audit_trail() IS 'Row trigger audit_trail: one audit_log row per inserted, updated (changed columns only) or deleted row, naming the bound user or the platform service (maturion.platform_service_id()); refuses rows of another organisation than the bound one and unbound writes of roles subject to row-level security. Arguments: module, tenant key column, entity type.';

CREATE OR REPLACE FUNCTION maturion.record_views(module text, entity_type text, entity_ids uuid[])
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  organisation uuid;
  actor uuid;
  service boolean;
  client_address inet := nullif(current_setting('app.ip_address', true), '')::inet;
  client_agent text := nullif(current_setting('app.user_agent', true), '');
  written bigint;
BEGIN
  SELECT b.organisation_id, b.user_id, b.service INTO organisation, actor, service FROM maturion.current_binding() b;
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
  IF service THEN
    actor := 'ffffffff-ffff-ffff-ffff-ffffffffffff';  -- maturion.platform_service_id()
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
