-- expect: ban-runtime-role-grant
-- expect-line: 3
GRANT maturion_maintenance TO maturion_app;
