-- The tables the API can serve, as the role that runs this query sees them: tables of schema
-- public (not partitions) with row-level security enabled and forced, an `id` column, and a
-- tenant key (`organisation_id`, or `id` itself for the tenant root). What each offers follows
-- from the privileges this role holds, the audit trail trigger's arguments (module, tenant key,
-- entity type) and the indexes.
SELECT c.relname::text AS name,
       coalesce(obj_description(c.oid, 'pg_class'), '') AS comment,
       c.relname = 'organisations' AS is_tenant_root,
       has_table_privilege(c.oid, 'SELECT') AS can_select,
       has_table_privilege(c.oid, 'INSERT') AS can_insert,
       has_table_privilege(c.oid, 'UPDATE') AS can_update,
       (SELECT regexp_split_to_array(encode(t.tgargs, 'escape'), '\\000')
        FROM pg_trigger t
        WHERE t.tgrelid = c.oid AND NOT t.tgisinternal AND t.tgenabled <> 'D'
          AND t.tgfoid = to_regprocedure('maturion.audit_trail()')
        LIMIT 1) AS audit_arguments,
       coalesce((
         SELECT json_agg(json_build_object(
                  'name', a.attname,
                  'type', format_type(a.atttypid, a.atttypmod),
                  'base_type', coalesce(base.typname, ty.typname),
                  'category', coalesce(base.typcategory, ty.typcategory),
                  'enum_values', ARRAY(SELECT e.enumlabel::text FROM pg_enum e
                                       WHERE e.enumtypid = coalesce(base.oid, ty.oid)
                                       ORDER BY e.enumsortorder),
                  'not_null', a.attnotnull,
                  'has_default', a.atthasdef OR a.attidentity <> '' OR a.attgenerated <> '',
                  'generated', a.attidentity <> '' OR a.attgenerated <> '',
                  'comment', col_description(c.oid, a.attnum),
                  'checks', ARRAY(SELECT pg_get_constraintdef(k.oid) FROM pg_constraint k
                                  WHERE k.conrelid = c.oid AND k.contype = 'c'
                                    AND k.conkey = ARRAY[a.attnum]
                                  ORDER BY k.conname))
                ORDER BY a.attnum)
         FROM pg_attribute a
         JOIN pg_type ty ON ty.oid = a.atttypid
         LEFT JOIN pg_type base ON ty.typtype = 'd' AND base.oid = ty.typbasetype
         WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), '[]'::json) AS columns,
       -- Key columns of every plain (not partial, not expression) btree index, in order.
       coalesce((
         SELECT json_agg(ARRAY(SELECT a.attname::text
                               FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, position)
                               JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
                               WHERE k.position <= i.indnkeyatts
                               ORDER BY k.position))
         FROM pg_index i
         JOIN pg_class ic ON ic.oid = i.indexrelid
         JOIN pg_am am ON am.oid = ic.relam
         WHERE i.indrelid = c.oid AND am.amname = 'btree' AND i.indpred IS NULL
           AND NOT (0 = ANY (i.indkey::int2[]))), '[]'::json) AS btree_indexes,
       -- Key columns of every unique index or constraint (a conflict on one that leaves out the
       -- tenant key could reveal another organisation's row).
       coalesce((
         SELECT json_agg(ARRAY(SELECT a.attname::text
                               FROM unnest(i.indkey::int2[]) AS k(attnum)
                               LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum))
         FROM pg_index i
         WHERE i.indrelid = c.oid AND i.indisunique), '[]'::json) AS unique_keys
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition
  AND c.relrowsecurity AND c.relforcerowsecurity
ORDER BY c.relname
