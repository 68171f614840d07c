-- expect: ban-disable-trigger
-- expect-line: 4
CREATE TABLE risk_imports (id uuid PRIMARY KEY, organisation_id uuid NOT NULL);
ALTER TABLE risk_imports DISABLE TRIGGER ALL;
ALTER TABLE risks DISABLE TRIGGER USER;
