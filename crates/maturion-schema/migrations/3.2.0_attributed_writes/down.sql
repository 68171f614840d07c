-- Reverts 3.2.0: the stamps keep the client's created_by/updated_by/deleted_by again (3.0.0),
-- and the service's reserved id is no longer reserved.

CREATE OR REPLACE FUNCTION maturion.stamp_audit_fields() RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
  organisation uuid;
  actor uuid;
BEGIN
  SELECT b.organisation_id, b.user_id INTO organisation, actor FROM maturion.current_binding() b;
  IF organisation IS NOT NULL AND NEW.organisation_id IS DISTINCT FROM organisation THEN
    RAISE EXCEPTION 'cross-tenant write refused: the row names organisation % but the transaction is bound to %',
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
COMMENT ON FUNCTION maturion.stamp_audit_fields() IS 'Row trigger: sets created_*/updated_*/deleted_by from the bound user and refuses writes for another organisation than the bound one.';

ALTER TABLE public.users DROP CONSTRAINT users_id_is_not_the_platform_service;
DROP FUNCTION maturion.platform_service_id();
