-- Bodies are opaque: the DELETE below runs inside the function, not in the migration.
CREATE OR REPLACE FUNCTION purge_expired_sessions() RETURNS integer
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = public
AS $$
DECLARE
    purged integer;
BEGIN
    DELETE FROM user_sessions WHERE expires_at < now();
    GET DIAGNOSTICS purged = ROW_COUNT;
    DROP TABLE IF EXISTS tmp_purge;
    RETURN purged;
END;
$$;

CREATE OR REPLACE FUNCTION risk_score(likelihood integer, impact integer)
RETURNS integer
LANGUAGE sql IMMUTABLE
RETURN likelihood * impact;
