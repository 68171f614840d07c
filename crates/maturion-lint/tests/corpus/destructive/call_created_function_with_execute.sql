-- expect: ban-dynamic-sql
-- expect-line: 12
CREATE FUNCTION grant_reporting(target text) RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
    EXECUTE format('GRANT ALL ON %s TO maturion_app', target);
END
$$;

-- The body above runs now, with the owner's rights, on a name the lint cannot see.
SELECT
    grant_reporting('users');
