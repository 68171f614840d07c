-- expect: no-transaction-mixed
-- expect-line: 6
-- maturion:no-transaction
CREATE INDEX CONCURRENTLY findings_tenant_idx ON findings (tenant_id);

ALTER TABLE findings ADD COLUMN severity text;
