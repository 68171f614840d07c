-- 3.3.0 down: create_organisation grants nothing again (as in 3.0.0); grants already made stay.

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
  SELECT i.token_id, i.token, i.expires_at INTO token_id, token, expires_at
  FROM maturion.issue_token(organisation_id, user_id, expires_in) i;
  PERFORM set_config('maturion.binding', '', true);
  PERFORM set_config('app.ip_address', '', true);
  PERFORM set_config('app.user_agent', '', true);
END
$$;
COMMENT ON FUNCTION maturion.create_organisation(text, text, text, interval, inet, text) IS 'Creates an organisation, its first administrator and an API token for them (shown once); for the maintenance side.';

DROP FUNCTION maturion.admin_revoke_token(uuid);
DROP FUNCTION maturion.admin_list_tokens();
DROP FUNCTION maturion.admin_create_token(uuid, interval);
DROP FUNCTION maturion.administered_organisation();
