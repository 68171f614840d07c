-- Defaults stored for the role ($1) in this database or in every database (ALTER ROLE … SET,
-- ALTER ROLE … IN DATABASE … SET), and, with $1 NULL, this database's own (ALTER DATABASE …
-- SET): every session of the role starts with them, whatever its tenant.
SELECT s.setdatabase <> 0 AS in_this_database_only, setting
FROM pg_db_role_setting s, unnest(s.setconfig) AS setting
WHERE CASE WHEN $1::text IS NULL
           THEN s.setrole = 0 AND s.setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database())
           ELSE s.setrole = to_regrole($1::text)
                AND s.setdatabase IN (0, (SELECT oid FROM pg_database WHERE datname = current_database()))
      END
ORDER BY setting
