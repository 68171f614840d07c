-- Constant defaults are metadata-only since PostgreSQL 11.
ALTER TABLE findings ADD COLUMN status text NOT NULL DEFAULT 'open';
ALTER TABLE findings ADD COLUMN is_external boolean NOT NULL DEFAULT false;
ALTER TABLE findings ADD COLUMN reopen_count integer NOT NULL DEFAULT 0;
ALTER TABLE findings ADD COLUMN labels jsonb NOT NULL DEFAULT '{}'::jsonb;
