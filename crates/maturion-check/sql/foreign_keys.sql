-- Foreign keys of the checked tables, with both column lists in constraint order.
SELECT fk.conrelid AS table_oid,
       fk.conname::text AS name,
       format('%I.%I', rn.nspname, r.relname) AS referenced,
       rn.nspname = 'public' AND r.relname = 'organisations' AS references_tenant_root,
       EXISTS (
         SELECT FROM pg_attribute a
         WHERE a.attrelid = r.oid AND a.attname = 'organisation_id' AND NOT a.attisdropped
       ) AS references_tenant_table,
       ARRAY(
         SELECT a.attname::text
         FROM unnest(fk.conkey) WITH ORDINALITY AS k(attnum, position)
         JOIN pg_attribute a ON a.attrelid = fk.conrelid AND a.attnum = k.attnum
         ORDER BY k.position
       ) AS columns,
       ARRAY(
         SELECT a.attname::text
         FROM unnest(fk.confkey) WITH ORDINALITY AS k(attnum, position)
         JOIN pg_attribute a ON a.attrelid = fk.confrelid AND a.attnum = k.attnum
         ORDER BY k.position
       ) AS referenced_columns
FROM pg_constraint fk
JOIN pg_class r ON r.oid = fk.confrelid
JOIN pg_namespace rn ON rn.oid = r.relnamespace
WHERE fk.contype = 'f' AND fk.conrelid = ANY($1)
ORDER BY fk.conname
