-- expect: ban-drop-default
-- expect-line: 3
ALTER TABLE risks ALTER COLUMN status DROP DEFAULT;
