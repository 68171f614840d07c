-- expect: ban-blocking-table-maintenance
-- expect-line: 3
VACUUM FULL risks;
