-- expect: ban-runtime-role-grant
GRANT EXECUTE ON FUNCTION maturion.protect_audit_partition(regclass) TO maturion_app;
