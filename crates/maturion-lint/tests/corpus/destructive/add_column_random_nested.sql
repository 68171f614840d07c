-- expect: adding-field-with-volatile-default
ALTER TABLE tenants ADD COLUMN api_salt text DEFAULT md5(random()::text);
