-- expect: ban-disable-trigger
-- expect-line: 7
-- No EXECUTE: the statements of a DO block face the same rules as the others.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_class WHERE relname = 'risks') THEN
        ALTER TABLE risks DISABLE TRIGGER audit_trail;
    END IF;
END
$$;
