-- expect: ban-drop-column
ALTER TABLE controls
    DROP COLUMN IF EXISTS legacy_ref,
    DROP COLUMN IF EXISTS imported_from;
