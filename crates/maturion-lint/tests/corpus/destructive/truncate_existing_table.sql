-- expect: ban-truncate
-- Start the import from scratch.
TRUNCATE TABLE control_imports RESTART IDENTITY;
