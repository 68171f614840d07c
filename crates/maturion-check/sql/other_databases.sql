-- The databases initdb made (postgres, template1: oids below FirstNormalObjectId) that accept
-- connections and that the role ($1) may connect to, where the revocations of this database
-- do not apply; and whether it may create temporary tables there.
SELECT quote_ident(d.datname) AS name,
       has_database_privilege($1::name, d.oid, 'TEMPORARY') AS temporary
FROM pg_database d
WHERE d.oid < 16384 AND d.datallowconn
  AND has_database_privilege($1::name, d.oid, 'CONNECT')
ORDER BY d.datname
