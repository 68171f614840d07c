-- expect: require-concurrent-index-deletion
-- Superseded by risks_tenant_status_idx.
DROP INDEX risks_status_idx;
