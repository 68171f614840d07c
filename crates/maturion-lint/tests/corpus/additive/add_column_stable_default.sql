-- now() is stable: evaluated once, no table rewrite.
ALTER TABLE assessments
    ADD COLUMN imported_at timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN imported_on date DEFAULT CURRENT_DATE;
