-- 2.1.0: the audit trail's own retention entry point refuses a partition that holds rows of an
-- organisation under a legal hold (maintenance 1.2.0), whoever calls it. The maintenance job
-- checks first and keeps such a partition; this is the database's own guarantee.

CREATE OR REPLACE FUNCTION maturion.drop_audit_partition(partition regclass)
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  held text;
BEGIN
  SELECT string_agg(format('%s (organisation %s: %s)', h.id, h.organisation_id, h.reason), '; ')
    INTO held
    FROM maturion.legal_holds_on(partition) h;
  IF held IS NOT NULL THEN
    RAISE EXCEPTION 'audit_log partition % holds rows under legal hold %', partition, held
      USING ERRCODE = 'MT423',
            HINT = 'It stays until the holds are released (maturion legal-hold release).';
  END IF;
  PERFORM maturion.seal_audit_log();
  RETURN maturion.remove_sealed_audit_partition(partition);
END
$$;
