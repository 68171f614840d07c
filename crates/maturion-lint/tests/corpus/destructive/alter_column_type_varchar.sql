-- expect: changing-column-type
ALTER TABLE tenants ALTER COLUMN slug TYPE varchar(64);
