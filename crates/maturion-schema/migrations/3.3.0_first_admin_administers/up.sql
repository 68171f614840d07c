-- 3.3.0: an organisation's administrator manages it through the HTTP API.
--
-- The HTTP API decides every request by user_permissions (module, permission), with read <
-- write < admin and nothing unless granted. The organisation's administrator is `admin` on
-- `platform`: an active user whose role is `admin` (the first user create_organisation makes
-- is one), or a user granted `platform` `admin`. The administrator manages users, permissions
-- and the organisation's API tokens: the admin_*_token functions below, callable by the
-- application role, check it themselves.

------------------------------------------------------------------------------------------------
-- Tokens, managed by the organisation's administrator through the API (/v1/tokens)
------------------------------------------------------------------------------------------------

-- The bound organisation when the bound user is its administrator (an active user of role
-- admin, or a live `platform` `admin` grant); refuses
-- (42501) otherwise. The HTTP API checks the same before calling; this keeps a runtime-role
-- session that runs SQL of its own from minting tokens without being the administrator.
CREATE FUNCTION maturion.administered_organisation() RETURNS uuid
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  organisation uuid;
BEGIN
  SELECT b.organisation_id INTO organisation
  FROM maturion.current_binding() b
  WHERE b.user_id IS NOT NULL
    AND (EXISTS (SELECT FROM public.users u
                 WHERE u.organisation_id = b.organisation_id AND u.id = b.user_id
                   AND u.role = 'admin' AND u.is_active AND u.deleted_at IS NULL)
         OR EXISTS (SELECT FROM public.user_permissions p
                    WHERE p.organisation_id = b.organisation_id AND p.user_id = b.user_id
                      AND p.module = 'platform' AND p.permission = 'admin' AND p.deleted_at IS NULL));
  IF organisation IS NULL THEN
    RAISE EXCEPTION 'only the organisation''s administrator (platform admin) manages tokens'
      USING ERRCODE = '42501';
  END IF;
  RETURN organisation;
END
$$;
COMMENT ON FUNCTION maturion.administered_organisation() IS 'The bound organisation if the bound user is its administrator (platform admin); refuses otherwise. Used by the admin_*_token functions.';
REVOKE EXECUTE ON FUNCTION maturion.administered_organisation() FROM PUBLIC;

-- A token for an active user of the administrator's organisation; the same refusal for a user
-- of another organisation as for one that does not exist.
CREATE FUNCTION maturion.admin_create_token(user_id uuid, expires_in interval DEFAULT interval '90 days',
                                            OUT token_id uuid, OUT token text, OUT expires_at timestamptz)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  organisation uuid := maturion.administered_organisation();
BEGIN
  IF NOT EXISTS (SELECT FROM public.users u
                 WHERE u.organisation_id = organisation AND u.id = admin_create_token.user_id
                   AND u.is_active AND u.deleted_at IS NULL) THEN
    RAISE EXCEPTION 'no active user with this id in the organisation' USING ERRCODE = '22023';
  END IF;
  SELECT i.token_id, i.token, i.expires_at INTO token_id, token, expires_at
  FROM maturion.issue_token(organisation, admin_create_token.user_id, expires_in) i;
END
$$;
COMMENT ON FUNCTION maturion.admin_create_token(uuid, interval) IS 'Creates an API token (shown once) for an active user of the bound organisation; for its administrator. @app-callable';

-- The organisation's tokens (never their secrets), newest first.
CREATE FUNCTION maturion.admin_list_tokens()
RETURNS TABLE (id uuid, user_id uuid, created_at timestamptz, expires_at timestamptz,
               revoked_at timestamptz, last_used_at timestamptz)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  organisation uuid := maturion.administered_organisation();
BEGIN
  RETURN QUERY
    SELECT t.id, t.user_id, t.created_at, t.expires_at, t.revoked_at, t.last_used_at
    FROM maturion.api_tokens t
    WHERE t.organisation_id = organisation
    ORDER BY t.created_at DESC, t.id DESC;
END
$$;
COMMENT ON FUNCTION maturion.admin_list_tokens() IS 'The API tokens of the bound organisation, without secrets; for its administrator. @app-callable';

-- Revokes one of the organisation's tokens; false for a token of another organisation, as for
-- one that does not exist.
CREATE FUNCTION maturion.admin_revoke_token(token_id uuid) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  organisation uuid := maturion.administered_organisation();
BEGIN
  UPDATE maturion.api_tokens t SET revoked_at = coalesce(t.revoked_at, now())
  WHERE t.id = admin_revoke_token.token_id AND t.organisation_id = organisation;
  RETURN FOUND;
END
$$;
COMMENT ON FUNCTION maturion.admin_revoke_token(uuid) IS 'Revokes an API token of the bound organisation; false when it has no such token. For its administrator. @app-callable';

REVOKE EXECUTE ON FUNCTION
  maturion.admin_create_token(uuid, interval),
  maturion.admin_list_tokens(),
  maturion.admin_revoke_token(uuid)
FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
  maturion.admin_create_token(uuid, interval),
  maturion.admin_list_tokens(),
  maturion.admin_revoke_token(uuid)
TO maturion_app;
