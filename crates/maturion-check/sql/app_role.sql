-- The runtime role's attributes, and the superuser or BYPASSRLS roles it can SET ROLE to
-- (membership is enough for that in PostgreSQL 15, whatever INHERIT says). A superuser counts
-- as a member of every role, so for one the lists would say nothing and stay empty.
SELECT r.rolsuper AS is_superuser,
       r.rolbypassrls AS bypasses_rls,
       ARRAY(
         SELECT s.rolname::text FROM pg_roles s
         WHERE NOT r.rolsuper AND s.oid <> r.oid AND s.rolsuper AND pg_has_role(r.oid, s.oid, 'MEMBER')
         ORDER BY s.rolname
       ) AS superuser_roles,
       ARRAY(
         SELECT s.rolname::text FROM pg_roles s
         WHERE NOT r.rolsuper AND s.oid <> r.oid AND s.rolbypassrls AND pg_has_role(r.oid, s.oid, 'MEMBER')
         ORDER BY s.rolname
       ) AS bypassrls_roles
FROM pg_roles r
WHERE r.rolname = $1::name
