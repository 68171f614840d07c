-- Reverts 3.1.0: the sealer's helpers callable by PUBLIC again, comments without markers.
REVOKE EXECUTE ON FUNCTION
  maturion.audit_field(text),
  maturion.audit_micros(timestamptz),
  maturion.audit_row_hash(audit_log),
  maturion.audit_seal_digest(bigint, timestamptz, bytea, bigint, bigint, bigint, bytea, text),
  maturion.audit_retention_text(text, timestamptz, timestamptz, bigint, bytea, text)
FROM maturion_maintenance;
GRANT EXECUTE ON FUNCTION
  maturion.audit_field(text),
  maturion.audit_micros(timestamptz),
  maturion.audit_row_hash(audit_log),
  maturion.audit_seal_digest(bigint, timestamptz, bytea, bigint, bigint, bigint, bytea, text),
  maturion.audit_retention_text(text, timestamptz, timestamptz, bigint, bytea, text)
TO PUBLIC;
COMMENT ON FUNCTION maturion.audit_entry_id() IS 'UUIDv7 of audit_log rows: Unix milliseconds, sub-millisecond fraction, random bits; inlined into the writing INSERT.';
COMMENT ON FUNCTION maturion.record_view(text, text, uuid) IS 'Writes a viewed entry to audit_log for the current tenant context (organisation, user, client address, user agent).';
COMMENT ON FUNCTION maturion.record_views(text, text, uuid[]) IS 'Writes one viewed entry to audit_log per entity id, for the current tenant context (organisation, user, client address, user agent), in one INSERT; returns the number written.';
