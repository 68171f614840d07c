-- expect: ban-set-not-null
-- expect-line: 5
-- Every risk has an owner since 1.4.

ALTER TABLE risks ALTER COLUMN owner_id SET NOT NULL;
