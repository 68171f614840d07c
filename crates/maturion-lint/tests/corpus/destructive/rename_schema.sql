-- expect: renaming-table
ALTER SCHEMA audit RENAME TO audit_log;
