-- SECURITY DEFINER functions and procedures outside the system schemas (extension members
-- excluded): whether they pin search_path, and whether PUBLIC may execute them.
SELECT CASE p.prokind WHEN 'p' THEN 'procedure' ELSE 'function' END AS kind,
       format('%I.%I(%s)', n.nspname, p.proname, oidvectortypes(p.proargtypes)) AS signature,
       EXISTS (
         SELECT FROM unnest(p.proconfig) AS setting WHERE setting LIKE 'search\_path=%'
       ) AS pins_search_path,
       -- A NULL ACL is the default one, in which PUBLIC may execute.
       p.proacl IS NULL OR EXISTS (
         SELECT FROM aclexplode(p.proacl) AS acl
         WHERE acl.grantee = 0 AND acl.privilege_type = 'EXECUTE'
       ) AS public_can_execute
FROM pg_proc p
JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE p.prosecdef
  AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'maturion_migrations')
  AND n.nspname !~ '^pg_(toast|temp_)'
  AND NOT EXISTS (
    SELECT FROM pg_depend d
    WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
  )
ORDER BY signature
