CREATE MATERIALIZED VIEW reporting.control_coverage AS
SELECT tenant_id, count(*) AS controls, count(*) FILTER (WHERE tested_at IS NOT NULL) AS tested
  FROM controls
 GROUP BY tenant_id;

CREATE UNIQUE INDEX control_coverage_tenant_key ON reporting.control_coverage (tenant_id);
