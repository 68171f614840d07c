-- Maintenance scope 1.2.0 (spec §10.3, legal hold): a legal hold on an organisation keeps
-- every log partition holding any of its rows past that log's retention, until the hold is
-- released. A partition is removed whole or not at all, so the other organisations' expired
-- rows in a held month stay with it; `maturion maintain` says which partitions it keeps and
-- for which holds.
--
-- Holds are placed and released by operators (never by the application) through the two
-- functions below, and are never deleted: the table is the record of which holds existed,
-- who placed and released them, and when.

CREATE TABLE maturion.legal_holds (
  id UUID PRIMARY KEY DEFAULT generate_uuidv7(),
  -- No foreign key: the record of a hold outlives an erased organisation (§10.3).
  organisation_id UUID NOT NULL,
  reason TEXT NOT NULL CHECK (btrim(reason) <> ''),
  placed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  placed_by TEXT NOT NULL DEFAULT session_user,
  released_at TIMESTAMPTZ,
  released_by TEXT,
  CHECK ((released_at IS NULL) = (released_by IS NULL))
);
COMMENT ON TABLE maturion.legal_holds IS '@internal Platform machinery, read by the retention job: legal holds on organisations (§10.3). A held organisation''s log partitions outlive their retention until the hold is released. Rows are never deleted.';
COMMENT ON COLUMN maturion.legal_holds.id IS 'Hold id (UUIDv7).';
COMMENT ON COLUMN maturion.legal_holds.organisation_id IS 'The organisation whose data is held.';
COMMENT ON COLUMN maturion.legal_holds.reason IS 'Why (matter, case or request reference).';
COMMENT ON COLUMN maturion.legal_holds.placed_at IS 'When the hold was placed.';
COMMENT ON COLUMN maturion.legal_holds.placed_by IS 'Database user who placed it.';
COMMENT ON COLUMN maturion.legal_holds.released_at IS 'When it was released; NULL while it holds.';
COMMENT ON COLUMN maturion.legal_holds.released_by IS 'Database user who released it.';
CREATE INDEX idx_legal_holds_organisation_id ON maturion.legal_holds (organisation_id) WHERE released_at IS NULL;
REVOKE ALL ON maturion.legal_holds FROM PUBLIC;

-- A hold is only ever released, once; nothing else about it changes, and it is never removed.
CREATE FUNCTION maturion.refuse_legal_hold_change() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND OLD.released_at IS NULL AND NEW.released_at IS NOT NULL
     AND (NEW.id, NEW.organisation_id, NEW.reason, NEW.placed_at, NEW.placed_by)
         IS NOT DISTINCT FROM (OLD.id, OLD.organisation_id, OLD.reason, OLD.placed_at, OLD.placed_by) THEN
    RETURN NEW;
  END IF;
  RAISE EXCEPTION 'legal holds are only placed and released: % refused', TG_OP
    USING ERRCODE = 'MT405',
          HINT = 'Release a hold with maturion.release_legal_hold(id); it stays on record.';
END
$$;
CREATE TRIGGER legal_holds_append_only BEFORE UPDATE OR DELETE ON maturion.legal_holds
  FOR EACH ROW EXECUTE FUNCTION maturion.refuse_legal_hold_change();
ALTER TABLE maturion.legal_holds ENABLE ALWAYS TRIGGER legal_holds_append_only;
CREATE TRIGGER legal_holds_no_truncate BEFORE TRUNCATE ON maturion.legal_holds
  FOR EACH STATEMENT EXECUTE FUNCTION maturion.refuse_legal_hold_change();
ALTER TABLE maturion.legal_holds ENABLE ALWAYS TRIGGER legal_holds_no_truncate;

CREATE FUNCTION maturion.place_legal_hold(organisation uuid, reason text) RETURNS uuid
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  hold uuid;
BEGIN
  IF organisation IS NULL OR NOT EXISTS (SELECT FROM public.organisations o WHERE o.id = organisation) THEN
    RAISE EXCEPTION 'no organisation % to place a legal hold on', organisation USING ERRCODE = '22023';
  END IF;
  IF reason IS NULL OR btrim(reason) = '' THEN
    RAISE EXCEPTION 'a legal hold needs a reason' USING ERRCODE = '22023';
  END IF;
  INSERT INTO maturion.legal_holds (organisation_id, reason)
  VALUES (organisation, btrim(reason))
  RETURNING id INTO hold;
  RETURN hold;
END
$$;
COMMENT ON FUNCTION maturion.place_legal_hold(uuid, text) IS 'Places a legal hold on an organisation: its log partitions outlive their retention until released. Returns the hold id.';

CREATE FUNCTION maturion.release_legal_hold(hold uuid) RETURNS boolean
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$
  WITH released AS (
    UPDATE maturion.legal_holds h SET released_at = now(), released_by = session_user
    WHERE h.id = hold AND h.released_at IS NULL
    RETURNING 1
  )
  SELECT EXISTS (SELECT FROM released);
$$;
COMMENT ON FUNCTION maturion.release_legal_hold(uuid) IS 'Releases a legal hold; false when there is no such hold in force.';
REVOKE EXECUTE ON FUNCTION maturion.place_legal_hold(uuid, text), maturion.release_legal_hold(uuid) FROM PUBLIC;

-- The holds in force whose organisation has rows in a partition of a log: what keeps it.
-- SECURITY DEFINER: the retention job's roles may not read the partitions or the holds.
CREATE FUNCTION maturion.legal_holds_on(partition regclass)
RETURNS SETOF maturion.legal_holds
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_inherits
                 WHERE inhrelid = partition
                   AND inhparent IN ('public.audit_log'::regclass, 'public.event_log'::regclass)) THEN
    RAISE EXCEPTION '% is not a partition of audit_log or event_log', partition USING ERRCODE = '22023';
  END IF;
  RETURN QUERY EXECUTE format(
    'SELECT h.* FROM maturion.legal_holds h
     WHERE h.released_at IS NULL
       AND EXISTS (SELECT FROM %s p WHERE p.organisation_id = h.organisation_id)
     ORDER BY h.placed_at', partition);
END
$$;
COMMENT ON FUNCTION maturion.legal_holds_on(regclass) IS 'Legal holds in force on organisations that have rows in the given partition.';
REVOKE EXECUTE ON FUNCTION maturion.legal_holds_on(regclass) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION maturion.legal_holds_on(regclass) TO maturion_maintenance;
