-- maturion:no-transaction
REINDEX INDEX CONCURRENTLY risks_tenant_id_idx;
