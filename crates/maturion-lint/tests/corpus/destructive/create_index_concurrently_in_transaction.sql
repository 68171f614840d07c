-- expect: ban-concurrent-index-creation-in-transaction
CREATE INDEX CONCURRENTLY IF NOT EXISTS findings_risk_id_idx ON findings (risk_id);
