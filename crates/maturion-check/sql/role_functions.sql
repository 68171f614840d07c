-- Functions outside the system schemas that the role ($1) may execute (granted to it, to
-- PUBLIC or to a role it inherits from) although their COMMENT does not carry the role's
-- marker ($2, e.g. @app-callable): the declared list of what the role may call. Extension
-- members belong to their extension; trigger functions cannot be called, only fired, and
-- firing needs no EXECUTE privilege.
SELECT CASE p.prokind WHEN 'p' THEN 'procedure' WHEN 'a' THEN 'aggregate' ELSE 'function' END AS kind,
       format('%I.%I(%s)', n.nspname, p.proname, oidvectortypes(p.proargtypes)) AS signature,
       p.prosecdef AS security_definer
FROM pg_proc p
JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'maturion_migrations')
  AND n.nspname !~ '^pg_(toast|temp_)'
  AND p.prorettype NOT IN ('trigger'::regtype, 'event_trigger'::regtype)
  AND has_function_privilege($1::name, p.oid, 'EXECUTE')
  AND strpos(coalesce(obj_description(p.oid, 'pg_proc'), ''), $2::text) = 0
  AND NOT EXISTS (
    SELECT FROM pg_depend d
    WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
  )
ORDER BY signature
