-- 3.1.0: the audit functions the runtime roles may call say so in their COMMENT
-- (`@app-callable`, `@readonly-callable`; maturion-schema 2.1.0 explains the markers), and the
-- sealer's helpers are no longer callable by every role: only the sealer (maturion_maintenance,
-- or a superuser) and the SECURITY DEFINER functions of the owner use them.
COMMENT ON FUNCTION maturion.audit_entry_id() IS 'UUIDv7 of audit_log rows: Unix milliseconds, sub-millisecond fraction, random bits; inlined into the writing INSERT, which runs as whoever writes the audited row. @app-callable @readonly-callable';
COMMENT ON FUNCTION maturion.record_view(text, text, uuid) IS 'Writes a viewed entry to audit_log for the current tenant context (organisation, user, client address, user agent). @app-callable';
COMMENT ON FUNCTION maturion.record_views(text, text, uuid[]) IS 'Writes one viewed entry to audit_log per entity id, for the current tenant context (organisation, user, client address, user agent), in one INSERT; returns the number written. @app-callable';

REVOKE EXECUTE ON FUNCTION
  maturion.audit_field(text),
  maturion.audit_micros(timestamptz),
  maturion.audit_row_hash(audit_log),
  maturion.audit_seal_digest(bigint, timestamptz, bytea, bigint, bigint, bigint, bytea, text),
  maturion.audit_retention_text(text, timestamptz, timestamptz, bigint, bytea, text)
FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
  maturion.audit_field(text),
  maturion.audit_micros(timestamptz),
  maturion.audit_row_hash(audit_log),
  maturion.audit_seal_digest(bigint, timestamptz, bytea, bigint, bigint, bigint, bytea, text),
  maturion.audit_retention_text(text, timestamptz, timestamptz, bigint, bytea, text)
TO maturion_maintenance;
