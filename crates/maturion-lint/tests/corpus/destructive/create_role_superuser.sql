-- expect: ban-role-change
CREATE ROLE risk_admin SUPERUSER LOGIN PASSWORD 'x';
DROP ROLE IF EXISTS legacy_reporting;
