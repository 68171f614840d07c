-- maturion:destructive creates a BRIN index on the existing audit_log (see below)
--
-- 1.0.0 audit trail (spec §3.4, §4.3, §10.2), applied after the platform schema:
--   * a generic row trigger (maturion.audit_trail) that writes one audit_log row per changed
--     row of a tenant table, attached to the platform tables here and to module tables by
--     maturion.enable_tenant_isolation;
--   * audit_log made immutable for every role, its owner included (privileges and guard
--     triggers), with one way out for the retention job: maturion.drop_audit_partition;
--   * tamper evidence: a sealer hashes committed audit rows into a chain of batch digests
--     (maturion.audit_seals) that `maturion audit verify` recomputes independently.
--
-- Why the directive: the only statement the lint counts as breaking is the non-concurrent
-- CREATE INDEX on audit_log. A partitioned table cannot be indexed CONCURRENTLY, and a BRIN
-- index is built in one sequential pass; audit_log holds no trigger-written rows before this
-- version, so the SHARE lock is short.

------------------------------------------------------------------------------------------------
-- Transaction id: groups one business operation's rows and orders rows for sealing.
------------------------------------------------------------------------------------------------

-- txid_current() is STABLE, so existing rows get this migration's transaction id without a
-- rewrite; every new row gets its own transaction's id whoever inserts it.
ALTER TABLE audit_log ADD COLUMN transaction_id bigint DEFAULT txid_current();
COMMENT ON COLUMN audit_log.transaction_id IS 'Top-level transaction id (txid_current()) of the write: groups one business operation''s rows; the sealer seals by it.';

-- Rows arrive in transaction-id order, so a BRIN index finds the sealer's next batch cheaply
-- and costs almost nothing on insert (the unsummarised tail needs no upkeep).
CREATE INDEX idx_audit_log_transaction_id_brin ON audit_log USING brin (transaction_id);

------------------------------------------------------------------------------------------------
-- The audit trigger
------------------------------------------------------------------------------------------------

-- Row trigger, AFTER INSERT OR UPDATE OR DELETE. Arguments: module, tenant key column
-- ('organisation_id', or 'id' for the tenant root), entity type (the table's name when the
-- trigger was attached, so rows of a partitioned table name the table, not the partition).
-- SECURITY INVOKER: the writer's own INSERT privilege and RLS apply to the audit row, whose
-- organisation is that of the row just written (which passed the table's own RLS check).
-- No SET search_path (it would cost a GUC save and restore on every row): every name is
-- qualified, and the roles that write tenant tables can create no object to shadow one.
-- Costs are kept to one to_jsonb per row image and one INSERT per row (an update also runs
-- one query to find the changed columns); no per-column loop.
CREATE FUNCTION maturion.audit_trail() RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
  new_row jsonb;
  old_row jsonb;
  changed jsonb;
  organisation uuid;
  actor uuid := nullif(pg_catalog.current_setting('app.current_user_id', true), '')::uuid;
BEGIN
  IF TG_OP = 'INSERT' THEN
    new_row := pg_catalog.to_jsonb(NEW);
    organisation := (new_row ->> TG_ARGV[1])::uuid;
  ELSE
    old_row := pg_catalog.to_jsonb(OLD);
    organisation := (old_row ->> TG_ARGV[1])::uuid;
    IF TG_OP = 'UPDATE' THEN
      new_row := pg_catalog.to_jsonb(NEW);
    END IF;
  END IF;

  -- audit_log.user_id references a user of the same organisation. A new organisation has no
  -- user yet when it is created, so on the tenant root the actor is kept only if it belongs.
  IF TG_ARGV[1] = 'id' AND actor IS NOT NULL THEN
    actor := (SELECT u.id FROM public.users u WHERE u.organisation_id = organisation AND u.id = actor);
  END IF;

  IF TG_OP = 'INSERT' THEN
    INSERT INTO public.audit_log
      (organisation_id, user_id, module, entity_type, entity_id, action, changes, ip_address, user_agent)
    VALUES
      (organisation, actor, TG_ARGV[0], TG_ARGV[2], NEW.id, 'created', new_row,
       nullif(pg_catalog.current_setting('app.ip_address', true), '')::inet,
       nullif(pg_catalog.current_setting('app.user_agent', true), ''));
  ELSIF TG_OP = 'UPDATE' THEN
    -- Only the columns that changed, as {"column": {"old": …, "new": …}}; nothing when no
    -- column changed. A soft delete (deleted_at set) is a deletion; a restore (deleted_at
    -- cleared) is an update whose changes show deleted_at going back to null.
    changed := (
      SELECT pg_catalog.jsonb_object_agg(
               n.key, pg_catalog.jsonb_build_object('old', old_row -> n.key, 'new', n.value))
      FROM pg_catalog.jsonb_each(new_row) AS n
      WHERE n.value IS DISTINCT FROM old_row -> n.key);
    IF changed IS NULL THEN
      RETURN NULL;
    END IF;
    INSERT INTO public.audit_log
      (organisation_id, user_id, module, entity_type, entity_id, action, changes, ip_address, user_agent)
    VALUES
      (organisation, actor, TG_ARGV[0], TG_ARGV[2], NEW.id,
       CASE WHEN old_row ->> 'deleted_at' IS NULL AND new_row ->> 'deleted_at' IS NOT NULL
            THEN 'deleted' ELSE 'updated' END,
       changed,
       nullif(pg_catalog.current_setting('app.ip_address', true), '')::inet,
       nullif(pg_catalog.current_setting('app.user_agent', true), ''));
  ELSE
    INSERT INTO public.audit_log
      (organisation_id, user_id, module, entity_type, entity_id, action, changes, ip_address, user_agent)
    VALUES
      (organisation, actor, TG_ARGV[0], TG_ARGV[2], OLD.id, 'deleted', old_row,
       nullif(pg_catalog.current_setting('app.ip_address', true), '')::inet,
       nullif(pg_catalog.current_setting('app.user_agent', true), ''));
  END IF;
  RETURN NULL;
END
$$;
COMMENT ON FUNCTION maturion.audit_trail() IS 'Row trigger audit_trail: one audit_log row per inserted, updated (changed columns only) or deleted row. Arguments: module, tenant key column, entity type.';

-- Attaches the audit trigger to one table. Module migrations normally get it through
-- maturion.enable_tenant_isolation(table, module => '…').
CREATE FUNCTION maturion.enable_audit_trail(target regclass, module text, tenant_key text DEFAULT 'organisation_id')
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  table_name text;
  key_columns integer := CASE WHEN tenant_key = 'id' THEN 1 ELSE 2 END;
BEGIN
  IF module IS NULL OR module !~ '^[a-z][a-z0-9_]*$' THEN
    RAISE EXCEPTION 'module name % must be lower case letters, digits and _', quote_nullable(module)
      USING ERRCODE = '22023';
  END IF;
  IF target IN ('public.audit_log'::regclass, 'public.event_log'::regclass) THEN
    RAISE EXCEPTION '% is a log, not an audited entity table', target USING ERRCODE = '22023';
  END IF;
  IF (SELECT count(*) FROM pg_attribute
      WHERE attrelid = target AND attnum > 0 AND NOT attisdropped
        AND attname IN ('id', tenant_key) AND atttypid = 'uuid'::regtype) <> key_columns THEN
    RAISE EXCEPTION '% cannot be audited: it needs uuid columns id and %', target, tenant_key
      USING ERRCODE = '22023';
  END IF;
  SELECT c.relname INTO table_name FROM pg_class c WHERE c.oid = target;
  EXECUTE format(
    'CREATE TRIGGER audit_trail AFTER INSERT OR UPDATE OR DELETE ON %s '
    'FOR EACH ROW EXECUTE FUNCTION maturion.audit_trail(%L, %L, %L)',
    target, module, tenant_key, table_name);
END
$$;
COMMENT ON FUNCTION maturion.enable_audit_trail(regclass, text, text) IS 'Attaches the audit_trail trigger (maturion.audit_trail) to a tenant table for a module.';
REVOKE EXECUTE ON FUNCTION maturion.enable_audit_trail(regclass, text, text) FROM PUBLIC;

SELECT maturion.enable_audit_trail('organisations', 'platform', tenant_key => 'id');
SELECT maturion.enable_audit_trail('users', 'platform');
SELECT maturion.enable_audit_trail('user_permissions', 'platform');
SELECT maturion.enable_audit_trail('organisation_settings', 'platform');
-- event_log is not audited: an event is itself a record of a change that the source table's
-- own trigger already audited, and consumers' processed_at updates are delivery bookkeeping.

-- Module tables: enable_tenant_isolation now attaches the trigger too. The new overload names
-- the module; the old signature keeps working and takes the module from the migration scope
-- when the migrator sets maturion.migration_scope, else 'platform'. Tables without uuid
-- columns id and organisation_id cannot be audited and are left without the trigger (with a
-- notice; `maturion check` reports them).
CREATE FUNCTION maturion.enable_tenant_isolation(
  target regclass, module text, audit_fields boolean DEFAULT true, audit_trail boolean DEFAULT true)
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
  IF audit_trail THEN
    PERFORM maturion.enable_audit_trail(target, module);
  END IF;
  -- No DELETE for the application: deletes are soft (§3.5); hard deletes are maintenance jobs.
  EXECUTE format('GRANT SELECT, INSERT, UPDATE ON %s TO maturion_app', target);
  EXECUTE format('GRANT SELECT ON %s TO maturion_readonly', target);
  EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %s TO maturion_maintenance', target);
END
$$;
COMMENT ON FUNCTION maturion.enable_tenant_isolation(regclass, text, boolean, boolean) IS 'Makes a table with organisation_id a tenant table of a module: forced RLS, fail-closed policy, write guards, the audit_trail trigger, standard grants.';
REVOKE EXECUTE ON FUNCTION maturion.enable_tenant_isolation(regclass, text, boolean, boolean) FROM PUBLIC;

CREATE OR REPLACE FUNCTION maturion.enable_tenant_isolation(target regclass, audit_fields boolean DEFAULT true)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  auditable boolean := target NOT IN ('public.audit_log'::regclass, 'public.event_log'::regclass)
    AND (SELECT count(*) FROM pg_attribute
         WHERE attrelid = target AND attnum > 0 AND NOT attisdropped
           AND attname IN ('id', 'organisation_id') AND atttypid = 'uuid'::regtype) = 2;
BEGIN
  IF NOT auditable THEN
    RAISE NOTICE '% gets no audit_trail trigger: it needs uuid columns id and organisation_id', target;
  END IF;
  PERFORM maturion.enable_tenant_isolation(
    target,
    coalesce(nullif(current_setting('maturion.migration_scope', true), ''), 'platform'),
    audit_fields,
    auditable);
END
$$;
COMMENT ON FUNCTION maturion.enable_tenant_isolation(regclass, boolean) IS 'Makes a table with organisation_id a tenant table: forced RLS, fail-closed policy, write guards, the audit_trail trigger (module from maturion.migration_scope, else platform), standard grants.';

------------------------------------------------------------------------------------------------
-- Who may write audit rows
------------------------------------------------------------------------------------------------

-- The application writes audit rows only through triggers (and record_view below): a direct
-- INSERT could forge history. RESTRICTIVE, so it narrows the tenant policy without opening
-- anything; pg_trigger_depth() is 0 for a statement the application sends itself.
CREATE POLICY audit_log_written_by_triggers ON audit_log AS RESTRICTIVE FOR INSERT TO maturion_app
  WITH CHECK (pg_trigger_depth() > 0);

-- Maintenance jobs (BYPASSRLS) that change tenant rows are audited like anyone else, so the
-- trigger needs their INSERT back (1.0.0 of the platform revoked it).
GRANT INSERT ON audit_log TO maturion_maintenance;

-- `viewed` entries: an explicit call, for the current tenant context's organisation and user.
-- SECURITY DEFINER because the application cannot insert into audit_log directly.
CREATE FUNCTION maturion.record_view(module text, entity_type text, entity_id uuid)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  organisation text := nullif(current_setting('app.current_organisation_id', true), '');
BEGIN
  IF organisation IS NULL THEN
    RAISE EXCEPTION 'no tenant context: record_view needs app.current_organisation_id'
      USING ERRCODE = 'MT401',
            HINT = 'Open a tenant transaction; it sets app.current_organisation_id with set_config(..., true).';
  END IF;
  IF record_view.module IS NULL OR record_view.module !~ '^[a-z][a-z0-9_]*$' THEN
    RAISE EXCEPTION 'module name % must be lower case letters, digits and _', quote_nullable(record_view.module)
      USING ERRCODE = '22023';
  END IF;
  IF record_view.entity_type IS NULL OR btrim(record_view.entity_type) = '' OR record_view.entity_id IS NULL THEN
    RAISE EXCEPTION 'record_view needs an entity type and an entity id' USING ERRCODE = '22023';
  END IF;
  -- The organisation is cast inside the INSERT so that a malformed context meets the
  -- require_tenant_context statement trigger (MT400) first.
  INSERT INTO public.audit_log
    (organisation_id, user_id, module, entity_type, entity_id, action, ip_address, user_agent)
  VALUES
    (organisation::uuid,
     nullif(current_setting('app.current_user_id', true), '')::uuid,
     record_view.module, record_view.entity_type, record_view.entity_id, 'viewed',
     nullif(current_setting('app.ip_address', true), '')::inet,
     nullif(current_setting('app.user_agent', true), ''));
END
$$;
COMMENT ON FUNCTION maturion.record_view(text, text, uuid) IS 'Writes a viewed entry to audit_log for the current tenant context (organisation, user, client address, user agent).';
REVOKE EXECUTE ON FUNCTION maturion.record_view(text, text, uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION maturion.record_view(text, text, uuid) TO maturion_app;

------------------------------------------------------------------------------------------------
-- Immutability: no UPDATE, DELETE or TRUNCATE for anyone, owner included
------------------------------------------------------------------------------------------------

-- Privileges stop every role but the owner (which could grant itself back) and superusers;
-- these guard triggers stop them too, and ENABLE ALWAYS keeps them firing under
-- session_replication_role = replica. What still gets through (a superuser disabling the
-- triggers, the owner dropping a partition) is what the seal chain detects.
CREATE FUNCTION maturion.refuse_log_change() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
    USING ERRCODE = 'MT405',
          HINT = 'Audit entries and seals are never changed or removed; only the retention job removes whole expired audit_log partitions, with maturion.drop_audit_partition().';
END
$$;
COMMENT ON FUNCTION maturion.refuse_log_change() IS 'Guard trigger of audit_log and the seal tables: refuses UPDATE, DELETE and TRUNCATE.';

-- A row trigger on the partitioned parent is cloned to every partition, present and future.
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
  FOR EACH ROW EXECUTE FUNCTION maturion.refuse_log_change();
ALTER TABLE audit_log ENABLE ALWAYS TRIGGER audit_log_append_only;
-- TRUNCATE triggers are not inherited: each partition needs its own (protect_audit_partition).
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION maturion.refuse_log_change();
ALTER TABLE audit_log ENABLE ALWAYS TRIGGER audit_log_no_truncate;
REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM PUBLIC, maturion_owner, maturion_app, maturion_readonly, maturion_maintenance;

-- Whoever creates or re-attaches an audit_log partition (the partition maintenance job) must
-- call this on it: the TRUNCATE guard (not inherited), ENABLE ALWAYS on the row guard (a clone
-- starts out enabled for origin sessions only, so replica mode would skip it), and no UPDATE,
-- DELETE or TRUNCATE privilege for anyone. Idempotent.
CREATE FUNCTION maturion.protect_audit_partition(partition regclass)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_inherits WHERE inhrelid = partition AND inhparent = 'public.audit_log'::regclass) THEN
    RAISE EXCEPTION '% is not a partition of audit_log', partition USING ERRCODE = '22023';
  END IF;
  IF NOT EXISTS (SELECT FROM pg_trigger WHERE tgrelid = partition AND tgname = 'audit_log_no_truncate') THEN
    EXECUTE format(
      'CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON %s '
      'FOR EACH STATEMENT EXECUTE FUNCTION maturion.refuse_log_change()', partition);
  END IF;
  EXECUTE format('ALTER TABLE %s ENABLE ALWAYS TRIGGER audit_log_no_truncate', partition);
  EXECUTE format('ALTER TABLE %s ENABLE ALWAYS TRIGGER audit_log_append_only', partition);
  EXECUTE format(
    'REVOKE UPDATE, DELETE, TRUNCATE ON %s FROM PUBLIC, maturion_owner, maturion_app, maturion_readonly, maturion_maintenance',
    partition);
END
$$;
COMMENT ON FUNCTION maturion.protect_audit_partition(regclass) IS 'Call on every new audit_log partition: TRUNCATE guard, ALWAYS-enabled row guard, no UPDATE/DELETE/TRUNCATE privilege.';
REVOKE EXECUTE ON FUNCTION maturion.protect_audit_partition(regclass) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION maturion.protect_audit_partition(regclass) TO maturion_maintenance;

SELECT maturion.protect_audit_partition(inhrelid) FROM pg_inherits WHERE inhparent = 'audit_log'::regclass;

------------------------------------------------------------------------------------------------
-- Tamper evidence: the seal chain
------------------------------------------------------------------------------------------------
-- A seal covers every audit row whose transaction_id lies in [xid_from, xid_to); consecutive
-- seals cover consecutive ranges. The sealer only seals below a horizon under which every
-- transaction of this database has ended, so no row can later appear in a sealed range, and
-- writers never wait for it. Per seal and organisation, row_index lists each sealed row
-- (16-byte id, 8-byte timestamp in microseconds, 32-byte SHA-256 of its canonical text) in
-- (transaction_id, timestamp, id) order; digest = sha256(row_index). A seal's digest chains
-- the previous digest, its range, counts and its organisations' digests. The canonical forms
-- are mirrored in Rust (crates/maturion-audit/src/canonical.rs), which verifies without
-- trusting these functions.

-- One field of a canonical text: 'n' for NULL, else 's<bytes>:<text>'; unambiguous whatever
-- the text holds.
CREATE FUNCTION maturion.audit_field(value text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT CASE WHEN value IS NULL THEN 'n' ELSE 's' || pg_catalog.octet_length(value) || ':' || value END $$;

-- Microseconds since the Unix epoch, independent of the session's TimeZone and DateStyle.
CREATE FUNCTION maturion.audit_micros(value timestamptz) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT (extract(epoch FROM value - timestamptz '1970-01-01 00:00:00+00') * 1000000)::bigint $$;

-- SHA-256 of the canonical text of every column of an audit row (format v1).
CREATE FUNCTION maturion.audit_row_hash(entry public.audit_log) RETURNS bytea
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
  SELECT pg_catalog.sha256(pg_catalog.convert_to(
    'maturion.audit_log.v1'
    || maturion.audit_field(entry.id::text)
    || maturion.audit_field(entry.organisation_id::text)
    || maturion.audit_field(maturion.audit_micros(entry."timestamp")::text)
    || maturion.audit_field(entry.user_id::text)
    || maturion.audit_field(entry.module)
    || maturion.audit_field(entry.entity_type)
    || maturion.audit_field(entry.entity_id::text)
    || maturion.audit_field(entry.action)
    || maturion.audit_field(entry.changes::text)
    || maturion.audit_field(entry.ip_address::text)
    || maturion.audit_field(entry.user_agent)
    || maturion.audit_field(entry.transaction_id::text),
    'UTF8'))
$$;

-- The digest of one seal. organisations: for each organisation in uuid order, its 16-byte id,
-- 8-byte row count and 32-byte digest. retention: the canonical text of a partition removal
-- this seal records, or NULL.
CREATE FUNCTION maturion.audit_seal_digest(
  seq bigint, sealed_at timestamptz, previous_digest bytea, xid_from bigint, xid_to bigint,
  row_count bigint, organisations bytea, retention text)
RETURNS bytea
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT pg_catalog.sha256(
    '\x6d61747572696f6e2e61756469745f7365616c2e7631'::bytea  -- 'maturion.audit_seal.v1'
    || pg_catalog.int8send(seq)
    || pg_catalog.int8send(maturion.audit_micros(sealed_at))
    || previous_digest
    || pg_catalog.int8send(xid_from)
    || pg_catalog.int8send(xid_to)
    || pg_catalog.int8send(row_count)
    || pg_catalog.sha256(organisations)
    || CASE WHEN retention IS NULL THEN '\x00'::bytea
            ELSE '\x01'::bytea || pg_catalog.sha256(pg_catalog.convert_to(retention, 'UTF8')) END)
$$;

CREATE TABLE maturion.audit_seals (
  seq bigint PRIMARY KEY CHECK (seq > 0),
  sealed_at timestamptz NOT NULL,
  xid_from bigint NOT NULL CHECK (xid_from >= 0),
  xid_to bigint NOT NULL,
  row_count bigint NOT NULL CHECK (row_count >= 0),
  previous_digest bytea NOT NULL CHECK (octet_length(previous_digest) = 32),
  digest bytea NOT NULL CHECK (octet_length(digest) = 32),
  CONSTRAINT audit_seals_range_check CHECK (xid_to >= xid_from),
  CONSTRAINT audit_seals_previous_digest_key UNIQUE (previous_digest),
  CONSTRAINT audit_seals_digest_key UNIQUE (digest)
);
COMMENT ON TABLE maturion.audit_seals IS '@internal Hash chain over audit_log: seal seq covers the audit rows with transaction_id in [xid_from, xid_to). Append-only.';
COMMENT ON COLUMN maturion.audit_seals.seq IS 'Position in the chain, from 1 without gaps.';
COMMENT ON COLUMN maturion.audit_seals.sealed_at IS 'When the seal was made.';
COMMENT ON COLUMN maturion.audit_seals.xid_from IS 'First transaction id covered (inclusive); the previous seal''s xid_to.';
COMMENT ON COLUMN maturion.audit_seals.xid_to IS 'End of the covered transaction ids (exclusive).';
COMMENT ON COLUMN maturion.audit_seals.row_count IS 'Audit rows sealed (0 for a seal that records a partition removal).';
COMMENT ON COLUMN maturion.audit_seals.previous_digest IS 'Digest of seal seq - 1 (32 zero bytes for the first seal).';
COMMENT ON COLUMN maturion.audit_seals.digest IS 'SHA-256 over this seal''s fields, its organisations'' digests and the previous digest (maturion.audit_seal_digest).';

CREATE TABLE maturion.audit_seal_organisations (
  seal_seq bigint NOT NULL,
  organisation_id uuid NOT NULL,
  row_count bigint NOT NULL CHECK (row_count > 0),
  row_index bytea NOT NULL CHECK (octet_length(row_index) = row_count * 56),
  digest bytea NOT NULL CHECK (octet_length(digest) = 32),
  PRIMARY KEY (seal_seq, organisation_id)
);
-- Hashes do not compress: store the index out of line without trying.
ALTER TABLE maturion.audit_seal_organisations ALTER COLUMN row_index SET STORAGE EXTERNAL;
CREATE INDEX idx_audit_seal_organisations_organisation ON maturion.audit_seal_organisations (organisation_id, seal_seq);
COMMENT ON TABLE maturion.audit_seal_organisations IS '@internal Per seal and organisation: the sealed rows and their digest, so one organisation''s rows verify alone and a break is located to the row. Append-only.';
COMMENT ON COLUMN maturion.audit_seal_organisations.seal_seq IS 'The seal.';
COMMENT ON COLUMN maturion.audit_seal_organisations.organisation_id IS 'Organisation of the rows (no foreign key: seals outlive organisations).';
COMMENT ON COLUMN maturion.audit_seal_organisations.row_count IS 'Rows of this organisation in the seal.';
COMMENT ON COLUMN maturion.audit_seal_organisations.row_index IS 'Per row, in (transaction_id, timestamp, id) order: id (16 bytes), timestamp in Unix microseconds (8 bytes, big-endian), SHA-256 of the canonical row (32 bytes).';
COMMENT ON COLUMN maturion.audit_seal_organisations.digest IS 'sha256(row_index).';

CREATE TABLE maturion.audit_retention_log (
  seal_seq bigint PRIMARY KEY,
  partition_name text NOT NULL,
  range_from timestamptz NOT NULL,
  range_to timestamptz NOT NULL,
  row_count bigint NOT NULL CHECK (row_count >= 0),
  last_seal_digest bytea NOT NULL CHECK (octet_length(last_seal_digest) = 32),
  removed_by text NOT NULL
);
COMMENT ON TABLE maturion.audit_retention_log IS '@internal Every audit_log partition removed by retention, recorded in the seal chain (seal_seq) so that verify accepts the missing rows and nothing else. Append-only.';
COMMENT ON COLUMN maturion.audit_retention_log.seal_seq IS 'The seal whose digest covers this removal.';
COMMENT ON COLUMN maturion.audit_retention_log.partition_name IS 'Qualified name of the dropped partition.';
COMMENT ON COLUMN maturion.audit_retention_log.range_from IS 'Lower bound of the partition (inclusive).';
COMMENT ON COLUMN maturion.audit_retention_log.range_to IS 'Upper bound of the partition (exclusive).';
COMMENT ON COLUMN maturion.audit_retention_log.row_count IS 'Rows the partition held when dropped.';
COMMENT ON COLUMN maturion.audit_retention_log.last_seal_digest IS 'Digest of the last seal before the removal.';
COMMENT ON COLUMN maturion.audit_retention_log.removed_by IS 'Session user that ran the removal.';

-- The seal tables are as immutable as audit_log, and internal: no application privileges.
-- They have no foreign keys to audit_seals: a foreign key check locks the referenced row,
-- which needs the UPDATE privilege even the owner gives up here; the seal digest binds them.
CREATE TRIGGER audit_seals_append_only BEFORE UPDATE OR DELETE ON maturion.audit_seals
  FOR EACH ROW EXECUTE FUNCTION maturion.refuse_log_change();
CREATE TRIGGER audit_seals_no_truncate BEFORE TRUNCATE ON maturion.audit_seals
  FOR EACH STATEMENT EXECUTE FUNCTION maturion.refuse_log_change();
CREATE TRIGGER audit_seal_organisations_append_only BEFORE UPDATE OR DELETE ON maturion.audit_seal_organisations
  FOR EACH ROW EXECUTE FUNCTION maturion.refuse_log_change();
CREATE TRIGGER audit_seal_organisations_no_truncate BEFORE TRUNCATE ON maturion.audit_seal_organisations
  FOR EACH STATEMENT EXECUTE FUNCTION maturion.refuse_log_change();
CREATE TRIGGER audit_retention_log_append_only BEFORE UPDATE OR DELETE ON maturion.audit_retention_log
  FOR EACH ROW EXECUTE FUNCTION maturion.refuse_log_change();
CREATE TRIGGER audit_retention_log_no_truncate BEFORE TRUNCATE ON maturion.audit_retention_log
  FOR EACH STATEMENT EXECUTE FUNCTION maturion.refuse_log_change();
ALTER TABLE maturion.audit_seals ENABLE ALWAYS TRIGGER audit_seals_append_only;
ALTER TABLE maturion.audit_seals ENABLE ALWAYS TRIGGER audit_seals_no_truncate;
ALTER TABLE maturion.audit_seal_organisations ENABLE ALWAYS TRIGGER audit_seal_organisations_append_only;
ALTER TABLE maturion.audit_seal_organisations ENABLE ALWAYS TRIGGER audit_seal_organisations_no_truncate;
ALTER TABLE maturion.audit_retention_log ENABLE ALWAYS TRIGGER audit_retention_log_append_only;
ALTER TABLE maturion.audit_retention_log ENABLE ALWAYS TRIGGER audit_retention_log_no_truncate;
REVOKE ALL ON maturion.audit_seals, maturion.audit_seal_organisations, maturion.audit_retention_log FROM PUBLIC;
REVOKE UPDATE, DELETE, TRUNCATE ON maturion.audit_seals, maturion.audit_seal_organisations, maturion.audit_retention_log FROM maturion_owner;
GRANT SELECT, INSERT ON maturion.audit_seals, maturion.audit_seal_organisations, maturion.audit_retention_log TO maturion_maintenance;

-- The sealer's horizon: a transaction id below which every transaction that could write to
-- this database has ended, so the rows below it are final. The snapshot's xmin would do, but
-- it is held back by the transactions of every database in the cluster. So a transaction
-- the snapshot saw running is skipped when it is proven harmless: ended since (it can write
-- nothing more, and a later snapshot sees its rows), or running in another database (its
-- xid lock is held by a backend connected elsewhere). Anything unproven holds it back: a
-- prepared transaction, an xid whose lock is not visible yet.
CREATE FUNCTION maturion.audit_seal_horizon() RETURNS bigint
LANGUAGE sql
VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
  WITH snapshot AS (
    SELECT pg_current_snapshot() AS s
  ), elsewhere AS MATERIALIZED (
    SELECT l.transactionid
    FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
    WHERE l.locktype = 'transactionid' AND l.mode = 'ExclusiveLock' AND l.granted
      AND a.datid IS DISTINCT FROM (SELECT d.oid FROM pg_database d WHERE d.datname = current_database())
  )
  SELECT least(
    (SELECT pg_snapshot_xmax(s) FROM snapshot),
    (SELECT min(x) FROM snapshot, pg_snapshot_xip(s) AS x
     WHERE NOT EXISTS (SELECT FROM elsewhere e WHERE e.transactionid = xid(x))
       AND pg_xact_status(x) IS DISTINCT FROM 'committed'
       AND pg_xact_status(x) IS DISTINCT FROM 'aborted'))::text::bigint
$$;
COMMENT ON FUNCTION maturion.audit_seal_horizon() IS 'Transaction id below which every transaction that could write audit rows in this database has ended.';
REVOKE EXECUTE ON FUNCTION maturion.audit_seal_horizon() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION maturion.audit_seal_horizon() TO maturion_maintenance;

-- Seals every audit row below the horizon not sealed yet, in batches of whole transactions
-- of about max_rows rows; returns one row per seal made. Runs only as maturion_maintenance (or
-- a superuser): it must read every organisation's rows. Sealers take turns on an advisory
-- lock; writers never touch it.
CREATE FUNCTION maturion.seal_audit_log(max_rows integer DEFAULT 50000)
RETURNS TABLE (sealed_seq bigint, sealed_xid_from bigint, sealed_xid_to bigint, sealed_rows bigint, sealed_digest bytea)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  next_seq bigint;
  next_from bigint;
  previous bytea;
  horizon bigint;
  starts bigint[];
  batches integer;
  upper_bound bigint;
  organisations bytea;
  stamp timestamptz;
BEGIN
  IF max_rows IS NULL OR max_rows < 1 THEN
    RAISE EXCEPTION 'max_rows must be at least 1' USING ERRCODE = '22023';
  END IF;
  -- Under RLS the sealer would see one organisation's rows, or none (the owner, with no
  -- context), and seal a range as if the others did not exist.
  IF NOT (SELECT r.rolsuper OR r.rolbypassrls FROM pg_roles r WHERE r.rolname = current_user) THEN
    RAISE EXCEPTION 'seal_audit_log must run as a role that bypasses row-level security, not %', current_user
      USING ERRCODE = '42501', HINT = 'SET ROLE maturion_maintenance first.';
  END IF;
  PERFORM pg_advisory_xact_lock(hashtext('maturion.audit_seals'));
  SELECT s.seq + 1, s.xid_to, s.digest INTO next_seq, next_from, previous
  FROM maturion.audit_seals s ORDER BY s.seq DESC LIMIT 1;
  next_seq := coalesce(next_seq, 1);
  next_from := coalesce(next_from, 0);
  previous := coalesce(previous, '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea);
  horizon := maturion.audit_seal_horizon();
  IF horizon <= next_from THEN
    RETURN;
  END IF;

  -- First transaction id of each batch: whole transactions, cut every max_rows rows.
  SELECT array_agg(b.first_xid ORDER BY b.first_xid) INTO starts
  FROM (
    SELECT min(t.xid) AS first_xid
    FROM (
      SELECT p.xid, ((sum(p.n) OVER (ORDER BY p.xid))::bigint - p.n) / max_rows AS batch
      FROM (
        SELECT a.transaction_id AS xid, count(*) AS n
        FROM public.audit_log a
        WHERE a.transaction_id >= next_from AND a.transaction_id < horizon
        GROUP BY a.transaction_id
      ) p
    ) t
    GROUP BY t.batch
  ) b;
  batches := coalesce(array_length(starts, 1), 0);

  FOR i IN 1 .. batches LOOP
    -- The first batch starts where the chain ended, so that ranges stay contiguous.
    IF i > 1 THEN
      next_from := starts[i];
    END IF;
    upper_bound := CASE WHEN i < batches THEN starts[i + 1] ELSE horizon END;
    stamp := clock_timestamp();

    INSERT INTO maturion.audit_seal_organisations (seal_seq, organisation_id, row_count, row_index, digest)
    SELECT next_seq, g.organisation_id, g.n, g.row_index, sha256(g.row_index)
    FROM (
      SELECT a.organisation_id, count(*) AS n,
             string_agg(uuid_send(a.id) || int8send(maturion.audit_micros(a."timestamp")) || maturion.audit_row_hash(a),
                        '\x'::bytea ORDER BY a.transaction_id, a."timestamp", a.id) AS row_index
      FROM public.audit_log a
      WHERE a.transaction_id >= next_from AND a.transaction_id < upper_bound
      GROUP BY a.organisation_id
    ) g;

    SELECT coalesce(sum(o.row_count), 0),
           coalesce(string_agg(uuid_send(o.organisation_id) || int8send(o.row_count) || o.digest,
                               '\x'::bytea ORDER BY o.organisation_id), '\x'::bytea)
      INTO sealed_rows, organisations
    FROM maturion.audit_seal_organisations o WHERE o.seal_seq = next_seq;

    sealed_digest := maturion.audit_seal_digest(
      next_seq, stamp, previous, next_from, upper_bound, sealed_rows, organisations, NULL);
    INSERT INTO maturion.audit_seals (seq, sealed_at, xid_from, xid_to, row_count, previous_digest, digest)
    VALUES (next_seq, stamp, next_from, upper_bound, sealed_rows, previous, sealed_digest);

    sealed_seq := next_seq;
    sealed_xid_from := next_from;
    sealed_xid_to := upper_bound;
    RETURN NEXT;
    previous := sealed_digest;
    next_seq := next_seq + 1;
  END LOOP;
END
$$;
COMMENT ON FUNCTION maturion.seal_audit_log(integer) IS 'Seals the audit rows of every ended transaction not sealed yet into the hash chain; one result row per seal made.';
REVOKE EXECUTE ON FUNCTION maturion.seal_audit_log(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION maturion.seal_audit_log(integer) TO maturion_maintenance;

------------------------------------------------------------------------------------------------
-- Retention: the only way audit rows leave, a whole sealed partition at a time, on the record
------------------------------------------------------------------------------------------------

-- Canonical text of a partition removal, covered by the digest of the seal that records it.
CREATE FUNCTION maturion.audit_retention_text(
  partition_name text, range_from timestamptz, range_to timestamptz, row_count bigint,
  last_seal_digest bytea, removed_by text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT 'maturion.audit_retention.v1'
    || maturion.audit_field(partition_name)
    || maturion.audit_field(maturion.audit_micros(range_from)::text)
    || maturion.audit_field(maturion.audit_micros(range_to)::text)
    || maturion.audit_field(row_count::text)
    || maturion.audit_field(pg_catalog.encode(last_seal_digest, 'hex'))
    || maturion.audit_field(removed_by)
$$;

-- Drops one audit_log partition whose rows are all sealed, after recording the removal in a
-- seal of its own. SECURITY DEFINER: dropping needs the owner. It reads the partition itself:
-- the parent's forced RLS would blind the owner, a partition's own RLS does not (not forced).
CREATE FUNCTION maturion.remove_sealed_audit_partition(partition regclass)
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  bound text;
  range_from timestamptz;
  range_to timestamptz;
  partition_rows bigint;
  unsealed bigint;
  head_seq bigint;
  head_to bigint;
  head_digest bytea;
  stamp timestamptz := clock_timestamp();
  retention text;
  seal_digest bytea;
BEGIN
  IF NOT EXISTS (SELECT FROM pg_inherits WHERE inhrelid = partition AND inhparent = 'public.audit_log'::regclass) THEN
    RAISE EXCEPTION '% is not a partition of audit_log', partition USING ERRCODE = '22023';
  END IF;
  SELECT pg_get_expr(c.relpartbound, c.oid) INTO bound FROM pg_class c WHERE c.oid = partition;
  range_from := substring(bound FROM $re$FROM \('([^']+)'\)$re$)::timestamptz;
  range_to := substring(bound FROM $re$TO \('([^']+)'\)$re$)::timestamptz;
  IF range_from IS NULL OR range_to IS NULL THEN
    RAISE EXCEPTION 'only a bounded range partition of audit_log can expire; % is %', partition, bound
      USING ERRCODE = '22023';
  END IF;
  -- RLS merely enabled on a partition (no grant reaches it anyway) does not apply to its owner;
  -- forced, it would hide the rows this function must count.
  IF (SELECT c.relforcerowsecurity FROM pg_class c WHERE c.oid = partition) THEN
    RAISE EXCEPTION '% forces row-level security on its owner: its rows cannot be counted before removal', partition
      USING ERRCODE = '55000';
  END IF;

  PERFORM pg_advisory_xact_lock(hashtext('maturion.audit_seals'));
  -- No row may arrive between the count and the drop. LOCK TABLE needs a privilege the owner
  -- gave up on the partition (protect_audit_partition); it takes it back for this transaction,
  -- at whose end the partition is gone.
  EXECUTE format('GRANT TRUNCATE ON %s TO maturion_owner', partition);
  EXECUTE format('LOCK TABLE %s IN ACCESS EXCLUSIVE MODE', partition);
  SELECT s.seq, s.xid_to, s.digest INTO head_seq, head_to, head_digest
  FROM maturion.audit_seals s ORDER BY s.seq DESC LIMIT 1;
  EXECUTE format(
    'SELECT count(*), count(*) FILTER (WHERE transaction_id IS NULL OR transaction_id >= $1) FROM %s', partition)
    INTO partition_rows, unsealed USING coalesce(head_to, 0);
  IF head_seq IS NULL OR unsealed > 0 THEN
    RAISE EXCEPTION '% holds % unsealed audit rows: seal them first', partition, coalesce(unsealed, partition_rows)
      USING ERRCODE = '55000', HINT = 'Run maturion.drop_audit_partition(), which seals first.';
  END IF;

  retention := maturion.audit_retention_text(
    partition::text, range_from, range_to, partition_rows, head_digest, session_user::text);
  seal_digest := maturion.audit_seal_digest(
    head_seq + 1, stamp, head_digest, head_to, head_to, 0, '\x'::bytea, retention);
  INSERT INTO maturion.audit_seals (seq, sealed_at, xid_from, xid_to, row_count, previous_digest, digest)
  VALUES (head_seq + 1, stamp, head_to, head_to, 0, head_digest, seal_digest);
  INSERT INTO maturion.audit_retention_log
    (seal_seq, partition_name, range_from, range_to, row_count, last_seal_digest, removed_by)
  VALUES (head_seq + 1, partition::text, range_from, range_to, partition_rows, head_digest, session_user::text);
  EXECUTE format('DROP TABLE %s', partition);
  RETURN head_seq + 1;
END
$$;
COMMENT ON FUNCTION maturion.remove_sealed_audit_partition(regclass) IS 'Drops a fully sealed audit_log partition after recording its range, row count and the last seal digest in a seal of its own.';
REVOKE EXECUTE ON FUNCTION maturion.remove_sealed_audit_partition(regclass) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION maturion.remove_sealed_audit_partition(regclass) TO maturion_maintenance;

-- What the retention job calls, as maturion_maintenance (sealing reads every organisation's
-- rows, which the owner cannot under the forced RLS): seal, then remove.
CREATE FUNCTION maturion.drop_audit_partition(partition regclass)
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM maturion.seal_audit_log();
  RETURN maturion.remove_sealed_audit_partition(partition);
END
$$;
COMMENT ON FUNCTION maturion.drop_audit_partition(regclass) IS 'Retention: seals, then drops an expired audit_log partition on the record. Returns the seal that records the removal.';
REVOKE EXECUTE ON FUNCTION maturion.drop_audit_partition(regclass) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION maturion.drop_audit_partition(regclass) TO maturion_maintenance;
