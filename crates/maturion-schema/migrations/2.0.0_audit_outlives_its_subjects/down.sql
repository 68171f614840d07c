-- Reverts 2.0.0: the foreign keys again. PostgreSQL 15 cannot add them NOT VALID on a
-- partitioned table, so the revert fails (and changes nothing) while audit rows name an
-- erased user or a removed organisation.
ALTER TABLE audit_log ADD CONSTRAINT audit_log_action_check
  CHECK (action IN ('created', 'updated', 'deleted', 'viewed'));
ALTER TABLE audit_log ADD CONSTRAINT audit_log_organisation_id_fkey
  FOREIGN KEY (organisation_id) REFERENCES organisations (id);
ALTER TABLE audit_log ADD CONSTRAINT audit_log_user_id_fkey
  FOREIGN KEY (organisation_id, user_id) REFERENCES users (organisation_id, id);
COMMENT ON COLUMN audit_log.organisation_id IS 'Tenant key.';
COMMENT ON COLUMN audit_log.action IS 'created, updated, deleted or viewed.';
COMMENT ON COLUMN audit_log.user_id IS 'User who acted (from app.current_user_id); NULL for system actions.';
