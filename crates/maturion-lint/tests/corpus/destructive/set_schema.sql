-- expect: renaming-table
-- Move the table next to the other audit tables.
ALTER TABLE access_log SET SCHEMA audit;
