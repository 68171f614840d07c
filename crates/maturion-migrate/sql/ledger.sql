-- The migration ledger. Created by the migration engine itself, before any migration runs,
-- so it survives migrating down to an empty schema.
CREATE SCHEMA IF NOT EXISTS maturion_migrations;

CREATE TABLE IF NOT EXISTS maturion_migrations.schema_migrations (
  scope TEXT NOT NULL,
  version TEXT NOT NULL,
  name TEXT NOT NULL,
  checksum TEXT NOT NULL,
  applied_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  applied_by TEXT NOT NULL DEFAULT session_user,
  execution_ms BIGINT NOT NULL,
  PRIMARY KEY (scope, version)
);

COMMENT ON SCHEMA maturion_migrations IS 'Bookkeeping of the migration engine; not tenant data.';
COMMENT ON TABLE maturion_migrations.schema_migrations IS 'One row per applied migration (spec §11.1).';
COMMENT ON COLUMN maturion_migrations.schema_migrations.scope IS 'Migration set: "platform" for the global schema, else the module name.';
COMMENT ON COLUMN maturion_migrations.schema_migrations.version IS 'Semantic version MAJOR.MINOR.PATCH of the migration.';
COMMENT ON COLUMN maturion_migrations.schema_migrations.name IS 'Name of the migration (folder name after the version).';
COMMENT ON COLUMN maturion_migrations.schema_migrations.checksum IS 'SHA-256 of the up script as applied; a later edit of the file is refused as drift.';
COMMENT ON COLUMN maturion_migrations.schema_migrations.applied_at IS 'When the migration was applied.';
COMMENT ON COLUMN maturion_migrations.schema_migrations.applied_by IS 'Session user that applied it.';
COMMENT ON COLUMN maturion_migrations.schema_migrations.execution_ms IS 'Time the up script took, in milliseconds.';
