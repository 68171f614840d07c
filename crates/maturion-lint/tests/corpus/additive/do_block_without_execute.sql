-- A DO block without EXECUTE: its statements are checked like the others, and pass.
CREATE TABLE risk_categories (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organisation_id uuid NOT NULL,
    name text NOT NULL
);
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM risk_categories) THEN
        INSERT INTO risk_categories (organisation_id, name)
        SELECT DISTINCT organisation_id, category FROM risks WHERE category IS NOT NULL;
    END IF;
END
$$;

-- A function with EXECUTE that the migration only creates runs later, not now.
CREATE FUNCTION count_rows(target regclass) RETURNS bigint
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    n bigint;
BEGIN
    EXECUTE format('SELECT count(*) FROM %s', target) INTO n;
    RETURN n;
END
$$;

-- A function of its own, created and called at once, without dynamic SQL.
CREATE FUNCTION seed_categories() RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
    UPDATE risk_categories SET name = btrim(name) WHERE name <> btrim(name);
END
$$;
SELECT seed_categories();
