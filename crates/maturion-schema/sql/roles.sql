-- Cluster-level bootstrap, run by an administrator before the platform migrations.
-- Roles belong to the whole cluster (not one database), so this is idempotent and never drops
-- anything: several databases of one cluster share these roles.
--
--   maturion_owner       owns every object, runs migrations; cannot log in.
--   maturion_app         the runtime role: LOGIN, subject to RLS, owns nothing.
--   maturion_readonly    reporting: LOGIN, read-only, subject to RLS.
--   maturion_maintenance BYPASSRLS, for retention / erase / partition jobs; cannot log in
--                        (jobs SET ROLE to it from an administrator session).
DO $roles$
DECLARE
  spec RECORD;
BEGIN
  FOR spec IN
    SELECT * FROM (VALUES
      ('maturion_owner',       false, false, 'NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS INHERIT'),
      ('maturion_app',         true,  false, 'LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS NOINHERIT'),
      ('maturion_readonly',    true,  false, 'LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS NOINHERIT'),
      ('maturion_maintenance', false, true,  'NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE BYPASSRLS NOINHERIT')
    ) AS roles(name, can_login, bypass_rls, attributes)
  LOOP
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = spec.name) THEN
      BEGIN
        EXECUTE format('CREATE ROLE %I %s', spec.name, spec.attributes);
      EXCEPTION WHEN duplicate_object OR unique_violation THEN
        NULL; -- a concurrent bootstrap created it first
      END;
    END IF;
    -- Re-assert the attributes only when they drifted: ALTER ROLE from concurrent bootstraps
    -- would otherwise collide ("tuple concurrently updated").
    IF EXISTS (
      SELECT FROM pg_roles
      WHERE rolname = spec.name
        AND (rolsuper OR rolcreatedb OR rolcreaterole
             OR rolcanlogin <> spec.can_login OR rolbypassrls <> spec.bypass_rls)
    ) THEN
      EXECUTE format('ALTER ROLE %I %s', spec.name, spec.attributes);
    END IF;
  END LOOP;
  -- An administrator without superuser (CREATEROLE only) must be a member to SET ROLE: to the
  -- owner for migrations and partition DDL, to maintenance for rollups and retention.
  IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
    IF NOT pg_has_role(current_user, 'maturion_owner', 'MEMBER') THEN
      EXECUTE format('GRANT maturion_owner TO %I', current_user);
    END IF;
    IF NOT pg_has_role(current_user, 'maturion_maintenance', 'MEMBER') THEN
      EXECUTE format('GRANT maturion_maintenance TO %I', current_user);
    END IF;
  END IF;
END
$roles$;

-- The owner creates schemas and trusted extensions (pg_trgm) in this database.
DO $grants$
BEGIN
  EXECUTE format('GRANT CREATE, CONNECT, TEMPORARY ON DATABASE %I TO maturion_owner', current_database());
  EXECUTE format('GRANT CONNECT ON DATABASE %I TO maturion_app, maturion_readonly', current_database());
  EXECUTE format('REVOKE CREATE, TEMPORARY ON DATABASE %I FROM PUBLIC', current_database());
END
$grants$;
GRANT CREATE, USAGE ON SCHEMA public TO maturion_owner;
GRANT USAGE ON SCHEMA public TO maturion_app, maturion_readonly, maturion_maintenance;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
