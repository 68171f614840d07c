-- Reverts 3.0.0: the policies and guards trust app.current_organisation_id again, and every
-- API token is gone.
DO $policies$
DECLARE
  policy record;
BEGIN
  FOR policy IN
    SELECT p.polrelid::regclass AS target,
           (regexp_match(pg_get_expr(p.polqual, p.polrelid), '^\((\w+) = '))[1] AS tenant_column
    FROM pg_policy p
    WHERE p.polname = 'tenant_isolation'
      AND pg_get_expr(p.polqual, p.polrelid) LIKE '%maturion.current_organisation_id()%'
  LOOP
    EXECUTE format('ALTER POLICY tenant_isolation ON %s '
                   'USING (%I = (select nullif(current_setting(''app.current_organisation_id'', true), '''')::uuid)) '
                   'WITH CHECK (%I = (select nullif(current_setting(''app.current_organisation_id'', true), '''')::uuid))',
                   policy.target, policy.tenant_column, policy.tenant_column);
  END LOOP;
END
$policies$;

CREATE OR REPLACE FUNCTION maturion.require_tenant_context() RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
  raw text := nullif(pg_catalog.current_setting('app.current_organisation_id', true), '');
BEGIN
  IF raw IS NULL THEN
    IF (SELECT r.rolbypassrls FROM pg_catalog.pg_roles r WHERE r.rolname = current_user) THEN
      RETURN NULL;
    END IF;
    RAISE EXCEPTION 'no tenant context: % on % needs app.current_organisation_id', TG_OP, TG_TABLE_NAME
      USING ERRCODE = 'MT401',
            HINT = 'Open a tenant transaction; it sets app.current_organisation_id with set_config(..., true).';
  END IF;
  IF pg_catalog.translate(raw, '0123456789abcdef', '0000000000000000')
     IS DISTINCT FROM '00000000-0000-0000-0000-000000000000' THEN
    BEGIN
      PERFORM raw::uuid;
    EXCEPTION WHEN invalid_text_representation THEN
      RAISE EXCEPTION 'malformed tenant context: app.current_organisation_id = % is not a UUID', pg_catalog.quote_literal(raw)
        USING ERRCODE = 'MT400';
    END;
  END IF;
  RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION maturion.stamp_audit_fields() RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
  organisation uuid := nullif(pg_catalog.current_setting('app.current_organisation_id', true), '')::uuid;
  actor uuid := nullif(pg_catalog.current_setting('app.current_user_id', true), '')::uuid;
BEGIN
  IF organisation IS NOT NULL AND NEW.organisation_id IS DISTINCT FROM organisation THEN
    RAISE EXCEPTION 'cross-tenant write refused: the row names organisation % but the tenant context is %',
      NEW.organisation_id, organisation
      USING ERRCODE = 'MT403';
  END IF;
  IF TG_OP = 'INSERT' THEN
    NEW.created_at := now();
    NEW.created_by := coalesce(NEW.created_by, actor);
    NEW.updated_at := NEW.created_at;
    NEW.updated_by := coalesce(NEW.updated_by, NEW.created_by);
    IF NEW.deleted_at IS NOT NULL THEN
      NEW.deleted_by := coalesce(NEW.deleted_by, actor);
    END IF;
  ELSE
    IF NEW.organisation_id IS DISTINCT FROM OLD.organisation_id THEN
      RAISE EXCEPTION 'organisation_id of a row cannot change (% to %)', OLD.organisation_id, NEW.organisation_id
        USING ERRCODE = 'MT403';
    END IF;
    NEW.created_at := OLD.created_at;
    NEW.created_by := OLD.created_by;
    NEW.updated_at := now();
    NEW.updated_by := coalesce(actor, NEW.updated_by);
    IF NEW.deleted_at IS NOT NULL AND OLD.deleted_at IS NULL THEN
      NEW.deleted_by := coalesce(actor, NEW.deleted_by);
    ELSIF NEW.deleted_at IS NULL THEN
      NEW.deleted_by := NULL;
    END IF;
  END IF;
  RETURN NEW;
END
$$;

DO $only_without_the_audit_set$
BEGIN
  IF to_regprocedure('maturion.enable_tenant_isolation(regclass, text, boolean, boolean)') IS NOT NULL THEN
    RETURN;
  END IF;
CREATE OR REPLACE FUNCTION maturion.enable_tenant_isolation(target regclass, audit_fields boolean DEFAULT true)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $function$
BEGIN
  EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', target);
  EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', target);
  EXECUTE format(
    'CREATE POLICY tenant_isolation ON %s '
    'USING (organisation_id = (select nullif(current_setting(''app.current_organisation_id'', true), '''')::uuid)) '
    'WITH CHECK (organisation_id = (select nullif(current_setting(''app.current_organisation_id'', true), '''')::uuid))',
    target);
  EXECUTE format(
    'CREATE TRIGGER require_tenant_context BEFORE INSERT OR UPDATE OR DELETE ON %s '
    'FOR EACH STATEMENT EXECUTE FUNCTION maturion.require_tenant_context()', target);
  IF audit_fields THEN
    EXECUTE format(
      'CREATE TRIGGER stamp_audit_fields BEFORE INSERT OR UPDATE ON %s '
      'FOR EACH ROW EXECUTE FUNCTION maturion.stamp_audit_fields()', target);
  END IF;
  -- No DELETE for the application: deletes are soft (§3.5); hard deletes are maintenance jobs.
  EXECUTE format('GRANT SELECT, INSERT, UPDATE ON %s TO maturion_app', target);
  EXECUTE format('GRANT SELECT ON %s TO maturion_readonly', target);
  EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %s TO maturion_maintenance', target);
END
$function$;
END
$only_without_the_audit_set$;

DROP FUNCTION maturion.bind_tenant_policies();
DROP TRIGGER revoke_api_tokens ON public.organisations;
DROP TRIGGER revoke_api_tokens ON public.users;
DROP FUNCTION maturion.revoke_api_tokens();
DROP FUNCTION maturion.record_token_use(uuid, timestamptz);
DROP FUNCTION maturion.revoke_token(uuid);
DROP FUNCTION maturion.create_token(uuid, interval);
DROP FUNCTION maturion.create_organisation(text, text, text, interval, inet, text);
DROP FUNCTION maturion.issue_token(uuid, uuid, interval);
DROP FUNCTION maturion.service_binding(uuid, integer, timestamptz);
DROP FUNCTION maturion.bind_tenant(text);
DROP FUNCTION maturion.current_user_id();
DROP FUNCTION maturion.current_organisation_id();
DROP FUNCTION maturion.current_binding();
DROP FUNCTION maturion.binding_mac(text, integer, timestamptz);
DROP TABLE maturion.api_tokens;
DROP TABLE maturion.binding_key;
DROP EXTENSION pgcrypto;
DROP SCHEMA maturion_crypto;
