GRANT USAGE ON SCHEMA reporting TO maturion_readonly;
GRANT SELECT ON ALL TABLES IN SCHEMA reporting TO maturion_readonly;
ALTER DEFAULT PRIVILEGES IN SCHEMA reporting GRANT SELECT ON TABLES TO maturion_readonly;
GRANT EXECUTE ON FUNCTION risk_score(integer, integer) TO maturion_app;
