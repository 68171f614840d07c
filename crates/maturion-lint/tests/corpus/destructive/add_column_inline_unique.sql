-- expect: disallowed-unique-constraint
ALTER TABLE tenants ADD COLUMN external_ref text UNIQUE;
