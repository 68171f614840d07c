-- expect: ban-concurrent-index-creation-in-transaction
DROP INDEX CONCURRENTLY IF EXISTS findings_legacy_idx;
