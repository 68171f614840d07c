-- Reverts 3.0.0: the three indexes of platform 1.0.0 again, built on every partition.
CREATE INDEX idx_audit_log_user_id ON audit_log (organisation_id, user_id) WHERE user_id IS NOT NULL;
CREATE INDEX idx_audit_log_entity ON audit_log (organisation_id, entity_type, entity_id);
CREATE INDEX idx_audit_log_timestamp_brin ON audit_log USING brin (timestamp);
