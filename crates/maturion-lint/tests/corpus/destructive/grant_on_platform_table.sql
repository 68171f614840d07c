-- expect: ban-runtime-role-grant
-- expect-line: 3
GRANT SELECT ON users TO maturion_readonly;
GRANT UPDATE ON maturion.event_streams TO maturion_app;
