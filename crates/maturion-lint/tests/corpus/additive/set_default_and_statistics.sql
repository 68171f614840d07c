ALTER TABLE findings ALTER COLUMN status SET DEFAULT 'open';
ALTER TABLE findings ALTER COLUMN tenant_id SET STATISTICS 500;
ALTER TABLE findings SET (autovacuum_vacuum_scale_factor = 0.05);
