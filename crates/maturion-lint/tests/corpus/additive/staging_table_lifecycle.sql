-- A scratch table used only inside this migration.
CREATE TABLE import_staging (id uuid, payload jsonb);
CREATE INDEX import_staging_id_idx ON import_staging (id);
INSERT INTO import_staging SELECT id, to_jsonb(c) FROM controls c WHERE c.imported_from IS NOT NULL;
UPDATE import_staging SET payload = payload - 'secret';
ALTER TABLE import_staging ALTER COLUMN id SET NOT NULL;
TRUNCATE import_staging;
DELETE FROM import_staging;
DROP TABLE import_staging;
