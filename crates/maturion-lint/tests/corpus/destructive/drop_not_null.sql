-- expect: ban-drop-not-null
-- Controls may be unassigned now.
ALTER TABLE controls ALTER COLUMN owner_id DROP NOT NULL;
