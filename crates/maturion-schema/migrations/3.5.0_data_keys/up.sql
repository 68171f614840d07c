-- 3.5.0: the data keys of envelope encryption (spec §10.1).
--
-- Sensitive fields are encrypted by the application (maturion-crypto, AES-256-GCM) with a data
-- key of their organisation, or of one data subject within it. Data keys are stored here only
-- wrapped (encrypted) by a master key that lives outside the database (a key file or an
-- environment variable), so neither this table, its backups nor its WAL reveal them. Keys are
-- versioned: rotation adds a version that new values use, and older versions stay to decrypt
-- what they encrypted. Destroying a subject's keys (right to be forgotten) makes every value
-- encrypted with them unreadable.
--
-- The runtime roles reach the table only through the functions below, which act for the
-- organisation of the transaction's verified binding; the table's own policy says the same
-- for its owner. Rotation runs as the maintenance role.

CREATE TABLE maturion.data_keys (
  id uuid PRIMARY KEY DEFAULT public.generate_uuidv7(),
  organisation_id uuid NOT NULL REFERENCES public.organisations (id) ON DELETE CASCADE,
  subject_id uuid,
  version integer NOT NULL CHECK (version > 0),
  wrapped_key bytea CHECK (octet_length(wrapped_key) = 60),
  master_key_id text NOT NULL CHECK (master_key_id ~ '^[0-9a-f]{16}$'),
  created_at timestamptz NOT NULL DEFAULT now(),
  rewrapped_at timestamptz,
  destroyed_at timestamptz,
  CONSTRAINT data_keys_destroyed_keep_nothing CHECK ((destroyed_at IS NULL) = (wrapped_key IS NOT NULL)),
  CONSTRAINT data_keys_one_version UNIQUE NULLS NOT DISTINCT (organisation_id, subject_id, version)
);
COMMENT ON TABLE maturion.data_keys IS '@internal Data keys of envelope encryption, each wrapped by the master key held outside the database; one line of versions per organisation, and per data subject that has its own. Reached only through the platform''s functions.';
COMMENT ON COLUMN maturion.data_keys.id IS 'Key id (UUIDv7): every encrypted value names the key that encrypted it.';
COMMENT ON COLUMN maturion.data_keys.organisation_id IS 'The organisation whose data the key encrypts.';
COMMENT ON COLUMN maturion.data_keys.subject_id IS 'The data subject whose data the key encrypts; NULL for the organisation''s own key.';
COMMENT ON COLUMN maturion.data_keys.version IS 'Version within its line (organisation, subject): new values use the highest.';
COMMENT ON COLUMN maturion.data_keys.wrapped_key IS 'The 256-bit key, AES-256-GCM-encrypted by the master key (nonce, ciphertext, tag); NULL once destroyed.';
COMMENT ON COLUMN maturion.data_keys.master_key_id IS 'Fingerprint of the master key that wrapped it (never the key).';
COMMENT ON COLUMN maturion.data_keys.created_at IS 'When the version was made: its age decides rotation (90 days).';
COMMENT ON COLUMN maturion.data_keys.rewrapped_at IS 'When a new master key last re-wrapped it; NULL if never.';
COMMENT ON COLUMN maturion.data_keys.destroyed_at IS 'When it was destroyed (right to be forgotten); what it encrypted is unreadable since.';

ALTER TABLE maturion.data_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE maturion.data_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON maturion.data_keys
  USING (organisation_id = (SELECT maturion.current_organisation_id()))
  WITH CHECK (organisation_id = (SELECT maturion.current_organisation_id()));
GRANT SELECT, INSERT, UPDATE ON maturion.data_keys TO maturion_maintenance;

-- The data keys of the bound organisation (none without a verified binding).
CREATE FUNCTION maturion.organisation_data_keys()
RETURNS TABLE (id uuid, subject_id uuid, version integer, wrapped_key bytea, master_key_id text,
               created_at timestamptz, destroyed_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT k.id, k.subject_id, k.version, k.wrapped_key, k.master_key_id, k.created_at, k.destroyed_at
  FROM maturion.data_keys k
  WHERE k.organisation_id = maturion.current_organisation_id()
  ORDER BY k.subject_id NULLS FIRST, k.version
$$;
COMMENT ON FUNCTION maturion.organisation_data_keys() IS 'The wrapped data keys of the organisation this transaction is bound to; none when unbound. @app-callable @readonly-callable';
REVOKE EXECUTE ON FUNCTION maturion.organisation_data_keys() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION maturion.organisation_data_keys() TO maturion_app, maturion_readonly;

-- The next version of the bound organisation's key (subject NULL) or of one subject's. Two
-- transactions adding the same version at once collide on the unique key: the caller retries.
CREATE FUNCTION maturion.add_data_key(subject uuid, wrapped bytea, master_key text,
                                      OUT id uuid, OUT version integer)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  organisation uuid := maturion.current_organisation_id();
BEGIN
  IF organisation IS NULL THEN
    RAISE EXCEPTION 'no verified tenant binding: bind the transaction with maturion.bind_tenant first'
      USING ERRCODE = 'MT401';
  END IF;
  SELECT coalesce(max(k.version), 0) + 1 INTO version
  FROM maturion.data_keys k
  WHERE k.organisation_id = organisation AND k.subject_id IS NOT DISTINCT FROM subject;
  INSERT INTO maturion.data_keys (organisation_id, subject_id, version, wrapped_key, master_key_id)
  VALUES (organisation, subject, version, wrapped, master_key)
  RETURNING data_keys.id INTO id;
END
$$;
COMMENT ON FUNCTION maturion.add_data_key(uuid, bytea, text) IS 'Adds the next version of the bound organisation''s data key (subject NULL) or of a data subject''s, already wrapped by the master key. @app-callable';
REVOKE EXECUTE ON FUNCTION maturion.add_data_key(uuid, bytea, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION maturion.add_data_key(uuid, bytea, text) TO maturion_app;

-- Right to be forgotten: every version of one subject's key in the bound organisation is
-- erased, so what it encrypted can no longer be read. Returns how many versions were erased.
CREATE FUNCTION maturion.destroy_subject_keys(subject uuid) RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  organisation uuid := maturion.current_organisation_id();
  destroyed integer;
BEGIN
  IF organisation IS NULL THEN
    RAISE EXCEPTION 'no verified tenant binding: bind the transaction with maturion.bind_tenant first'
      USING ERRCODE = 'MT401';
  END IF;
  UPDATE maturion.data_keys k SET wrapped_key = NULL, destroyed_at = now()
  WHERE k.organisation_id = organisation AND k.subject_id = subject AND k.destroyed_at IS NULL;
  GET DIAGNOSTICS destroyed = ROW_COUNT;
  RETURN destroyed;
END
$$;
COMMENT ON FUNCTION maturion.destroy_subject_keys(uuid) IS 'Destroys every version of one data subject''s key in the bound organisation: what it encrypted becomes unreadable. @app-callable';
REVOKE EXECUTE ON FUNCTION maturion.destroy_subject_keys(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION maturion.destroy_subject_keys(uuid) TO maturion_app;
