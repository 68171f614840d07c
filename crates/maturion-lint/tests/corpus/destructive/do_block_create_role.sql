-- expect: ban-role-change
-- expect-line: 6
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'maturion_auditor') THEN
        CREATE ROLE maturion_auditor NOLOGIN;
    END IF;
END
$$;

GRANT SELECT ON findings TO maturion_auditor;
