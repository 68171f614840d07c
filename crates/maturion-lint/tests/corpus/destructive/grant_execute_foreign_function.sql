-- expect: ban-runtime-role-grant
-- risk_score was created by an earlier migration: its privileges are that migration's.
GRANT EXECUTE ON FUNCTION risk_score(integer, integer) TO maturion_app;
