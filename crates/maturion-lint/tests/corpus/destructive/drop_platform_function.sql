-- expect: ban-platform-function-change
DROP FUNCTION maturion.audit_trail() CASCADE;
