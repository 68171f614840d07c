-- expect: ban-blocking-table-maintenance
REFRESH MATERIALIZED VIEW reporting.control_coverage;
