-- expect: ban-drop-table
-- expect-line: 4
-- Assessments moved to the assessment module; the old table is no longer written.
DROP TABLE legacy_assessments;
