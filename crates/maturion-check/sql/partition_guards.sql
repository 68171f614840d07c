-- For each partitioned table among the given ones ($1), its guard triggers (those running one
-- of the guard functions $2, the append-only guards), and every descendant that lacks a
-- trigger of the same function and the same events (tgtype) at all. A guard present but not
-- firing always is the trigger rule's business.
WITH RECURSIVE tree(root, child) AS (
  SELECT i.inhparent, i.inhrelid FROM pg_inherits i WHERE i.inhparent = ANY($1)
  UNION ALL
  SELECT tree.root, i.inhrelid FROM tree JOIN pg_inherits i ON i.inhparent = tree.child
),
guards AS (
  SELECT t.tgrelid AS root, t.tgname, t.tgfoid, t.tgtype
  FROM pg_trigger t
  WHERE t.tgrelid = ANY($1) AND NOT t.tgisinternal
    AND t.tgfoid IN (SELECT to_regprocedure(guard) FROM unnest($2::text[]) AS guard)
)
SELECT guards.root AS parent_oid,
       format('%I.%I', n.nspname, c.relname) AS partition,
       guards.tgname::text AS guard,
       format('%I.%I(%s)', pn.nspname, p.proname, oidvectortypes(p.proargtypes)) AS function
FROM tree
JOIN guards ON guards.root = tree.root
JOIN pg_class c ON c.oid = tree.child
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_proc p ON p.oid = guards.tgfoid
JOIN pg_namespace pn ON pn.oid = p.pronamespace
WHERE NOT EXISTS (
  SELECT FROM pg_trigger t
  WHERE t.tgrelid = tree.child AND t.tgfoid = guards.tgfoid AND t.tgtype = guards.tgtype
)
ORDER BY partition, guard
