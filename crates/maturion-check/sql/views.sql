-- Views and materialized views outside the system schemas (extension members excluded). For a
-- materialized view, every relation it reads, following the views it reads through.
WITH RECURSIVE views AS (
  SELECT c.oid, c.relkind, format('%I.%I', n.nspname, c.relname) AS name, c.reloptions
  FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relkind IN ('v', 'm')
    AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'maturion_migrations')
    AND n.nspname !~ '^pg_(toast|temp_)'
    AND NOT EXISTS (
      SELECT FROM pg_depend d
      WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e'
    )
),
-- A view's query is a rewrite rule, which depends on every relation the query reads.
reads(view_oid, relation_oid) AS (
  SELECT r.ev_class, d.refobjid
  FROM pg_rewrite r
  JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid
                  AND d.refclassid = 'pg_class'::regclass AND d.refobjid <> r.ev_class
  WHERE r.ev_class IN (SELECT oid FROM views WHERE relkind = 'm')
  UNION
  SELECT reads.view_oid, d.refobjid
  FROM reads
  JOIN pg_class v ON v.oid = reads.relation_oid AND v.relkind = 'v'
  JOIN pg_rewrite r ON r.ev_class = v.oid
  JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid
                  AND d.refclassid = 'pg_class'::regclass AND d.refobjid <> r.ev_class
)
SELECT views.name,
       views.relkind = 'm' AS is_materialized,
       coalesce(views.reloptions, '{}') AS options,
       ARRAY(SELECT DISTINCT reads.relation_oid FROM reads WHERE reads.view_oid = views.oid) AS reads
FROM views
ORDER BY views.name
