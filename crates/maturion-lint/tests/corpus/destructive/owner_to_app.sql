-- expect: ban-runtime-role-grant
-- The owner skips row level security unless it is forced, and may grant itself anything.
CREATE TABLE risk_drafts (id uuid PRIMARY KEY, organisation_id uuid NOT NULL);
ALTER TABLE risk_drafts OWNER TO maturion_app;
