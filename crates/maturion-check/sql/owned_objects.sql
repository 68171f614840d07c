-- Objects of this database owned by the role or by a role it can SET ROLE to. An owner skips
-- RLS unless it is forced, and can disable it, rewrite policies or grant itself anything.
-- `kind` is the word ALTER ... OWNER TO takes.
WITH owners AS (
  SELECT r.oid, r.rolname FROM pg_roles r WHERE pg_has_role($1::name, r.oid, 'MEMBER')
),
objects(kind, name, owner) AS (
  SELECT CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
                        WHEN 'S' THEN 'SEQUENCE' WHEN 'f' THEN 'FOREIGN TABLE' ELSE 'TABLE' END,
         format('%I.%I', n.nspname, c.relname), c.relowner
  FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
    AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp_)'
  UNION ALL
  SELECT CASE p.prokind WHEN 'p' THEN 'PROCEDURE' WHEN 'a' THEN 'AGGREGATE' ELSE 'FUNCTION' END,
         format('%I.%I(%s)', n.nspname, p.proname, oidvectortypes(p.proargtypes)),
         p.proowner
  FROM pg_proc p
  JOIN pg_namespace n ON n.oid = p.pronamespace
  WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp_)'
  UNION ALL
  SELECT 'SCHEMA', quote_ident(n.nspname), n.nspowner
  FROM pg_namespace n
  WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp_)'
  UNION ALL
  -- Row types of tables and the implicit array and multirange types follow their owner.
  SELECT CASE t.typtype WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END,
         format('%I.%I', n.nspname, t.typname), t.typowner
  FROM pg_type t
  JOIN pg_namespace n ON n.oid = t.typnamespace
  LEFT JOIN pg_class c ON c.oid = t.typrelid
  WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp_)'
    AND (t.typrelid = 0 OR c.relkind = 'c')
    AND t.typtype <> 'm'
    AND NOT EXISTS (SELECT FROM pg_type e WHERE e.typarray = t.oid)
  UNION ALL
  -- Large objects have no row-level security: whatever one session of the role stores there,
  -- every other session of it (every tenant's) can read.
  SELECT 'LARGE OBJECT', l.oid::text, l.lomowner
  FROM pg_largeobject_metadata l
  UNION ALL
  SELECT 'DATABASE', quote_ident(d.datname), d.datdba
  FROM pg_database d
  WHERE d.datname = current_database()
)
SELECT objects.kind, objects.name, owners.rolname::text AS owner
FROM objects
JOIN owners ON owners.oid = objects.owner
ORDER BY objects.name
