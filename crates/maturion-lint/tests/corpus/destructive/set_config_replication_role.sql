-- expect: ban-disable-trigger
-- expect-line: 3
SELECT pg_catalog.set_config('session_replication_role', 'replica', true);
CREATE FUNCTION quiet_import() RETURNS void
LANGUAGE sql
SET session_replication_role = replica
AS $$ SELECT 1 $$;
