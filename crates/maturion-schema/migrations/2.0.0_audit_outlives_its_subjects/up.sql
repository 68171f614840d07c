-- maturion:destructive drops the two foreign keys and the action check of audit_log
--
-- 2.0.0: the audit trail outlives the organisations and users it names.
--
-- audit_log is immutable, so a foreign key from it to users or organisations forbids for ever
-- the hard delete that §10.3 requires for GDPR/POPIA erasure (a user who ever acted could not
-- be removed, nor a closed organisation), and no ON DELETE action is possible on a log nobody
-- may change. The keys also cost every audit row two lookups with row locks: in a batch of
-- `viewed` entries, half of the insert time. What they guaranteed is kept by the writers
-- instead, which are the only ones the application has: the audit trigger takes the
-- organisation from the row it audits (which the table's own foreign key checked) and checks
-- that the actor is a user of that organisation; record_views checks both once per call (audit
-- scope 2.0.0). maturion check exempts audit_log from the organisation foreign key rule.
-- The CHECK on action goes too: PostgreSQL parses a table's CHECK expressions again for every
-- INSERT statement, which the audit trigger runs once per audited row (measured: a tenth of
-- the trigger's cost). Its writers write fixed actions: created, updated, deleted, viewed.
ALTER TABLE audit_log DROP CONSTRAINT audit_log_action_check;
ALTER TABLE audit_log DROP CONSTRAINT audit_log_organisation_id_fkey;
ALTER TABLE audit_log DROP CONSTRAINT audit_log_user_id_fkey;
COMMENT ON COLUMN audit_log.organisation_id IS 'Tenant key. No foreign key: the trail outlives the organisation; its writers check it.';
COMMENT ON COLUMN audit_log.action IS 'created, updated, deleted or viewed (written only by the audit trigger and record_view(s)).';
COMMENT ON COLUMN audit_log.user_id IS 'User who acted (from app.current_user_id), a user of the organisation when written; NULL for system actions. No foreign key: the trail outlives the user (erasure).';
