-- 3.2.0: every tenant write is attributed to the actor the binding proves, and only to it.
--
-- Until now the stamps took created_by/updated_by/deleted_by from the client when it gave
-- them (coalesce(NEW.created_by, actor)), so a row could name another user than the one the
-- audit trail named. From this version on the stamps are the bound user, whatever the client
-- wrote: on INSERT created_by = updated_by = the actor (and deleted_by when the row is born
-- deleted); on UPDATE created_by stays, updated_by is the actor, deleted_by is the actor when
-- the row becomes deleted, stays when it was already deleted and is cleared on a restore.
--
-- The platform service (a service binding, or the maintenance side acting without a binding)
-- is no user: its stamps are NULL, and the audit trail names it with the reserved id below
-- (maturion.platform_service_id()). So the service can update and delete tenant rows but
-- cannot insert into a table whose created_by is NOT NULL (every platform table): there is no
-- user to name. The reserved id can never be a user's.

CREATE FUNCTION maturion.platform_service_id() RETURNS uuid
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT 'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid $$;
COMMENT ON FUNCTION maturion.platform_service_id() IS 'The reserved actor id (the max UUID) that audit_log.user_id holds when the platform service acted (a service binding, or the maintenance side without one); never a user''s id. Filter service actions with user_id = maturion.platform_service_id(). @app-callable @readonly-callable';
REVOKE EXECUTE ON FUNCTION maturion.platform_service_id() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION maturion.platform_service_id() TO maturion_app, maturion_readonly, maturion_maintenance;

-- No user may take the service's id: a user with it would act as the service in the trail.
ALTER TABLE public.users ADD CONSTRAINT users_id_is_not_the_platform_service
  CHECK (id <> 'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid) NOT VALID;
ALTER TABLE public.users VALIDATE CONSTRAINT users_id_is_not_the_platform_service;

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
  -- actor is NULL for the platform service; the client's values are never kept.
  IF TG_OP = 'INSERT' THEN
    NEW.created_at := now();
    NEW.created_by := actor;
    NEW.updated_at := NEW.created_at;
    NEW.updated_by := actor;
    NEW.deleted_by := CASE WHEN NEW.deleted_at IS NOT NULL THEN actor END;
  ELSE
    IF NEW.organisation_id IS DISTINCT FROM OLD.organisation_id THEN
      RAISE EXCEPTION 'organisation_id of a row cannot change (% to %)', OLD.organisation_id, NEW.organisation_id
        USING ERRCODE = 'MT403';
    END IF;
    NEW.created_at := OLD.created_at;
    NEW.created_by := OLD.created_by;
    NEW.updated_at := now();
    NEW.updated_by := actor;
    NEW.deleted_by := CASE WHEN NEW.deleted_at IS NULL THEN NULL
                           WHEN OLD.deleted_at IS NULL THEN actor
                           ELSE OLD.deleted_by END;
  END IF;
  RETURN NEW;
END
$$;
COMMENT ON FUNCTION maturion.stamp_audit_fields() IS 'Row trigger: sets created_*/updated_*/deleted_* from the bound user only (NULL for the platform service), whatever the client wrote, and refuses writes for another organisation than the bound one.';
