-- expect: adding-not-nullable-field
ALTER TABLE controls ADD COLUMN owner_id uuid NOT NULL;
