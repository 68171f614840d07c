-- expect: adding-field-with-volatile-default
ALTER TABLE findings ADD COLUMN imported_at timestamptz DEFAULT clock_timestamp();
