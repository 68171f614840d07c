-- expect: adding-field-with-volatile-default
ALTER TABLE evidence ADD COLUMN seq bigserial;
