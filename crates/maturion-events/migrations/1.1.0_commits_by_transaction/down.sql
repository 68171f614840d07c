-- maturion:no-transaction
DROP INDEX CONCURRENTLY maturion.idx_event_commits_transaction_id;
