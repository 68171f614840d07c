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
       -- §5.2: versions are rows kept by maturion.keep_versions (what create_next_version needs).
       EXISTS (SELECT FROM pg_trigger t
               WHERE t.tgrelid = c.oid AND t.tgname = 'versioning' AND t.tgenabled <> 'D'
                 AND t.tgfoid = to_regprocedure('maturion.keep_versions()')) AS versioned,
       -- §5.3: the transition graph is the workflow trigger's arguments (initial status, then
       -- 'from>to' each), as maturion.workflow_transitions reads it.
       (SELECT array_remove(regexp_split_to_array(encode(t.tgargs, 'escape'), '\\000'), '')
        FROM pg_trigger t
        WHERE t.tgrelid = c.oid AND t.tgname = 'workflow' AND t.tgenabled <> 'D'
          AND t.tgfoid = to_regprocedure('maturion.enforce_workflow()')) AS workflow_arguments,
       -- §6.4: a generated tsvector column made by maturion.search_vector(language, title,
       -- content), with a GIN index leading with it; the arguments name the columns.
       (SELECT json_build_object('document', a.attname::text, 'arguments', m.arguments)
        FROM pg_attribute a
        JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        CROSS JOIN LATERAL regexp_match(pg_get_expr(d.adbin, d.adrelid),
                                        'search_vector\((\w+), (\w+), (\w+)\)$') AS m(arguments)
        WHERE a.attrelid = c.oid AND a.attgenerated = 's' AND NOT a.attisdropped
          AND a.atttypid = 'tsvector'::regtype AND m.arguments IS NOT NULL
          AND EXISTS (SELECT FROM pg_depend dep
                      WHERE dep.classid = 'pg_attrdef'::regclass AND dep.objid = d.oid
                        AND dep.refclassid = 'pg_proc'::regclass
                        AND dep.refobjid = to_regprocedure('maturion.search_vector(text, text, text)'))
          AND EXISTS (SELECT FROM pg_index i
                      JOIN pg_class ic ON ic.oid = i.indexrelid
                      JOIN pg_am am ON am.oid = ic.relam
                      WHERE i.indrelid = c.oid AND am.amname = 'gin' AND i.indpred IS NULL
                        AND i.indkey[0] = a.attnum)
        ORDER BY a.attnum
        LIMIT 1) AS search,
       -- Columns that lead a trigram index (pg_trgm): fuzzy matches on them are indexed.
       ARRAY(SELECT a.attname::text
             FROM pg_index i
             JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = i.indkey[0]
             JOIN pg_opclass o ON o.oid = i.indclass[0]
             WHERE i.indrelid = c.oid AND i.indpred IS NULL
               AND o.opcname IN ('gin_trgm_ops', 'gist_trgm_ops')) AS trigram_columns,
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
