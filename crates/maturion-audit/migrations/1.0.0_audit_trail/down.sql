-- Reverts 1.0.0 audit trail: the seal chain, the guards, the trigger and the transaction id.
-- Destroys the seals (the audit rows themselves stay).

DROP FUNCTION maturion.drop_audit_partition(regclass);
DROP FUNCTION maturion.remove_sealed_audit_partition(regclass);
DROP FUNCTION maturion.audit_retention_text(text, timestamptz, timestamptz, bigint, bytea, text);
DROP FUNCTION maturion.seal_audit_log(integer);
DROP FUNCTION maturion.audit_seal_horizon();
DROP TABLE maturion.audit_retention_log;
DROP TABLE maturion.audit_seal_organisations;
DROP TABLE maturion.audit_seals;
DROP FUNCTION maturion.audit_seal_digest(bigint, timestamptz, bytea, bigint, bigint, bigint, bytea, text);
DROP FUNCTION maturion.audit_row_hash(public.audit_log);
DROP FUNCTION maturion.audit_micros(timestamptz);
DROP FUNCTION maturion.audit_field(text);

-- The guards (CASCADE: the TRUNCATE triggers of every partition).
DROP FUNCTION maturion.protect_audit_partition(regclass);
DROP FUNCTION maturion.refuse_log_change() CASCADE;
GRANT UPDATE, DELETE, TRUNCATE ON audit_log TO maturion_owner;
DO $$
DECLARE
  partition regclass;
BEGIN
  FOR partition IN SELECT inhrelid FROM pg_inherits WHERE inhparent = 'public.audit_log'::regclass LOOP
    EXECUTE format('GRANT UPDATE, DELETE, TRUNCATE ON %s TO maturion_owner', partition);
  END LOOP;
END
$$;

DROP FUNCTION maturion.record_view(text, text, uuid);
REVOKE INSERT ON audit_log FROM maturion_maintenance;
DROP POLICY audit_log_written_by_triggers ON audit_log;

-- enable_tenant_isolation as the platform defined it.
CREATE OR REPLACE FUNCTION maturion.enable_tenant_isolation(target regclass, audit_fields boolean DEFAULT true)
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
DROP FUNCTION maturion.enable_tenant_isolation(regclass, text, boolean, boolean);

-- CASCADE: the audit_trail triggers of the platform tables and of any module table.
DROP FUNCTION maturion.enable_audit_trail(regclass, text, text);
DROP FUNCTION maturion.audit_trail() CASCADE;

DROP INDEX idx_audit_log_transaction_id_brin;
ALTER TABLE audit_log DROP COLUMN transaction_id;
