-- expect: adding-field-with-volatile-default
ALTER TABLE findings ADD COLUMN finding_no bigint GENERATED ALWAYS AS IDENTITY;
