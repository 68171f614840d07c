-- expect: ban-role-change
-- expect-line: 3
RESET ROLE;
CREATE TABLE risk_archive (id uuid PRIMARY KEY);
