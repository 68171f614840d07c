-- A new column is all NULL, so its foreign key has nothing to validate.
ALTER TABLE risks ADD COLUMN treatment_id uuid REFERENCES risk_treatments (id);
