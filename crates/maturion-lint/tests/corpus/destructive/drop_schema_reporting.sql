-- expect: ban-drop-schema
-- Reporting now lives in the warehouse.
DROP SCHEMA reporting CASCADE;
