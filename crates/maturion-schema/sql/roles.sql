-- Cluster-level bootstrap, run by an administrator before the platform migrations.
-- Roles belong to the whole cluster (not one database), so this is idempotent and never drops
-- anything: several databases of one cluster share these roles.
--
--   maturion_owner       owns every object, runs migrations; cannot log in.
--   maturion_app         the runtime role: LOGIN, subject to RLS, owns nothing.
--   maturion_readonly    reporting: LOGIN, read-only, subject to RLS.
--   maturion_maintenance BYPASSRLS, for retention / erase / partition jobs; cannot log in
--                        (jobs SET ROLE to it from an administrator session). Inherits
--                        pg_signal_backend and pg_read_all_stats, for the job's watchdog that
--                        ends runtime-role transactions held open too long.
DO $roles$
DECLARE
  spec RECORD;
BEGIN
  FOR spec IN
    SELECT * FROM (VALUES
      ('maturion_owner',       false, false, 'NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS INHERIT'),
      ('maturion_app',         true,  false, 'LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS NOINHERIT'),
      ('maturion_readonly',    true,  false, 'LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS NOINHERIT'),
      ('maturion_maintenance', false, true,  'NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE BYPASSRLS INHERIT')
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
             OR rolcanlogin <> spec.can_login OR rolbypassrls <> spec.bypass_rls
             OR rolinherit <> (spec.attributes LIKE '% INHERIT%'))
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

-- Through system functions that PUBLIC may execute by default, the runtime roles reach past
-- row-level security or into other sessions: large objects (no RLS at all), advisory locks
-- (the keys the platform orders commits, seals and migrations on), and signals (a role may
-- cancel or terminate every session of its own role, which all tenants share). Function
-- privileges live in each database, and only their owner, the bootstrap superuser, may change
-- them, so this is here and not in a migration (which runs as maturion_owner). The classes
-- are found by name, overloads included; maturion-check's sql/role_reach.sql reports what is
-- left. Advisory locks stay with the platform: maturion_owner (the bus's SECURITY DEFINER
-- commit ordering; an administrator through membership, for migrations and the job's run
-- lock) and maturion_maintenance (the seal); signals with maturion_maintenance (the watchdog).
-- Releasing one's own advisory locks stays open to all: it touches no one else.
DO $functions$
DECLARE
  fn record;
  grantee text;
BEGIN
  IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
    RAISE WARNING 'as % (no superuser), the large-object, advisory-lock and signal functions stay executable by PUBLIC; a superuser must rerun this bootstrap (maturion check reports them)', current_user;
    RETURN;
  END IF;
  FOR fn IN
    SELECT p.oid::regprocedure AS signature,
           CASE WHEN p.proname ~ 'advisory' THEN ARRAY['maturion_owner', 'maturion_maintenance']
                WHEN p.proname ~ 'backend' THEN ARRAY['maturion_maintenance']
                ELSE ARRAY[]::text[] END AS grantees
    FROM pg_proc p
    WHERE p.pronamespace = 'pg_catalog'::regnamespace
      AND (p.proname ~ '^(lo_|loread$|lowrite$)'
           OR p.proname ~ '^pg_(try_)?advisory_(xact_)?lock(_shared)?$'
           OR p.proname IN ('pg_terminate_backend', 'pg_cancel_backend'))
  LOOP
    -- Only what drifted: concurrent bootstraps would collide on the same catalog row.
    IF has_function_privilege('public', fn.signature, 'EXECUTE') THEN
      EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', fn.signature);
    END IF;
    FOREACH grantee IN ARRAY fn.grantees LOOP
      IF NOT has_function_privilege(grantee, fn.signature, 'EXECUTE') THEN
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO %I', fn.signature, grantee);
      END IF;
    END LOOP;
  END LOOP;
END
$functions$;

-- The watchdog of the periodic job, as maturion_maintenance, ends runtime-role transactions
-- held open too long: it must see when they began (pg_read_all_stats) and signal sessions of
-- other roles (pg_signal_backend).
DO $watchdog$
DECLARE
  predefined text;
BEGIN
  FOREACH predefined IN ARRAY ARRAY['pg_signal_backend', 'pg_read_all_stats'] LOOP
    IF NOT pg_has_role('maturion_maintenance', predefined, 'MEMBER') THEN
      BEGIN
        EXECUTE format('GRANT %I TO maturion_maintenance', predefined);
      EXCEPTION WHEN unique_violation THEN
        NULL; -- a concurrent bootstrap granted it first
      END;
    END IF;
  END LOOP;
END
$watchdog$;

-- PUBLIC may connect to the databases initdb made (postgres, template1) and create temporary
-- tables in postgres, and so may the runtime roles, where none of the revocations above apply.
-- A grant to PUBLIC cannot be narrowed to spare some roles, so PUBLIC loses it wherever the
-- administrator may take it (superuser, or owner of the database): on the embedded cluster,
-- always. On an external server this also takes those databases from any other role that used
-- them through PUBLIC (grant CONNECT back to such roles by name); an administrator who may not
-- is warned, and `maturion check` goes on reporting it.
DO $other_databases$
DECLARE
  db record;
BEGIN
  FOR db IN
    SELECT d.datname, d.datdba FROM pg_database d
    WHERE d.oid < 16384 AND d.datallowconn
      AND (has_database_privilege('public', d.oid, 'CONNECT')
           OR has_database_privilege('public', d.oid, 'TEMPORARY'))
  LOOP
    IF NOT ((SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
            OR pg_has_role(current_user, db.datdba, 'USAGE')) THEN
      RAISE WARNING 'as % (neither superuser nor owner), PUBLIC keeps CONNECT and TEMPORARY on database %; its owner should REVOKE CONNECT, TEMPORARY ON DATABASE % FROM PUBLIC', current_user, db.datname, db.datname;
      CONTINUE;
    END IF;
    BEGIN
      EXECUTE format('REVOKE CONNECT, TEMPORARY ON DATABASE %I FROM PUBLIC', db.datname);
    EXCEPTION WHEN internal_error THEN
      NULL; -- "tuple concurrently updated": a concurrent bootstrap revoked it first
    END;
  END LOOP;
END
$other_databases$;

-- The search operators are marked LEAKPROOF by sql/leakproof.sql, run after this file.
