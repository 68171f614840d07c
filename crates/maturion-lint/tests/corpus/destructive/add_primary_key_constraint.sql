-- expect: disallowed-unique-constraint
ALTER TABLE audit_events ADD PRIMARY KEY (id);
