-- expect: ban-log-table-change
-- expect-line: 3
ALTER TABLE audit_log DETACH PARTITION audit_log_p2027_03;
DROP TABLE audit_log_p2027_03;
