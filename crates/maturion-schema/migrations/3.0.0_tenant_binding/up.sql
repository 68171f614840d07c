-- 3.0.0: a transaction is bound to a tenant only by a credential the database verifies.
--
-- Until now, row-level security, the audit-field stamps and the write guards trusted
-- app.current_organisation_id and app.current_user_id, which any role that runs SQL may set:
-- one SQL injection read and wrote every tenant. From this version on, the runtime roles see
-- and change tenant data only through `SELECT maturion.bind_tenant(token)`, which looks the API
-- token up by its SHA-256 and binds the current transaction to the token's organisation and
-- user. This is the breaking part: a transaction that only sets app.* sees nothing and may
-- write nothing.
--
-- Where the binding lives: a transaction-local setting, maturion.binding, which the runtime
-- roles can write like any other, so it carries its own proof: organisation/user/MAC, the MAC
-- an HMAC-SHA-256 (key in maturion.binding_key, readable by the owner only) over those ids, the
-- backend's pid and the transaction's start in microseconds. A value copied from another
-- transaction or session does not verify in this one (another pid or another start), and a
-- made-up value does not verify at all; what does not verify counts as no binding (reads see
-- nothing, writes are refused). Binding writes nothing, so it works on a hot standby.
-- The policies read the binding through maturion.current_organisation_id(), wrapped in a
-- sub-select so that it runs once per statement.

CREATE SCHEMA maturion_crypto;
COMMENT ON SCHEMA maturion_crypto IS 'pgcrypto, for the platform''s own SECURITY DEFINER functions only: no role but the owner may use it.';
CREATE EXTENSION pgcrypto WITH SCHEMA maturion_crypto;

-- HMAC-SHA-256 with a random 64-byte key (one block), kept as its inner and outer pads (the
-- key XOR 0x36…, XOR 0x5c…) so that a MAC is two calls of the built-in sha256(): pgcrypto's
-- hmac() costs more than the rest of a verification.
CREATE TABLE maturion.binding_key (
  only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
  inner_pad bytea NOT NULL CHECK (octet_length(inner_pad) = 64),
  outer_pad bytea NOT NULL CHECK (octet_length(outer_pad) = 64)
);
COMMENT ON TABLE maturion.binding_key IS '@internal The HMAC key of the tenant bindings (as its inner and outer pads), made at migration time; readable by the owner only.';
COMMENT ON COLUMN maturion.binding_key.only_row IS 'Always true: the table holds one key.';
COMMENT ON COLUMN maturion.binding_key.inner_pad IS 'The HMAC key XOR 0x36 (64 bytes).';
COMMENT ON COLUMN maturion.binding_key.outer_pad IS 'The HMAC key XOR 0x5c (64 bytes).';
WITH key AS (SELECT maturion_crypto.gen_random_bytes(64) AS secret)
INSERT INTO maturion.binding_key (inner_pad, outer_pad)
SELECT string_agg(set_byte('\x00'::bytea, 0, get_byte(secret, i) # 54), '' ORDER BY i),
       string_agg(set_byte('\x00'::bytea, 0, get_byte(secret, i) # 92), '' ORDER BY i)
FROM key, generate_series(0, 63) AS i;

CREATE TABLE maturion.api_tokens (
  id uuid PRIMARY KEY DEFAULT public.generate_uuidv7(),
  organisation_id uuid NOT NULL REFERENCES public.organisations (id) ON DELETE CASCADE,
  user_id uuid NOT NULL,
  secret_hash bytea NOT NULL UNIQUE CHECK (octet_length(secret_hash) = 32),
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  revoked_at timestamptz,
  last_used_at timestamptz,
  CONSTRAINT api_tokens_user_fkey FOREIGN KEY (organisation_id, user_id)
    REFERENCES public.users (organisation_id, id) ON DELETE CASCADE,
  CONSTRAINT api_tokens_expire_after_creation CHECK (expires_at > created_at)
);
COMMENT ON TABLE maturion.api_tokens IS '@internal API tokens: the SHA-256 of each secret (never the secret), for one user of one organisation; read only by the platform''s functions.';
COMMENT ON COLUMN maturion.api_tokens.id IS 'Token id (UUIDv7): what revocation names; not part of the secret.';
COMMENT ON COLUMN maturion.api_tokens.organisation_id IS 'The organisation the token binds to.';
COMMENT ON COLUMN maturion.api_tokens.user_id IS 'The user the token binds to (of that organisation).';
COMMENT ON COLUMN maturion.api_tokens.secret_hash IS 'SHA-256 of the whole token text; the token itself is never stored.';
COMMENT ON COLUMN maturion.api_tokens.created_at IS 'When the token was made.';
COMMENT ON COLUMN maturion.api_tokens.expires_at IS 'After this the token binds nothing.';
COMMENT ON COLUMN maturion.api_tokens.revoked_at IS 'When the token was revoked (by an operator, or with its user or organisation); NULL while valid.';
COMMENT ON COLUMN maturion.api_tokens.last_used_at IS 'Last use as recorded off the binding path (maturion.record_token_use); NULL until then.';
CREATE INDEX idx_api_tokens_user ON maturion.api_tokens (organisation_id, user_id);

------------------------------------------------------------------------------------------------
-- Verifying a binding
------------------------------------------------------------------------------------------------

-- The MAC of a binding's claims ('<organisation>/<user or service>') for one transaction of one
-- session. The two hot readers, current_organisation_id() and bind_tenant(), spell the same
-- formula out (a nested call costs them a third more). Only the owner's functions call it.
CREATE FUNCTION maturion.binding_mac(claims text, backend_pid integer, transaction_start timestamptz)
RETURNS text
LANGUAGE plpgsql STABLE
AS $$
DECLARE
  inner_pad bytea;
  outer_pad bytea;
BEGIN
  SELECT k.inner_pad, k.outer_pad INTO inner_pad, outer_pad FROM maturion.binding_key k;
  RETURN pg_catalog.encode(pg_catalog.sha256(outer_pad || pg_catalog.sha256(inner_pad || pg_catalog.convert_to(
           claims || '/' || backend_pid || '/'
           || (pg_catalog.date_part('epoch', transaction_start) * 1000000)::bigint, 'UTF8'))), 'hex');
END
$$;
REVOKE EXECUTE ON FUNCTION maturion.binding_mac(text, integer, timestamptz) FROM PUBLIC;

-- The binding of this transaction, verified: organisation and user (NULL for the platform's
-- service), or no row when there is none or it does not verify.
CREATE FUNCTION maturion.current_binding(OUT organisation_id uuid, OUT user_id uuid, OUT service boolean)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  binding text := current_setting('maturion.binding', true);
  claims text;
BEGIN
  -- 36 (organisation) + 1 + 7 or 36 (user) + 1 + 64 (MAC): anything else was not made here.
  IF binding IS NULL OR length(binding) NOT IN (109, 138) THEN
    RETURN;
  END IF;
  claims := left(binding, -65);
  IF substr(binding, length(binding) - 64, 1) <> '/' OR right(binding, 64) <> maturion.binding_mac(claims, pg_backend_pid(), transaction_timestamp()) THEN
    RETURN;
  END IF;
  organisation_id := left(claims, 36)::uuid;
  service := substr(claims, 38) = 'service';
  IF NOT service THEN
    user_id := substr(claims, 38)::uuid;
  END IF;
END
$$;
COMMENT ON FUNCTION maturion.current_binding() IS 'The verified tenant binding of this transaction (organisation, user, whether the platform service acts); NULLs when unbound or forged. @app-callable @readonly-callable';

-- What every tenant policy reads, once per statement: the bound organisation, or NULL.
CREATE FUNCTION maturion.current_organisation_id() RETURNS uuid
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  binding text := current_setting('maturion.binding', true);
  inner_pad bytea;
  outer_pad bytea;
BEGIN
  IF binding IS NULL OR length(binding) NOT IN (109, 138) THEN
    RETURN NULL;
  END IF;
  SELECT k.inner_pad, k.outer_pad INTO inner_pad, outer_pad FROM maturion.binding_key k;
  -- maturion.binding_mac(left(binding, -65), pg_backend_pid(), transaction_timestamp())
  IF right(binding, 65) = '/' || encode(sha256(outer_pad || sha256(inner_pad || convert_to(
       left(binding, -65) || '/' || pg_backend_pid() || '/'
       || (date_part('epoch', transaction_timestamp()) * 1000000)::bigint, 'UTF8'))), 'hex') THEN
    RETURN left(binding, 36)::uuid;
  END IF;
  RETURN NULL;
END
$$;
COMMENT ON FUNCTION maturion.current_organisation_id() IS 'The organisation this transaction is bound to (maturion.bind_tenant), verified; NULL when unbound or forged. Policies read it as (SELECT maturion.current_organisation_id()). @app-callable @readonly-callable';

CREATE FUNCTION maturion.current_user_id() RETURNS uuid
LANGUAGE sql STABLE
AS $$ SELECT b.user_id FROM maturion.current_binding() b $$;
COMMENT ON FUNCTION maturion.current_user_id() IS 'The user this transaction is bound to, verified; NULL when unbound, forged or bound for the platform service. @app-callable @readonly-callable';

------------------------------------------------------------------------------------------------
-- Binding
------------------------------------------------------------------------------------------------

-- Binds this transaction to the organisation and user of an API token that is neither expired
-- nor revoked (a user's tokens are revoked when the user is deactivated or removed, and an
-- organisation's when it is closed: see revoke_api_tokens below). Writes nothing (the last
-- use is recorded off this path: maturion.record_token_use). Binding again to the same tenant
-- changes nothing; to another one is refused.
CREATE FUNCTION maturion.bind_tenant(token text, OUT organisation_id uuid, OUT user_id uuid)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  claims text;
  mac text;
  bound text := nullif(current_setting('maturion.binding', true), '');
BEGIN
  -- mt_ and 43 base64url characters (256 bits); nothing else is even hashed.
  IF token IS NULL OR length(token) <> 46 OR left(token, 3) <> 'mt_' THEN
    RAISE EXCEPTION 'invalid API token' USING ERRCODE = 'MT498';
  END IF;
  -- The token and the MAC of its binding in one statement:
  -- maturion.binding_mac(claims, pg_backend_pid(), transaction_timestamp()).
  SELECT t.organisation_id, t.user_id,
         encode(sha256(k.outer_pad || sha256(k.inner_pad || convert_to(
           t.organisation_id || '/' || t.user_id || '/' || pg_backend_pid() || '/'
           || (date_part('epoch', transaction_timestamp()) * 1000000)::bigint, 'UTF8'))), 'hex')
  INTO organisation_id, user_id, mac
  FROM maturion.api_tokens t, maturion.binding_key k
  WHERE t.secret_hash = sha256(convert_to(token, 'UTF8'))
    AND t.revoked_at IS NULL AND t.expires_at > statement_timestamp();
  IF NOT FOUND THEN
    RAISE EXCEPTION 'invalid API token (unknown, expired or revoked)' USING ERRCODE = 'MT498';
  END IF;
  claims := organisation_id || '/' || user_id;
  IF bound IS NOT NULL AND maturion.current_organisation_id() IS NOT NULL THEN
    IF left(bound, -65) = claims THEN
      RETURN;
    END IF;
    RAISE EXCEPTION 'this transaction is already bound to another tenant' USING ERRCODE = 'MT409';
  END IF;
  PERFORM set_config('maturion.binding', claims || '/' || mac, true);
END
$$;
COMMENT ON FUNCTION maturion.bind_tenant(text) IS 'Binds this transaction to the organisation and user of a valid API token; the only way the runtime roles reach tenant data. Writes nothing. @app-callable @readonly-callable';
REVOKE EXECUTE ON FUNCTION maturion.bind_tenant(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION maturion.bind_tenant(text) TO maturion_app, maturion_readonly;

-- The binding the platform's service (event workers) uses in a runtime-role transaction: made
-- by the maintenance side for that transaction (its backend's pid and start), set there with
-- set_config('maturion.binding', …, true). Worthless in any other transaction.
CREATE FUNCTION maturion.service_binding(organisation uuid, backend_pid integer, transaction_start timestamptz)
RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  claims text := organisation || '/service';
BEGIN
  IF organisation IS NULL OR backend_pid IS NULL OR transaction_start IS NULL THEN
    RAISE EXCEPTION 'a service binding needs an organisation, a backend pid and a transaction start'
      USING ERRCODE = '22023';
  END IF;
  RETURN claims || '/' || maturion.binding_mac(claims, backend_pid, transaction_start);
END
$$;
COMMENT ON FUNCTION maturion.service_binding(uuid, integer, timestamptz) IS 'A binding for the platform service acting for one organisation in one given transaction (pid, start) of another session; for the maintenance role only.';
REVOKE EXECUTE ON FUNCTION maturion.service_binding(uuid, integer, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION maturion.service_binding(uuid, integer, timestamptz) TO maturion_maintenance;

REVOKE EXECUTE ON FUNCTION maturion.current_binding(), maturion.current_organisation_id(), maturion.current_user_id() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION maturion.current_binding(), maturion.current_organisation_id(), maturion.current_user_id()
  TO maturion_app, maturion_readonly, maturion_maintenance;

------------------------------------------------------------------------------------------------
-- Tokens and organisations, for the maintenance side (the CLI)
------------------------------------------------------------------------------------------------

-- A new token for a user: 'mt_' and 32 random bytes in base64url, returned once; only its
-- SHA-256 is kept. The issuing session binds to the user's organisation to see the user.
CREATE FUNCTION maturion.issue_token(organisation uuid, actor uuid, expires_in interval,
                                     OUT token_id uuid, OUT token text, OUT expires_at timestamptz)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF expires_in IS NULL OR expires_in <= interval '0' OR expires_in > interval '3650 days' THEN
    RAISE EXCEPTION 'a token expires after more than 0 and at most 3650 days, not %', coalesce(expires_in::text, 'NULL')
      USING ERRCODE = '22023';
  END IF;
  token := 'mt_' || translate(rtrim(encode(maturion_crypto.gen_random_bytes(32), 'base64'), '='), '+/', '-_');
  INSERT INTO maturion.api_tokens (organisation_id, user_id, secret_hash, expires_at)
  VALUES (organisation, actor, sha256(convert_to(token, 'UTF8')), now() + expires_in)
  RETURNING id, api_tokens.expires_at INTO token_id, expires_at;
END
$$;
REVOKE EXECUTE ON FUNCTION maturion.issue_token(uuid, uuid, interval) FROM PUBLIC;

-- An organisation, its first user (an administrator who created their own account) and a
-- token for that user, in the caller's transaction; the audit rows of the creation name the
-- client it came from, when given (a sign-up).
CREATE FUNCTION maturion.create_organisation(name text, admin_email text, admin_name text,
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

-- A new token for an existing, active user. Runs as its caller, the maintenance role, which
-- reads users across organisations (BYPASSRLS); the owner, under the forced policies, could
-- not find the user's organisation.
CREATE FUNCTION maturion.create_token(user_id uuid, expires_in interval DEFAULT interval '90 days',
                                      OUT token_id uuid, OUT token text, OUT expires_at timestamptz)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  organisation uuid;
BEGIN
  SELECT u.organisation_id INTO organisation
  FROM public.users u JOIN public.organisations o ON o.id = u.organisation_id
  WHERE u.id = create_token.user_id AND u.is_active AND u.deleted_at IS NULL AND o.deleted_at IS NULL
  FOR SHARE OF u, o;
  IF organisation IS NULL THEN
    RAISE EXCEPTION 'no active user %', coalesce(create_token.user_id::text, 'NULL') USING ERRCODE = '22023';
  END IF;
  SELECT i.token_id, i.token, i.expires_at INTO token_id, token, expires_at
  FROM maturion.issue_token(organisation, create_token.user_id, expires_in) i;
END
$$;
COMMENT ON FUNCTION maturion.create_token(uuid, interval) IS 'Creates an API token for an active user (shown once); for the maintenance side.';

CREATE FUNCTION maturion.revoke_token(token_id uuid) RETURNS boolean
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  WITH revoked AS (
    UPDATE maturion.api_tokens t SET revoked_at = coalesce(t.revoked_at, now())
    WHERE t.id = revoke_token.token_id
    RETURNING t.id)
  SELECT EXISTS (SELECT FROM revoked)
$$;
COMMENT ON FUNCTION maturion.revoke_token(uuid) IS 'Revokes an API token; false when there is no such token. For the maintenance side.';

-- The last use of a token, recorded off the binding's path (which writes nothing) by whoever
-- saw it used, later; never moves backwards.
CREATE FUNCTION maturion.record_token_use(token_id uuid, used_at timestamptz) RETURNS void
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  UPDATE maturion.api_tokens t SET last_used_at = record_token_use.used_at
  WHERE t.id = record_token_use.token_id AND record_token_use.used_at <= now()
    AND (t.last_used_at IS NULL OR t.last_used_at < record_token_use.used_at)
$$;
COMMENT ON FUNCTION maturion.record_token_use(uuid, timestamptz) IS 'Records when a token was last used, off the binding path; for the maintenance side.';

-- The tokens of a user who is deactivated or removed, and of an organisation that is closed,
-- are revoked with that change, in its transaction: bind_tenant reads api_tokens alone (a check
-- of the user there cost each binding two more evaluations of the tenant policy). Reactivating
-- a user does not bring old tokens back.
CREATE FUNCTION maturion.revoke_api_tokens() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF TG_TABLE_NAME = 'organisations' THEN
    UPDATE maturion.api_tokens t SET revoked_at = now()
    WHERE t.organisation_id = NEW.id AND t.revoked_at IS NULL;
  ELSE
    UPDATE maturion.api_tokens t SET revoked_at = now()
    WHERE t.organisation_id = NEW.organisation_id AND t.user_id = NEW.id AND t.revoked_at IS NULL;
  END IF;
  RETURN NULL;
END
$$;
COMMENT ON FUNCTION maturion.revoke_api_tokens() IS 'Row trigger: revokes the API tokens of a deactivated or removed user, or of a closed organisation.';
REVOKE EXECUTE ON FUNCTION maturion.revoke_api_tokens() FROM PUBLIC;
CREATE TRIGGER revoke_api_tokens AFTER UPDATE OF is_active, deleted_at ON public.users
  FOR EACH ROW WHEN (NEW.is_active IS NOT TRUE OR NEW.deleted_at IS NOT NULL)
  EXECUTE FUNCTION maturion.revoke_api_tokens();
CREATE TRIGGER revoke_api_tokens AFTER UPDATE OF deleted_at ON public.organisations
  FOR EACH ROW WHEN (NEW.deleted_at IS NOT NULL)
  EXECUTE FUNCTION maturion.revoke_api_tokens();

REVOKE EXECUTE ON FUNCTION
  maturion.create_organisation(text, text, text, interval, inet, text),
  maturion.create_token(uuid, interval),
  maturion.revoke_token(uuid),
  maturion.record_token_use(uuid, timestamptz)
FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
  maturion.issue_token(uuid, uuid, interval),
  maturion.create_organisation(text, text, text, interval, inet, text),
  maturion.create_token(uuid, interval),
  maturion.revoke_token(uuid),
  maturion.record_token_use(uuid, timestamptz)
TO maturion_maintenance;

------------------------------------------------------------------------------------------------
-- The guards and the policies read the binding
------------------------------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION maturion.require_tenant_context() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
  IF maturion.current_organisation_id() IS NULL
     AND NOT (SELECT r.rolbypassrls FROM pg_catalog.pg_roles r WHERE r.rolname = current_user) THEN
    RAISE EXCEPTION 'no tenant binding: % on % needs a transaction bound with maturion.bind_tenant(token)', TG_OP, TG_TABLE_NAME
      USING ERRCODE = 'MT401',
            HINT = 'Open a tenant transaction; it binds with SELECT maturion.bind_tenant(token). Settings such as app.current_organisation_id bind nothing.';
  END IF;
  RETURN NULL;
END
$$;
COMMENT ON FUNCTION maturion.require_tenant_context() IS 'Statement trigger: refuses writes in a transaction without a verified tenant binding, except for BYPASSRLS maintenance roles.';

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

-- Every tenant policy still in the setting form gets the binding form, on the same column:
-- `<column> = (SELECT maturion.current_organisation_id())`. Later migration sets whose
-- tables were made with an older enable_tenant_isolation call it again.
CREATE FUNCTION maturion.bind_tenant_policies() RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  policy record;
  rewritten integer := 0;
BEGIN
  FOR policy IN
    SELECT p.polrelid::regclass AS target, p.polname,
           (regexp_match(pg_get_expr(p.polqual, p.polrelid), '^\((\w+) = '))[1] AS tenant_column
    FROM pg_policy p
    WHERE p.polname = 'tenant_isolation'
      AND pg_get_expr(p.polqual, p.polrelid) LIKE '%app.current_organisation_id%'
  LOOP
    EXECUTE format('ALTER POLICY %I ON %s USING (%I = (SELECT maturion.current_organisation_id())) '
                   'WITH CHECK (%I = (SELECT maturion.current_organisation_id()))',
                   policy.polname, policy.target, policy.tenant_column, policy.tenant_column);
    rewritten := rewritten + 1;
  END LOOP;
  RETURN rewritten;
END
$$;
COMMENT ON FUNCTION maturion.bind_tenant_policies() IS 'Rewrites tenant_isolation policies of the app.current_organisation_id form into the binding form; run by migrations.';
REVOKE EXECUTE ON FUNCTION maturion.bind_tenant_policies() FROM PUBLIC;

SELECT maturion.bind_tenant_policies();

-- Tables made by this set's enable_tenant_isolation get the binding form too. Once the audit
-- set is applied, its overloads are the live ones (audit 1.0.0 replaces this one, audit 4.0.0
-- gives them the binding form), so this one is replaced only while they are absent.
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
      'USING (organisation_id = (SELECT maturion.current_organisation_id())) '
      'WITH CHECK (organisation_id = (SELECT maturion.current_organisation_id()))',
      target);
    EXECUTE format(
      'CREATE TRIGGER require_tenant_context BEFORE INSERT OR UPDATE OR DELETE ON %s '
      'FOR EACH STATEMENT EXECUTE FUNCTION maturion.require_tenant_context()', target);
    IF audit_fields THEN
      EXECUTE format(
        'CREATE TRIGGER stamp_audit_fields BEFORE INSERT OR UPDATE ON %s '
        'FOR EACH ROW EXECUTE FUNCTION maturion.stamp_audit_fields()', target);
    END IF;
    EXECUTE format('GRANT SELECT, INSERT, UPDATE ON %s TO maturion_app', target);
    EXECUTE format('GRANT SELECT ON %s TO maturion_readonly', target);
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %s TO maturion_maintenance', target);
  END
  $function$;
END
$only_without_the_audit_set$;
