-- Reverts 2.2.0: audit_log's ids from generate_uuidv7() again.
ALTER TABLE audit_log ALTER COLUMN id SET DEFAULT generate_uuidv7();
DROP FUNCTION maturion.audit_entry_id();
