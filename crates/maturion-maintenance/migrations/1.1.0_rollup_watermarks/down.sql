-- Undoes 1.1.0_rollup_watermarks. A scope that registered a log must be reverted first (it
-- restores the log's insert trigger).
DROP FUNCTION maturion.rollup_follow_watermark(text, bigint);
DROP FUNCTION maturion.finished_transactions_horizon();
DROP TABLE maturion.rollup_watermarks;
