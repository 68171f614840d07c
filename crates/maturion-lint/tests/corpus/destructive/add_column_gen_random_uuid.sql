-- expect: adding-field-with-volatile-default
ALTER TABLE assessments ADD COLUMN public_id uuid NOT NULL DEFAULT gen_random_uuid();
