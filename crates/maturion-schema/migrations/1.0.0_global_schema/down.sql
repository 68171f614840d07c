-- Reverts 1.0.0: removes the global schema. Roles are cluster-wide and stay (see sql/roles.sql).
DROP TABLE event_log;
DROP TABLE audit_log;
DROP TABLE organisation_settings;
DROP TABLE user_permissions;
DROP TABLE users;
DROP TABLE organisations;
DROP SCHEMA maturion CASCADE;
DROP FUNCTION public.generate_uuidv7();
DROP EXTENSION pg_trgm;
