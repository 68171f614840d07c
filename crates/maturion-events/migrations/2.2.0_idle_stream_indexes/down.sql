-- maturion:no-transaction
DROP INDEX CONCURRENTLY IF EXISTS maturion.idx_event_cursors_resting;
DROP INDEX CONCURRENTLY IF EXISTS maturion.idx_event_cursors_active;
