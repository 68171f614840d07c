-- expect: ban-runtime-role-grant
CREATE TABLE risk_links (id uuid PRIMARY KEY, organisation_id uuid NOT NULL);
GRANT TRUNCATE ON risk_links TO maturion_app;
GRANT REFERENCES ON risk_links TO maturion_app;
GRANT TRIGGER ON risk_links TO maturion_readonly;
