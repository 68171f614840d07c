-- A new table for risk treatments, isolated per tenant.
CREATE TABLE risk_treatments (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    risk_id uuid NOT NULL REFERENCES risks (id) ON DELETE CASCADE,
    action text NOT NULL,
    due_on date,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT risk_treatments_action_not_blank CHECK (action <> '')
);

ALTER TABLE risk_treatments ENABLE ROW LEVEL SECURITY;
ALTER TABLE risk_treatments FORCE ROW LEVEL SECURITY;

CREATE POLICY tenant_isolation ON risk_treatments
    USING (tenant_id = current_setting('maturion.tenant_id')::uuid)
    WITH CHECK (tenant_id = current_setting('maturion.tenant_id')::uuid);

CREATE INDEX risk_treatments_risk_id_idx ON risk_treatments (risk_id);
CREATE UNIQUE INDEX risk_treatments_tenant_action_key ON public.risk_treatments (tenant_id, risk_id, action);

GRANT SELECT, INSERT, UPDATE ON risk_treatments TO maturion_app;
GRANT SELECT ON risk_treatments TO maturion_readonly;
