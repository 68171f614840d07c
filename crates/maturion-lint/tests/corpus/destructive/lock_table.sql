-- expect: ban-lock-table
-- expect-line: 3
LOCK TABLE users IN ACCESS EXCLUSIVE MODE;
