-- expect: ban-platform-function-change
-- expect-line: 3
CREATE OR REPLACE FUNCTION maturion.require_tenant_context() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    RETURN NULL;
END
$$;
