-- expect: ban-platform-function-change
-- expect-line: 3
SET LOCAL search_path = maturion, public;
CREATE OR REPLACE FUNCTION stamp_audit_fields() RETURNS trigger
LANGUAGE plpgsql
AS $$ BEGIN RETURN NEW; END $$;
