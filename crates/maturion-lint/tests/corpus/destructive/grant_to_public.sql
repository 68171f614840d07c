-- expect: ban-runtime-role-grant
CREATE TABLE risk_views (id uuid PRIMARY KEY, organisation_id uuid NOT NULL);
GRANT SELECT ON risk_views TO PUBLIC;
