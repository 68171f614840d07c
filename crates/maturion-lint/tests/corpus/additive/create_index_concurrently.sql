-- maturion:no-transaction
CREATE INDEX CONCURRENTLY IF NOT EXISTS findings_risk_id_idx ON findings (risk_id);
CREATE UNIQUE INDEX CONCURRENTLY controls_tenant_code_key ON controls (tenant_id, code);
