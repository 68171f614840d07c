CREATE OR REPLACE FUNCTION open_finding_count(p_tenant uuid)
RETURNS bigint
LANGUAGE sql STABLE
BEGIN ATOMIC
    SELECT count(*) FROM findings WHERE tenant_id = p_tenant AND status = 'open';
END;
