-- 1.0.0 global schema (spec §4–§7): tenant root, users, permissions, audit and event logs,
-- the tenant-isolation machinery every module table reuses.
-- Runs as maturion_owner (the migration engine SETs ROLE), which therefore owns every object.

CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public;

CREATE SCHEMA maturion;
COMMENT ON SCHEMA maturion IS 'Platform machinery shared by all modules: tenant-context functions and triggers.';
GRANT USAGE ON SCHEMA maturion TO maturion_app, maturion_readonly, maturion_maintenance;

------------------------------------------------------------------------------------------------
-- Identifiers
------------------------------------------------------------------------------------------------

-- RFC 9562 UUIDv7: 48-bit Unix milliseconds, 12 bits of sub-millisecond fraction (so ids made
-- in one session sort by time), version 7, variant 10, then random bits from gen_random_uuid().
CREATE FUNCTION public.generate_uuidv7() RETURNS uuid
LANGUAGE plpgsql VOLATILE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  micros bigint := floor(extract(epoch FROM clock_timestamp()) * 1000000)::bigint;
  fraction int := ((micros % 1000) * 4096 / 1000)::int;
  bytes bytea := uuid_send(gen_random_uuid());
BEGIN
  bytes := overlay(bytes PLACING substring(int8send(micros / 1000) FROM 3) FROM 1 FOR 6);
  bytes := set_byte(bytes, 6, 112 | (fraction >> 8));
  bytes := set_byte(bytes, 7, fraction & 255);
  RETURN encode(bytes, 'hex')::uuid;
END
$$;
COMMENT ON FUNCTION public.generate_uuidv7() IS 'Time-ordered UUIDv7 (RFC 9562) with sub-millisecond ordering; default for every id.';

------------------------------------------------------------------------------------------------
-- Tenant context (set only by the application, per transaction, with set_config(..., true))
------------------------------------------------------------------------------------------------

-- Statement-level guard: a write without tenant context is refused with a clear error instead
-- of silently matching nothing. Roles with BYPASSRLS (maintenance jobs) are exempt.
CREATE FUNCTION maturion.require_tenant_context() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  raw text := nullif(current_setting('app.current_organisation_id', true), '');
BEGIN
  IF raw IS NULL THEN
    IF (SELECT rolbypassrls FROM pg_roles WHERE rolname = current_user) THEN
      RETURN NULL;
    END IF;
    RAISE EXCEPTION 'no tenant context: % on % needs app.current_organisation_id', TG_OP, TG_TABLE_NAME
      USING ERRCODE = 'MT401',
            HINT = 'Open a tenant transaction; it sets app.current_organisation_id with set_config(..., true).';
  END IF;
  BEGIN
    PERFORM raw::uuid;
  EXCEPTION WHEN invalid_text_representation THEN
    RAISE EXCEPTION 'malformed tenant context: app.current_organisation_id = % is not a UUID', quote_literal(raw)
      USING ERRCODE = 'MT400';
  END;
  RETURN NULL;
END
$$;
COMMENT ON FUNCTION maturion.require_tenant_context() IS 'Statement trigger: refuses writes without a (well-formed) tenant context, except for BYPASSRLS maintenance roles.';

-- Row-level stamp of the standard audit fields (§5.1) and the cross-tenant write check (§7.2).
-- Runs before RLS WITH CHECK, so a write for another organisation gets this clear error.
CREATE FUNCTION maturion.stamp_audit_fields() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  organisation uuid := nullif(current_setting('app.current_organisation_id', true), '')::uuid;
  actor uuid := nullif(current_setting('app.current_user_id', true), '')::uuid;
BEGIN
  IF organisation IS NOT NULL AND NEW.organisation_id IS DISTINCT FROM organisation THEN
    RAISE EXCEPTION 'cross-tenant write refused: the row names organisation % but the tenant context is %',
      NEW.organisation_id, organisation
      USING ERRCODE = 'MT403';
  END IF;
  IF TG_OP = 'INSERT' THEN
    NEW.created_at := now();
    NEW.created_by := coalesce(NEW.created_by, actor);
    NEW.updated_at := NEW.created_at;
    NEW.updated_by := coalesce(NEW.updated_by, NEW.created_by);
    IF NEW.deleted_at IS NOT NULL THEN
      NEW.deleted_by := coalesce(NEW.deleted_by, actor);
    END IF;
  ELSE
    IF NEW.organisation_id IS DISTINCT FROM OLD.organisation_id THEN
      RAISE EXCEPTION 'organisation_id of a row cannot change (% to %)', OLD.organisation_id, NEW.organisation_id
        USING ERRCODE = 'MT403';
    END IF;
    NEW.created_at := OLD.created_at;
    NEW.created_by := OLD.created_by;
    NEW.updated_at := now();
    NEW.updated_by := coalesce(actor, NEW.updated_by);
    IF NEW.deleted_at IS NOT NULL AND OLD.deleted_at IS NULL THEN
      NEW.deleted_by := coalesce(actor, NEW.deleted_by);
    ELSIF NEW.deleted_at IS NULL THEN
      NEW.deleted_by := NULL;
    END IF;
  END IF;
  RETURN NEW;
END
$$;
COMMENT ON FUNCTION maturion.stamp_audit_fields() IS 'Row trigger: sets created_*/updated_*/deleted_by from app.current_user_id and refuses cross-tenant writes.';

-- One call turns a table with organisation_id into a tenant table: RLS enabled and forced, the
-- fail-closed policy, the write guards, and the standard privileges. Module migrations call it.
CREATE FUNCTION maturion.enable_tenant_isolation(target regclass, audit_fields boolean DEFAULT true)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', target);
  EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', target);
  EXECUTE format(
    'CREATE POLICY tenant_isolation ON %s '
    'USING (organisation_id = (select nullif(current_setting(''app.current_organisation_id'', true), '''')::uuid)) '
    'WITH CHECK (organisation_id = (select nullif(current_setting(''app.current_organisation_id'', true), '''')::uuid))',
    target);
  EXECUTE format(
    'CREATE TRIGGER require_tenant_context BEFORE INSERT OR UPDATE OR DELETE ON %s '
    'FOR EACH STATEMENT EXECUTE FUNCTION maturion.require_tenant_context()', target);
  IF audit_fields THEN
    EXECUTE format(
      'CREATE TRIGGER stamp_audit_fields BEFORE INSERT OR UPDATE ON %s '
      'FOR EACH ROW EXECUTE FUNCTION maturion.stamp_audit_fields()', target);
  END IF;
  -- No DELETE for the application: deletes are soft (§3.5); hard deletes are maintenance jobs.
  EXECUTE format('GRANT SELECT, INSERT, UPDATE ON %s TO maturion_app', target);
  EXECUTE format('GRANT SELECT ON %s TO maturion_readonly', target);
  EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %s TO maturion_maintenance', target);
END
$$;
COMMENT ON FUNCTION maturion.enable_tenant_isolation(regclass, boolean) IS 'Makes a table with organisation_id a tenant table: forced RLS, fail-closed policy, write guards, standard grants.';
REVOKE EXECUTE ON FUNCTION maturion.enable_tenant_isolation(regclass, boolean) FROM PUBLIC;

------------------------------------------------------------------------------------------------
-- §4.1 Tenant management
------------------------------------------------------------------------------------------------

CREATE TABLE organisations (
  id UUID PRIMARY KEY DEFAULT generate_uuidv7(),
  name TEXT NOT NULL CHECK (btrim(name) <> ''),
  legal_name TEXT,
  industry TEXT,
  country_code CHAR(2) CHECK (country_code ~ '^[A-Z]{2}$'),
  timezone TEXT DEFAULT 'UTC',
  created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  updated_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  deleted_at TIMESTAMPTZ NULL
);
COMMENT ON TABLE organisations IS 'Tenant root: one row per organisation; every tenant row points here. Visible only as the current organisation.';
COMMENT ON COLUMN organisations.id IS 'Organisation id (UUIDv7); the tenant key other tables call organisation_id.';
COMMENT ON COLUMN organisations.name IS 'Display name.';
COMMENT ON COLUMN organisations.legal_name IS 'Registered legal name.';
COMMENT ON COLUMN organisations.industry IS 'Industry sector, free text.';
COMMENT ON COLUMN organisations.country_code IS 'ISO 3166-1 alpha-2 country code, upper case.';
COMMENT ON COLUMN organisations.timezone IS 'IANA time zone used for the organisation''s reports.';
COMMENT ON COLUMN organisations.created_at IS 'When the organisation was created.';
COMMENT ON COLUMN organisations.updated_at IS 'When the organisation was last changed.';
COMMENT ON COLUMN organisations.deleted_at IS 'Soft delete: when the organisation was closed; NULL while active.';

CREATE INDEX idx_organisations_created_at ON organisations (created_at DESC);

ALTER TABLE organisations ENABLE ROW LEVEL SECURITY;
ALTER TABLE organisations FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON organisations
  USING (id = (select nullif(current_setting('app.current_organisation_id', true), '')::uuid))
  WITH CHECK (id = (select nullif(current_setting('app.current_organisation_id', true), '')::uuid));
CREATE TRIGGER require_tenant_context BEFORE INSERT OR UPDATE OR DELETE ON organisations
  FOR EACH STATEMENT EXECUTE FUNCTION maturion.require_tenant_context();

-- Keeps updated_at true for the tenant root, which has no *_by fields.
CREATE FUNCTION maturion.stamp_organisation() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    NEW.created_at := now();
  ELSE
    IF NEW.id IS DISTINCT FROM OLD.id THEN
      RAISE EXCEPTION 'an organisation id cannot change' USING ERRCODE = 'MT403';
    END IF;
    NEW.created_at := OLD.created_at;
  END IF;
  NEW.updated_at := now();
  RETURN NEW;
END
$$;
COMMENT ON FUNCTION maturion.stamp_organisation() IS 'Row trigger on organisations: keeps created_at/updated_at true and ids fixed.';
CREATE TRIGGER stamp_organisation BEFORE INSERT OR UPDATE ON organisations
  FOR EACH ROW EXECUTE FUNCTION maturion.stamp_organisation();

GRANT SELECT, INSERT, UPDATE ON organisations TO maturion_app;
GRANT SELECT ON organisations TO maturion_readonly;
GRANT SELECT, INSERT, UPDATE, DELETE ON organisations TO maturion_maintenance;

------------------------------------------------------------------------------------------------
-- §4.2 User management (users come before settings: settings carry created_by)
------------------------------------------------------------------------------------------------

CREATE TABLE users (
  id UUID PRIMARY KEY DEFAULT generate_uuidv7(),
  organisation_id UUID NOT NULL REFERENCES organisations(id),
  email TEXT NOT NULL CHECK (email ~ '^[^@[:space:]]+@[^@[:space:]]+$'),
  full_name TEXT NOT NULL CHECK (btrim(full_name) <> ''),
  role TEXT NOT NULL CHECK (btrim(role) <> ''),
  is_active BOOLEAN DEFAULT TRUE,
  created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  created_by UUID NOT NULL,
  updated_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  updated_by UUID,
  deleted_at TIMESTAMPTZ NULL,
  deleted_by UUID,
  UNIQUE (organisation_id, email),
  CONSTRAINT users_organisation_id_id_key UNIQUE (organisation_id, id),
  -- A user's first account is created by itself (created_by = id); the composite keys keep
  -- every reference inside one organisation.
  CONSTRAINT users_created_by_fkey FOREIGN KEY (organisation_id, created_by) REFERENCES users (organisation_id, id),
  CONSTRAINT users_updated_by_fkey FOREIGN KEY (organisation_id, updated_by) REFERENCES users (organisation_id, id),
  CONSTRAINT users_deleted_by_fkey FOREIGN KEY (organisation_id, deleted_by) REFERENCES users (organisation_id, id)
);
COMMENT ON TABLE users IS 'People who act in an organisation; the actors of every audit field.';
COMMENT ON COLUMN users.id IS 'User id (UUIDv7).';
COMMENT ON COLUMN users.organisation_id IS 'Tenant key: the organisation the user belongs to.';
COMMENT ON COLUMN users.email IS 'Login e-mail, unique within the organisation.';
COMMENT ON COLUMN users.full_name IS 'Name shown to other users.';
COMMENT ON COLUMN users.role IS 'Platform role of the user (e.g. admin, member, auditor).';
COMMENT ON COLUMN users.is_active IS 'False when the account is suspended.';
COMMENT ON COLUMN users.created_at IS 'When the row was created.';
COMMENT ON COLUMN users.created_by IS 'User who created the row (the user itself for an organisation''s first user).';
COMMENT ON COLUMN users.updated_at IS 'When the row was last changed.';
COMMENT ON COLUMN users.updated_by IS 'User who last changed the row.';
COMMENT ON COLUMN users.deleted_at IS 'Soft delete: when the user was removed; NULL while present.';
COMMENT ON COLUMN users.deleted_by IS 'User who soft-deleted the row.';

CREATE INDEX idx_users_organisation_id ON users (organisation_id, deleted_at);
CREATE INDEX idx_users_created_by ON users (organisation_id, created_by);
CREATE INDEX idx_users_updated_by ON users (organisation_id, updated_by) WHERE updated_by IS NOT NULL;
CREATE INDEX idx_users_deleted_by ON users (organisation_id, deleted_by) WHERE deleted_by IS NOT NULL;
CREATE INDEX idx_users_created_at ON users (organisation_id, created_at DESC);
CREATE INDEX idx_users_full_name_trgm ON users USING gin (full_name gin_trgm_ops);
SELECT maturion.enable_tenant_isolation('users');

CREATE TABLE user_permissions (
  id UUID PRIMARY KEY DEFAULT generate_uuidv7(),
  organisation_id UUID NOT NULL REFERENCES organisations(id),
  user_id UUID NOT NULL,
  module TEXT NOT NULL CHECK (module ~ '^[a-z][a-z0-9_]*$'),
  permission TEXT NOT NULL CHECK (btrim(permission) <> ''),
  granted_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  granted_by UUID,
  created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  created_by UUID NOT NULL,
  updated_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  updated_by UUID,
  deleted_at TIMESTAMPTZ NULL,
  deleted_by UUID,
  CONSTRAINT user_permissions_organisation_id_id_key UNIQUE (organisation_id, id),
  CONSTRAINT user_permissions_user_module_permission_key UNIQUE (organisation_id, user_id, module, permission),
  CONSTRAINT user_permissions_user_id_fkey FOREIGN KEY (organisation_id, user_id) REFERENCES users (organisation_id, id),
  CONSTRAINT user_permissions_granted_by_fkey FOREIGN KEY (organisation_id, granted_by) REFERENCES users (organisation_id, id),
  CONSTRAINT user_permissions_created_by_fkey FOREIGN KEY (organisation_id, created_by) REFERENCES users (organisation_id, id),
  CONSTRAINT user_permissions_updated_by_fkey FOREIGN KEY (organisation_id, updated_by) REFERENCES users (organisation_id, id),
  CONSTRAINT user_permissions_deleted_by_fkey FOREIGN KEY (organisation_id, deleted_by) REFERENCES users (organisation_id, id)
);
COMMENT ON TABLE user_permissions IS 'Permissions granted to a user for one module; a revocation is a soft delete.';
COMMENT ON COLUMN user_permissions.id IS 'Grant id (UUIDv7).';
COMMENT ON COLUMN user_permissions.organisation_id IS 'Tenant key.';
COMMENT ON COLUMN user_permissions.user_id IS 'User who holds the permission (same organisation).';
COMMENT ON COLUMN user_permissions.module IS 'Module the permission applies to, e.g. risks.';
COMMENT ON COLUMN user_permissions.permission IS 'Permission name within the module, e.g. approve.';
COMMENT ON COLUMN user_permissions.granted_at IS 'When the permission was granted.';
COMMENT ON COLUMN user_permissions.granted_by IS 'User who granted it.';
COMMENT ON COLUMN user_permissions.created_at IS 'When the row was created.';
COMMENT ON COLUMN user_permissions.created_by IS 'User who created the row.';
COMMENT ON COLUMN user_permissions.updated_at IS 'When the row was last changed.';
COMMENT ON COLUMN user_permissions.updated_by IS 'User who last changed the row.';
COMMENT ON COLUMN user_permissions.deleted_at IS 'Soft delete: when the permission was revoked.';
COMMENT ON COLUMN user_permissions.deleted_by IS 'User who revoked the permission.';

CREATE INDEX idx_user_permissions_user_id ON user_permissions (organisation_id, user_id);
CREATE INDEX idx_user_permissions_organisation_id ON user_permissions (organisation_id, deleted_at);
CREATE INDEX idx_user_permissions_granted_by ON user_permissions (organisation_id, granted_by) WHERE granted_by IS NOT NULL;
CREATE INDEX idx_user_permissions_created_by ON user_permissions (organisation_id, created_by);
CREATE INDEX idx_user_permissions_updated_by ON user_permissions (organisation_id, updated_by) WHERE updated_by IS NOT NULL;
CREATE INDEX idx_user_permissions_deleted_by ON user_permissions (organisation_id, deleted_by) WHERE deleted_by IS NOT NULL;
CREATE INDEX idx_user_permissions_created_at ON user_permissions (organisation_id, created_at DESC);
SELECT maturion.enable_tenant_isolation('user_permissions');

CREATE TABLE organisation_settings (
  id UUID PRIMARY KEY DEFAULT generate_uuidv7(),
  organisation_id UUID NOT NULL REFERENCES organisations(id),
  setting_key TEXT NOT NULL CHECK (setting_key ~ '^[a-z][a-z0-9_.]*$'),
  setting_value JSONB NOT NULL,
  created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  created_by UUID NOT NULL,
  updated_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  updated_by UUID,
  deleted_at TIMESTAMPTZ NULL,
  deleted_by UUID,
  UNIQUE (organisation_id, setting_key),
  CONSTRAINT organisation_settings_organisation_id_id_key UNIQUE (organisation_id, id),
  CONSTRAINT organisation_settings_created_by_fkey FOREIGN KEY (organisation_id, created_by) REFERENCES users (organisation_id, id),
  CONSTRAINT organisation_settings_updated_by_fkey FOREIGN KEY (organisation_id, updated_by) REFERENCES users (organisation_id, id),
  CONSTRAINT organisation_settings_deleted_by_fkey FOREIGN KEY (organisation_id, deleted_by) REFERENCES users (organisation_id, id)
);
COMMENT ON TABLE organisation_settings IS 'Per-organisation configuration, one JSON value per key.';
COMMENT ON COLUMN organisation_settings.id IS 'Setting id (UUIDv7).';
COMMENT ON COLUMN organisation_settings.organisation_id IS 'Tenant key.';
COMMENT ON COLUMN organisation_settings.setting_key IS 'Dotted lower-case key, unique within the organisation.';
COMMENT ON COLUMN organisation_settings.setting_value IS 'The value, as JSON.';
COMMENT ON COLUMN organisation_settings.created_at IS 'When the row was created.';
COMMENT ON COLUMN organisation_settings.created_by IS 'User who created the row.';
COMMENT ON COLUMN organisation_settings.updated_at IS 'When the row was last changed.';
COMMENT ON COLUMN organisation_settings.updated_by IS 'User who last changed the row.';
COMMENT ON COLUMN organisation_settings.deleted_at IS 'Soft delete: when the setting was removed.';
COMMENT ON COLUMN organisation_settings.deleted_by IS 'User who soft-deleted the row.';

CREATE INDEX idx_organisation_settings_organisation_id ON organisation_settings (organisation_id, deleted_at);
CREATE INDEX idx_organisation_settings_created_by ON organisation_settings (organisation_id, created_by);
CREATE INDEX idx_organisation_settings_updated_by ON organisation_settings (organisation_id, updated_by) WHERE updated_by IS NOT NULL;
CREATE INDEX idx_organisation_settings_deleted_by ON organisation_settings (organisation_id, deleted_by) WHERE deleted_by IS NOT NULL;
CREATE INDEX idx_organisation_settings_created_at ON organisation_settings (organisation_id, created_at DESC);
SELECT maturion.enable_tenant_isolation('organisation_settings');

------------------------------------------------------------------------------------------------
-- §4.3 Audit log and §4.4 event log: append-only, partitioned by month on "timestamp".
-- The default partition means an insert never fails for lack of a partition; monthly
-- partitions are created ahead by maintenance.
------------------------------------------------------------------------------------------------

CREATE TABLE audit_log (
  id UUID NOT NULL DEFAULT generate_uuidv7(),
  organisation_id UUID NOT NULL REFERENCES organisations(id),
  timestamp TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  user_id UUID,
  module TEXT NOT NULL,
  entity_type TEXT NOT NULL,
  entity_id UUID NOT NULL,
  action TEXT NOT NULL CHECK (action IN ('created', 'updated', 'deleted', 'viewed')),
  changes JSONB,
  ip_address INET,
  user_agent TEXT,
  PRIMARY KEY (timestamp, id),
  CONSTRAINT audit_log_organisation_id_id_key UNIQUE (organisation_id, timestamp, id),
  CONSTRAINT audit_log_user_id_fkey FOREIGN KEY (organisation_id, user_id) REFERENCES users (organisation_id, id)
) PARTITION BY RANGE (timestamp);
COMMENT ON TABLE audit_log IS 'Immutable audit trail (§4.3): one row per change or view of a tenant entity. Append-only.';
COMMENT ON COLUMN audit_log.id IS 'Entry id (UUIDv7).';
COMMENT ON COLUMN audit_log.organisation_id IS 'Tenant key.';
COMMENT ON COLUMN audit_log.timestamp IS 'When the action happened; the partition key.';
COMMENT ON COLUMN audit_log.user_id IS 'User who acted (from app.current_user_id); NULL for system actions.';
COMMENT ON COLUMN audit_log.module IS 'Module that owns the entity, e.g. risks.';
COMMENT ON COLUMN audit_log.entity_type IS 'Kind of entity, usually its table name.';
COMMENT ON COLUMN audit_log.entity_id IS 'Id of the entity acted on.';
COMMENT ON COLUMN audit_log.action IS 'created, updated, deleted or viewed.';
COMMENT ON COLUMN audit_log.changes IS 'What changed, as JSON (old and new values of changed columns).';
COMMENT ON COLUMN audit_log.ip_address IS 'Client IP address (from app.ip_address).';
COMMENT ON COLUMN audit_log.user_agent IS 'Client user agent (from app.user_agent).';

CREATE TABLE audit_log_default PARTITION OF audit_log DEFAULT;
COMMENT ON TABLE audit_log_default IS 'Catch-all partition of audit_log: rows outside every monthly partition land here.';

CREATE INDEX idx_audit_log_user_id ON audit_log (organisation_id, user_id) WHERE user_id IS NOT NULL;
CREATE INDEX idx_audit_log_entity ON audit_log (organisation_id, entity_type, entity_id);
CREATE INDEX idx_audit_log_timestamp_brin ON audit_log USING brin (timestamp);
SELECT maturion.enable_tenant_isolation('audit_log', audit_fields => false);
-- Append-only: the grants of enable_tenant_isolation are narrowed to read and insert.
REVOKE UPDATE ON audit_log FROM maturion_app;
REVOKE INSERT, UPDATE, DELETE ON audit_log FROM maturion_maintenance;

CREATE TABLE event_log (
  id UUID NOT NULL DEFAULT generate_uuidv7(),
  organisation_id UUID NOT NULL REFERENCES organisations(id),
  timestamp TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  event_type TEXT NOT NULL CHECK (event_type ~ '^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$'),
  source_module TEXT NOT NULL,
  source_entity_type TEXT,
  source_entity_id UUID,
  target_module TEXT,
  target_entity_type TEXT,
  target_entity_id UUID,
  payload JSONB,
  processed_at TIMESTAMPTZ,
  PRIMARY KEY (timestamp, id),
  CONSTRAINT event_log_organisation_id_id_key UNIQUE (organisation_id, timestamp, id)
) PARTITION BY RANGE (timestamp);
COMMENT ON TABLE event_log IS 'Cross-module event bus (§4.4, §12): events published in the transaction of the change they describe.';
COMMENT ON COLUMN event_log.id IS 'Event id (UUIDv7).';
COMMENT ON COLUMN event_log.organisation_id IS 'Tenant key.';
COMMENT ON COLUMN event_log.timestamp IS 'When the event was published; the partition key.';
COMMENT ON COLUMN event_log.event_type IS 'Dotted event name, e.g. risk.created.';
COMMENT ON COLUMN event_log.source_module IS 'Module that published the event.';
COMMENT ON COLUMN event_log.source_entity_type IS 'Kind of entity the event is about.';
COMMENT ON COLUMN event_log.source_entity_id IS 'Id of the entity the event is about (no FK: modules stay loosely coupled).';
COMMENT ON COLUMN event_log.target_module IS 'Module the event is addressed to, if any.';
COMMENT ON COLUMN event_log.target_entity_type IS 'Kind of entity the event targets, if any.';
COMMENT ON COLUMN event_log.target_entity_id IS 'Id of the entity the event targets, if any.';
COMMENT ON COLUMN event_log.payload IS 'Event data as JSON.';
COMMENT ON COLUMN event_log.processed_at IS 'When the event was first processed by a subscriber.';

CREATE TABLE event_log_default PARTITION OF event_log DEFAULT;
COMMENT ON TABLE event_log_default IS 'Catch-all partition of event_log: rows outside every monthly partition land here.';

CREATE INDEX idx_event_log_type ON event_log (organisation_id, event_type, timestamp);
CREATE INDEX idx_event_log_timestamp_brin ON event_log USING brin (timestamp);
SELECT maturion.enable_tenant_isolation('event_log', audit_fields => false);
REVOKE UPDATE ON event_log FROM maturion_app;
GRANT UPDATE (processed_at) ON event_log TO maturion_app;
