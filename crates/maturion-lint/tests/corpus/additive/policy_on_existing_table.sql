-- Auditors may read every finding of their own tenant, but not change them.
CREATE POLICY auditor_read ON findings
    FOR SELECT
    TO maturion_auditor
    USING (tenant_id = current_setting('maturion.tenant_id')::uuid);

ALTER POLICY tenant_isolation ON findings
    USING (tenant_id = current_setting('maturion.tenant_id')::uuid AND deleted_at IS NULL);
