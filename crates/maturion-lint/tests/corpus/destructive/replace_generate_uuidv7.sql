-- expect: ban-platform-function-change
CREATE OR REPLACE FUNCTION generate_uuidv7() RETURNS uuid
LANGUAGE sql
AS $$ SELECT '00000000-0000-7000-8000-000000000000'::uuid $$;
