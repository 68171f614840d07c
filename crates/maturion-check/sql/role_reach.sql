-- System functions through which a role ($1) reaches past row-level security or into other
-- sessions, by class, found by name in pg_catalog (so new overloads are covered): large
-- objects (no RLS: every session of the role reads and writes them all), advisory locks
-- (keys the platform orders commits, seals and migrates on), and signalling backends (a role
-- may cancel or terminate every session of its own role, which all tenants share). Releasing
-- one's own advisory locks is harmless and not listed. The same classes are revoked from
-- PUBLIC by maturion-schema's sql/roles.sql.
SELECT CASE
         WHEN p.proname ~ '^(lo_|loread$|lowrite$)' THEN 'large-objects'
         WHEN p.proname ~ '^pg_(try_)?advisory_(xact_)?lock(_shared)?$' THEN 'advisory-locks'
         ELSE 'signal-backends'
       END AS class,
       array_agg(DISTINCT p.proname::text ORDER BY p.proname::text) AS functions
FROM pg_proc p
WHERE p.pronamespace = 'pg_catalog'::regnamespace
  AND (p.proname ~ '^(lo_|loread$|lowrite$)'
       OR p.proname ~ '^pg_(try_)?advisory_(xact_)?lock(_shared)?$'
       OR p.proname IN ('pg_terminate_backend', 'pg_cancel_backend'))
  AND has_function_privilege($1::name, p.oid, 'EXECUTE')
GROUP BY 1
ORDER BY 1
