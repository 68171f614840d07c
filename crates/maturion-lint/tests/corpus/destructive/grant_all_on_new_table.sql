-- expect: ban-runtime-role-grant
-- expect-line: 4
CREATE TABLE risk_tags (id uuid PRIMARY KEY, organisation_id uuid NOT NULL);
GRANT ALL ON risk_tags TO maturion_app;
