-- maturion:destructive drops three indexes of audit_log; an index of a partitioned table cannot be dropped CONCURRENTLY
--
-- 3.0.0: audit_log keeps the indexes that its readers use, and no other. Every audit row
-- pays for every index of audit_log inside the transaction that writes it (measured with
-- callgrind: the three below cost an audit row written by the trigger 38,000 instructions,
-- of 860,000 for its whole one-row transaction, and a row of a batch of viewed entries
-- 28,000 of its 72,000).
--
-- What reads audit_log, and through which index:
--   * the sealer, `maturion audit verify`, the rollups' changed hours: transaction_id ranges,
--     the BRIN on transaction_id (audit 1.0.0);
--   * the hourly rollups: (organisation_id, "timestamp") ranges, and the legal-hold check of a
--     partition (maintenance 1.2.0): organisation_id, both through the tenant unique key
--     (organisation_id, "timestamp", id), which `maturion check` requires anyway;
--   * the maintenance job moving rows out of the default partition: "timestamp" ranges, the
--     primary key ("timestamp", id);
--   * retention: whole partitions.
-- Nothing reads by user or by entity, and "timestamp" is the primary key's first column, so
-- these go. A reader that needs one of them (an entity's history) adds it with its query.
DROP INDEX idx_audit_log_user_id;
DROP INDEX idx_audit_log_entity;
DROP INDEX idx_audit_log_timestamp_brin;
