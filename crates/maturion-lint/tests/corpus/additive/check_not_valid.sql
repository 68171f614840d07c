ALTER TABLE risks ADD CONSTRAINT risks_impact_range CHECK (impact BETWEEN 1 AND 5) NOT VALID;
ALTER TABLE risks ADD CONSTRAINT risks_owner_not_null CHECK (owner_id IS NOT NULL) NOT VALID;
ALTER TABLE risks VALIDATE CONSTRAINT risks_impact_range;
