-- expect: ban-runtime-role-grant
-- expect-line: 6
CREATE TABLE risk_notes (id uuid PRIMARY KEY, organisation_id uuid NOT NULL, body text);
SELECT maturion.enable_tenant_isolation('risk_notes');
-- Deletes skip the audit trail's soft-delete; the app role never needs them.
GRANT SELECT, INSERT, UPDATE, DELETE ON risk_notes TO maturion_app;
