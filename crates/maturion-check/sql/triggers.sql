-- Every trigger the platform attached (its function lives in schema maturion) to any table
-- outside the system schemas, partitions included, with how it fires: pg_trigger.tgenabled
-- 'O' (ordinary sessions), 'A' (always), 'R' (only under session_replication_role = replica)
-- or 'D' (never).
SELECT format('%I.%I', n.nspname, c.relname) AS table_name,
       t.tgname::text AS name,
       -- Spelt out: a regprocedure prints unqualified when its schema is on the search_path.
       format('%I.%I(%s)', 'maturion', p.proname, oidvectortypes(p.proargtypes)) AS function,
       t.tgenabled::text AS firing
FROM pg_trigger t
JOIN pg_class c ON c.oid = t.tgrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_proc p ON p.oid = t.tgfoid
WHERE NOT t.tgisinternal
  AND p.pronamespace = to_regnamespace('maturion')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
ORDER BY table_name, name
