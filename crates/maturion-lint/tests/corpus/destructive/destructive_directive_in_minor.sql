-- expect: destructive-directive-outside-major
-- expect-line: 3
-- maturion:destructive
ALTER TABLE risks ADD COLUMN archived_at timestamptz;
