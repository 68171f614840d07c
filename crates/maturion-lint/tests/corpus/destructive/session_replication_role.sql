-- expect: ban-disable-trigger
-- expect-line: 3
SET LOCAL session_replication_role = replica;
UPDATE risks SET owner_id = NULL WHERE owner_id = '00000000-0000-0000-0000-000000000000';
