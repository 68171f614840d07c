-- expect: ban-log-table-change
ALTER TABLE audit_log ADD COLUMN note text;
CREATE TRIGGER audit_log_scrub BEFORE INSERT ON audit_log
    FOR EACH ROW EXECUTE FUNCTION scrub();
