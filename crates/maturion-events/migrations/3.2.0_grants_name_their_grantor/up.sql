-- 3.2.0: a grant that becomes active (granted, revived, moved to another key) without a
-- grantor of the writer's choosing is the bound user's, at this moment. Since 3.1.0 a bound
-- user may grant only in their own name (publish_permission_change refuses another grantor);
-- leaving granted_by out, or as it was, now names them, as updated_by names the writer,
-- instead of being refused. Writers without a user binding (the platform service,
-- operators) keep what they wrote.
CREATE FUNCTION maturion.stamp_grantor() RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
  grantor uuid;
BEGIN
  IF NEW.deleted_at IS NOT NULL
     OR (TG_OP = 'UPDATE' AND OLD.deleted_at IS NULL
         AND (OLD.user_id, OLD.module, OLD.permission) IS NOT DISTINCT FROM (NEW.user_id, NEW.module, NEW.permission))
     OR (NEW.granted_by IS NOT NULL AND (TG_OP = 'INSERT' OR NEW.granted_by IS DISTINCT FROM OLD.granted_by)) THEN
    RETURN NEW;
  END IF;
  grantor := maturion.current_user_id();
  IF grantor IS NOT NULL THEN
    NEW.granted_by := grantor;
    NEW.granted_at := pg_catalog.now();
  END IF;
  RETURN NEW;
END
$$;
COMMENT ON FUNCTION maturion.stamp_grantor() IS
  'Row trigger on user_permissions: a grant that becomes active without a grantor of the writer''s choosing names the bound user.';
REVOKE EXECUTE ON FUNCTION maturion.stamp_grantor() FROM PUBLIC;
CREATE TRIGGER stamp_grantor BEFORE INSERT OR UPDATE ON public.user_permissions
  FOR EACH ROW EXECUTE FUNCTION maturion.stamp_grantor();
