-- expect: ban-role-change
-- expect-line: 3
ALTER ROLE maturion_app BYPASSRLS;
