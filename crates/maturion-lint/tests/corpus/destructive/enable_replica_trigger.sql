-- expect: ban-disable-trigger
-- expect-line: 4
-- Replica-only firing: the audit trigger stops firing in every ordinary session.
ALTER TABLE risks ENABLE REPLICA TRIGGER audit_trail;
ALTER TABLE audit_log ENABLE ALWAYS TRIGGER audit_log_append_only;
