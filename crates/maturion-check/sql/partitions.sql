-- Every descendant (partition, or inheritance child such as a TimescaleDB chunk) of the given
-- tables that the role can touch directly, with the privileges it holds there.
WITH RECURSIVE tree(root, child) AS (
  SELECT i.inhparent, i.inhrelid FROM pg_inherits i WHERE i.inhparent = ANY($1)
  UNION ALL
  SELECT tree.root, i.inhrelid FROM tree JOIN pg_inherits i ON i.inhparent = tree.child
),
access AS (
  SELECT tree.root,
         format('%I.%I', n.nspname, c.relname) AS name,
         ARRAY(
           SELECT privilege
           FROM unnest('{SELECT,INSERT,UPDATE,DELETE,TRUNCATE,REFERENCES,TRIGGER}'::text[])
                AS privilege
           WHERE has_table_privilege($2::name, c.oid, privilege)
         ) AS table_privileges,
         has_any_column_privilege($2::name, c.oid, 'SELECT, INSERT, UPDATE, REFERENCES')
           AS has_column_privileges
  FROM tree
  JOIN pg_class c ON c.oid = tree.child
  JOIN pg_namespace n ON n.oid = c.relnamespace
)
SELECT root AS parent_oid, name, table_privileges
FROM access
WHERE has_column_privileges OR cardinality(table_privileges) > 0
ORDER BY name
