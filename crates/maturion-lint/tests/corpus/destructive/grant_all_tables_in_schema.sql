-- expect: ban-runtime-role-grant
GRANT USAGE ON SCHEMA reporting TO maturion_readonly;
GRANT SELECT ON ALL TABLES IN SCHEMA reporting TO maturion_readonly;
