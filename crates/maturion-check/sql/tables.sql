-- The tables the architecture governs: ordinary and partitioned tables outside the system
-- schemas and the migration ledger. Children (partitions, inheritance children such as
-- TimescaleDB chunks) are left out: they are reached through their parent, where RLS applies.
-- Tables that belong to an extension are not ours to change.
SELECT c.oid,
       format('%I.%I', n.nspname, c.relname) AS name,
       n.nspname = 'public' AND c.relname = 'organisations' AS is_tenant_root,
       c.relkind = 'p' AS is_partitioned,
       c.relrowsecurity AS rls_enabled,
       c.relforcerowsecurity AS rls_forced,
       coalesce(obj_description(c.oid, 'pg_class'), '') AS comment,
       -- The audit trail (maturion.audit_trail(), crate maturion-audit) is attached and enabled.
       EXISTS (
         SELECT FROM pg_trigger t
         WHERE t.tgrelid = c.oid AND NOT t.tgisinternal AND t.tgenabled <> 'D'
           AND t.tgfoid = to_regprocedure('maturion.audit_trail()')
       ) AS has_audit_trigger,
       -- Privileges granted on the table, or on any of its columns, to the runtime role ($1)
       -- itself or to PUBLIC (membership in other roles is judged by the role rules), and likewise
       -- for the read-only role ($2).
       ARRAY(
         SELECT DISTINCT acl.privilege_type
         FROM (SELECT c.relacl AS acl_items
               UNION ALL SELECT a.attacl FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attacl IS NOT NULL) granted,
              aclexplode(granted.acl_items) acl
         WHERE acl.grantee = 0 OR acl.grantee = coalesce(to_regrole($1)::oid, 0)
         ORDER BY 1
       ) AS app_privileges,
       ARRAY(
         SELECT DISTINCT acl.privilege_type
         FROM (SELECT c.relacl AS acl_items
               UNION ALL SELECT a.attacl FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attacl IS NOT NULL) granted,
              aclexplode(granted.acl_items) acl
         WHERE acl.grantee = 0 OR acl.grantee = coalesce(to_regrole($2)::oid, 0)
         ORDER BY 1
       ) AS readonly_privileges,
       ARRAY(
         SELECT a.attname::text FROM pg_attribute a
         WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
         ORDER BY a.attnum
       ) AS columns,
       ARRAY(
         SELECT a.attname::text FROM pg_attribute a
         WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
           AND a.atttypid = 'pg_catalog.tsvector'::regtype
         ORDER BY a.attnum
       ) AS tsvector_columns,
       format_type(org.atttypid, org.atttypmod) AS organisation_id_type,
       org.attnotnull AS organisation_id_not_null,
       -- Expression parts of a partition key come out as NULL.
       ARRAY(
         SELECT a.attname::text
         FROM unnest(pt.partattrs::int2[]) WITH ORDINALITY AS k(attnum, position)
         LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
         ORDER BY k.position
       ) AS partition_key
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_attribute org
  ON org.attrelid = c.oid AND org.attname = 'organisation_id' AND NOT org.attisdropped
LEFT JOIN pg_partitioned_table pt ON pt.partrelid = c.oid
WHERE c.relkind IN ('r', 'p')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'maturion_migrations')
  AND n.nspname !~ '^pg_(toast|temp_)'
  AND NOT EXISTS (SELECT FROM pg_inherits i WHERE i.inhrelid = c.oid)
  AND NOT EXISTS (
    SELECT FROM pg_depend d
    WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e'
  )
ORDER BY name
