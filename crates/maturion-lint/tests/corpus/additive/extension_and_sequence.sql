CREATE EXTENSION IF NOT EXISTS pgcrypto;
CREATE SEQUENCE IF NOT EXISTS finding_number_seq START 1000;
ALTER TABLE findings ADD COLUMN finding_no bigint;
ALTER TABLE findings ALTER COLUMN finding_no SET DEFAULT nextval('finding_number_seq');
