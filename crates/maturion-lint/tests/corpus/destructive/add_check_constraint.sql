-- expect: constraint-missing-not-valid
ALTER TABLE risks ADD CONSTRAINT risks_impact_range CHECK (impact BETWEEN 1 AND 5);
