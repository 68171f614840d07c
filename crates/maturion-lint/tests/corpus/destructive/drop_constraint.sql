-- expect: ban-drop-constraint
ALTER TABLE findings DROP CONSTRAINT IF EXISTS findings_status_check;
