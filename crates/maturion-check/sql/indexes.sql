-- Usable indexes of the checked tables, with their key columns in order (INCLUDE columns are
-- not keys; expression columns come out as NULL). An invalid index (a failed CREATE INDEX
-- CONCURRENTLY, or a partitioned index not yet attached everywhere) serves nothing.
SELECT i.indrelid AS table_oid,
       i.indisunique AS is_unique,
       i.indpred IS NOT NULL AS is_partial,
       (SELECT am.amname::text FROM pg_class ic JOIN pg_am am ON am.oid = ic.relam
        WHERE ic.oid = i.indexrelid) AS access_method,
       ARRAY(
         SELECT a.attname::text
         FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, position)
         LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
         WHERE k.position <= i.indnkeyatts
         ORDER BY k.position
       ) AS key_columns
FROM pg_index i
WHERE i.indrelid = ANY($1) AND i.indisvalid
