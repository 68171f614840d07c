-- 2.4.0: what a tenant stores in event_log can no longer stop the bus or the maintenance job,
-- and the lease functions fail closed.
--
-- 1. Timestamps. event_log.timestamp is the partition key, and the maintenance job, the
--    rollups and the workers turn it into calendar months and Rust values whose range is
--    narrower than PostgreSQL's (4713 BC to 294276 AD, and ±infinity). A runtime role may no
--    longer choose one outside a window around now: from a year back (imports of recent
--    history stay possible) to five minutes ahead (clock skew). Leaving it out gives now().
--    A superuser is not held to it (repairs); the maintenance job copes with whatever is there.
-- 2. Poison events. A row a worker cannot decode (a payload nested deeper than the JSON
--    decoder's limit…) cannot be retried into success: event_dead_letter dead-letters it at
--    once and moves the cursor past it, so the rest of its stream keeps flowing.
-- 3. Leases. event_lease_visible took a missing tenant context for "any organisation"; now
--    only a member of maturion_maintenance (the workers' own connection) acts without one.

CREATE FUNCTION maturion.event_timestamp_in_window() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  -- Two tests: the first is a simple expression, the fast path of every publish.
  IF NEW."timestamp" BETWEEN now() - interval '1 year' AND clock_timestamp() + interval '5 minutes' THEN
    RETURN NEW;
  END IF;
  IF (SELECT r.rolsuper FROM pg_roles r WHERE r.rolname = current_user) THEN
    RETURN NEW;
  END IF;
  RAISE EXCEPTION 'event_log.timestamp % is outside the accepted window (a year back to five minutes ahead); leave it out and the database sets it',
    NEW."timestamp"
    USING ERRCODE = 'check_violation';
END
$$;
COMMENT ON FUNCTION maturion.event_timestamp_in_window() IS
  'Trigger on event_log: a runtime role''s event is dated from a year ago to five minutes ahead.';
REVOKE EXECUTE ON FUNCTION maturion.event_timestamp_in_window() FROM PUBLIC;

CREATE TRIGGER event_timestamp_in_window BEFORE INSERT ON public.event_log
  FOR EACH ROW EXECUTE FUNCTION maturion.event_timestamp_in_window();

-- Takes the same arguments as event_fail, so that a worker records either failure the same
-- way; the event is dead-lettered whatever its attempts. Returns 'dead' or 'lost'.
CREATE FUNCTION maturion.event_dead_letter(
  p_lease uuid,
  p_subscription text,
  p_organisation_id uuid,
  p_position bigint,
  p_event_id uuid,
  p_skip_position bigint,
  p_failed_position bigint,
  p_failed_event_timestamp timestamptz,
  p_failed_event_id uuid,
  p_failed_event_type text,
  p_error text
) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  cursor_row maturion.event_cursors%ROWTYPE;
BEGIN
  SELECT * INTO cursor_row FROM maturion.event_cursors
   WHERE subscription = p_subscription AND organisation_id = p_organisation_id
     AND lease_token = p_lease AND maturion.event_lease_visible(organisation_id)
     AND p_skip_position >= position
   FOR UPDATE;
  IF NOT FOUND THEN
    RETURN 'lost';
  END IF;
  INSERT INTO maturion.event_dead_letters
    (subscription, organisation_id, position, event_timestamp, event_id, event_type, attempts, last_error)
  VALUES (cursor_row.subscription, cursor_row.organisation_id, p_failed_position, p_failed_event_timestamp,
          p_failed_event_id, p_failed_event_type, 1, left(p_error, 4000));
  UPDATE maturion.event_cursors
     SET position = p_skip_position, event_id = p_failed_event_id, attempts = 0, failing_event_id = NULL,
         last_error = left(p_error, 4000), retry_at = '-infinity', lease_token = NULL, leased_until = NULL,
         updated_at = clock_timestamp()
   WHERE subscription = cursor_row.subscription AND organisation_id = cursor_row.organisation_id;
  RETURN 'dead';
END
$$;
COMMENT ON FUNCTION maturion.event_dead_letter(uuid, text, uuid, bigint, uuid, bigint, bigint, timestamptz, uuid, text, text) IS
  'Dead-letters an event no handler can be given (undecodable) at once and moves the cursor past it.';
REVOKE EXECUTE ON FUNCTION
  maturion.event_dead_letter(uuid, text, uuid, bigint, uuid, bigint, bigint, timestamptz, uuid, text, text)
FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
  maturion.event_dead_letter(uuid, text, uuid, bigint, uuid, bigint, bigint, timestamptz, uuid, text, text)
TO maturion_app, maturion_maintenance;

CREATE OR REPLACE FUNCTION maturion.event_lease_visible(cursor_organisation uuid) RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT CASE
    WHEN nullif(current_setting('app.current_organisation_id', true), '') IS NOT NULL
      THEN cursor_organisation = nullif(current_setting('app.current_organisation_id', true), '')::uuid
    ELSE pg_has_role(session_user, 'maturion_maintenance', 'MEMBER')
  END;
$$;
COMMENT ON FUNCTION maturion.event_lease_visible(uuid) IS
  'True when the tenant context names the leased stream''s organisation, or, without a context, for the maintenance role''s members.';
