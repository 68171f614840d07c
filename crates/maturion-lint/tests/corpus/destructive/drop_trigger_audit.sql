-- expect: ban-drop-trigger
-- expect-line: 4
-- Auditing is done by the application now.
DROP TRIGGER IF EXISTS risks_audit ON risks;
