-- expect: ban-role-change
ALTER DEFAULT PRIVILEGES IN SCHEMA reporting GRANT SELECT ON TABLES TO maturion_readonly;
