-- The planner never uses this index (see pg_stat_user_indexes).
-- maturion:no-transaction
DROP INDEX CONCURRENTLY IF EXISTS risks_legacy_ref_idx;
