-- expect: ban-dynamic-sql
-- expect-line: 4
-- Turns the audit trail off on every table, by a name built at run time.
DO $$
DECLARE
    t text;
BEGIN
    FOR t IN SELECT tablename FROM pg_tables WHERE schemaname = 'public' LOOP
        EXECUTE format('ALTER TABLE %I DISABLE TRIGGER ALL', t);
    END LOOP;
END
$$;
