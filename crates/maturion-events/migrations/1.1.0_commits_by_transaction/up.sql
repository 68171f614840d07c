-- maturion:no-transaction
-- 1.1.0: publishing transactions found by their id, which lets the rollup refresh follow the
-- event log through event_commits (2.0.0) instead of an insert trigger on event_log. One
-- index entry per publishing transaction and organisation, not per event.
CREATE INDEX CONCURRENTLY idx_event_commits_transaction_id ON maturion.event_commits (transaction_id);
