-- Row-level security policies of the checked tables, expressions as PostgreSQL prints them.
SELECT p.polrelid AS table_oid,
       p.polname::text AS name,
       p.polcmd::text AS command,
       p.polpermissive AS is_permissive,
       pg_get_expr(p.polqual, p.polrelid) AS using_expression,
       pg_get_expr(p.polwithcheck, p.polrelid) AS check_expression
FROM pg_policy p
WHERE p.polrelid = ANY($1)
ORDER BY p.polname
