-- Reverts 1.1.0: the 1.0.0 definitions of the write-path functions.

CREATE OR REPLACE FUNCTION public.generate_uuidv7() RETURNS uuid
LANGUAGE plpgsql VOLATILE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  micros bigint := floor(extract(epoch FROM clock_timestamp()) * 1000000)::bigint;
  fraction int := ((micros % 1000) * 4096 / 1000)::int;
  bytes bytea := uuid_send(gen_random_uuid());
BEGIN
  bytes := overlay(bytes PLACING substring(int8send(micros / 1000) FROM 3) FROM 1 FOR 6);
  bytes := set_byte(bytes, 6, 112 | (fraction >> 8));
  bytes := set_byte(bytes, 7, fraction & 255);
  RETURN encode(bytes, 'hex')::uuid;
END
$$;

CREATE OR REPLACE FUNCTION maturion.require_tenant_context() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  raw text := nullif(current_setting('app.current_organisation_id', true), '');
BEGIN
  IF raw IS NULL THEN
    IF (SELECT rolbypassrls FROM pg_roles WHERE rolname = current_user) THEN
      RETURN NULL;
    END IF;
    RAISE EXCEPTION 'no tenant context: % on % needs app.current_organisation_id', TG_OP, TG_TABLE_NAME
      USING ERRCODE = 'MT401',
            HINT = 'Open a tenant transaction; it sets app.current_organisation_id with set_config(..., true).';
  END IF;
  BEGIN
    PERFORM raw::uuid;
  EXCEPTION WHEN invalid_text_representation THEN
    RAISE EXCEPTION 'malformed tenant context: app.current_organisation_id = % is not a UUID', quote_literal(raw)
      USING ERRCODE = 'MT400';
  END;
  RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION maturion.stamp_audit_fields() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  organisation uuid := nullif(current_setting('app.current_organisation_id', true), '')::uuid;
  actor uuid := nullif(current_setting('app.current_user_id', true), '')::uuid;
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
