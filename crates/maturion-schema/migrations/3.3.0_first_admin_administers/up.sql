-- 3.3.0: an organisation's first user administers it.
--
-- The HTTP API decides every request by user_permissions (module, permission), with read <
-- write < admin and nothing unless granted; `admin` on `platform` is the organisation's
-- administrator, who manages users and permissions and so may do everything. Until now
-- create_organisation granted nothing, so the first user (who has the admin role) could do
-- nothing through the API. It now grants them `platform` `admin`, in the same transaction.
-- Organisations made before this version grant it with
--   POST /v1/user_permissions {"user_id": …, "module": "platform", "permission": "admin"}
-- by someone who holds it, or an operator's INSERT as the maintenance role.

CREATE OR REPLACE FUNCTION maturion.create_organisation(name text, admin_email text, admin_name text,
                                             expires_in interval DEFAULT interval '90 days',
                                             client_address inet DEFAULT NULL, client_agent text DEFAULT NULL,
                                             OUT organisation_id uuid, OUT user_id uuid,
                                             OUT token_id uuid, OUT token text, OUT expires_at timestamptz)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF nullif(current_setting('maturion.binding', true), '') IS NOT NULL THEN
    RAISE EXCEPTION 'create organisations outside tenant transactions' USING ERRCODE = 'MT409';
  END IF;
  organisation_id := public.generate_uuidv7();
  user_id := public.generate_uuidv7();
  PERFORM set_config('maturion.binding', organisation_id || '/' || user_id || '/'
    || maturion.binding_mac(organisation_id || '/' || user_id, pg_backend_pid(), transaction_timestamp()), true);
  PERFORM set_config('app.ip_address', coalesce(client_address::text, ''), true);
  PERFORM set_config('app.user_agent', coalesce(client_agent, ''), true);
  INSERT INTO public.organisations (id, name) VALUES (organisation_id, create_organisation.name);
  INSERT INTO public.users (id, organisation_id, email, full_name, role, created_by)
  VALUES (user_id, organisation_id, admin_email, admin_name, 'admin', user_id);
  INSERT INTO public.user_permissions (organisation_id, user_id, module, permission, granted_by)
  VALUES (organisation_id, user_id, 'platform', 'admin', user_id);
  SELECT i.token_id, i.token, i.expires_at INTO token_id, token, expires_at
  FROM maturion.issue_token(organisation_id, user_id, expires_in) i;
  PERFORM set_config('maturion.binding', '', true);
  PERFORM set_config('app.ip_address', '', true);
  PERFORM set_config('app.user_agent', '', true);
END
$$;
COMMENT ON FUNCTION maturion.create_organisation(text, text, text, interval, inet, text) IS 'Creates an organisation, its first administrator (granted platform admin) and an API token for them (shown once); for the maintenance side.';
