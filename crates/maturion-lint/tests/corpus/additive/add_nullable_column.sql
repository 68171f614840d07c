ALTER TABLE controls ADD COLUMN review_notes text;
ALTER TABLE controls ADD COLUMN reviewed_at timestamptz NULL;
