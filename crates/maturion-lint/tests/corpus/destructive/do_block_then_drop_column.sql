-- expect: ban-drop-column
-- expect-line: 19
DO $$
BEGIN
    -- Copy the old free-text category into the new lookup table first.
    INSERT INTO risk_categories (tenant_id, name)
    SELECT DISTINCT tenant_id, category FROM risks WHERE category IS NOT NULL
    ON CONFLICT DO NOTHING;
END
$$;

UPDATE risks r
   SET category_id = c.id
  FROM risk_categories c
 WHERE c.tenant_id = r.tenant_id
   AND c.name = r.category;

/* The text column is redundant now. */
ALTER TABLE risks
    DROP COLUMN category;
