-- Undoes 2.1.0: drop_audit_partition as in 1.0.0.
CREATE OR REPLACE FUNCTION maturion.drop_audit_partition(partition regclass)
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM maturion.seal_audit_log();
  RETURN maturion.remove_sealed_audit_partition(partition);
END
$$;
