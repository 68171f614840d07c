-- 3.1.0: events are published only through the platform, the commit ordering trusts nothing
-- the application can set, and wake-ups carry no tenant data.
--
-- 1. maturion_app could INSERT into event_log: forge event-sourced history (a
--    permission.granted nobody made, which the permission rebuild replays as truth), name
--    any source, date events. It now holds only SELECT; it publishes with
--    maturion.publish_events, which takes the organisation and the publishing user from the
--    transaction's verified binding (never from an argument), stamps the transaction's time,
--    and refuses the platform's own events. The processed_at bookkeeping of handler
--    transactions goes through maturion.event_mark_processed.
-- 2. Permission events are written by the change they describe: a trigger on
--    user_permissions publishes permission.granted / permission.revoked for every row that
--    becomes active, inactive, or changes key or grantor, whoever writes it.
-- 3. event_sequence_commit cached what it had numbered in the transaction-local setting
--    maturion.event_commits_done, which any role may set: a forged value made a committed
--    event undeliverable (no commit row) or delivered twice (a second one). It now finds its
--    transaction's commit row by the transaction's id, which nobody can forge. Firing the
--    deferred trigger early (SET CONSTRAINTS … IMMEDIATE, with or without savepoints) keeps
--    one commit row per transaction and organisation: the position is drawn under the
--    organisation's lock, held until the commit is visible, as before.
-- 4. The NOTIFY that wakes sleeping workers named the publishing organisation, and anyone
--    may LISTEN: it now carries nothing. Workers never read a payload (anyone may NOTIFY).

ALTER TABLE public.event_log ADD COLUMN published_by uuid;
COMMENT ON COLUMN public.event_log.published_by IS
  'User of the verified tenant binding that published the event (or changed the permission); NULL for the platform service or an operator. Set by the database.';

------------------------------------------------------------------------------------------------
-- 1. Publishing
------------------------------------------------------------------------------------------------

REVOKE INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON public.event_log FROM maturion_app;
REVOKE UPDATE (processed_at) ON public.event_log FROM maturion_app;
-- maturion check reports any write privilege of a runtime role on a table so marked.
COMMENT ON TABLE public.event_log IS
  'Cross-module event bus (§4.4, §12): events published in the transaction of the change they describe. @platform-writes: the runtime roles read it; maturion.publish_events and the permission trigger write it.';

-- One element per event in every array, in publication order (the ids are UUIDv7 made by the
-- publisher, so that a transaction's events are delivered in that order). Returns the
-- events' timestamp, the transaction's start.
CREATE FUNCTION maturion.publish_events(
  p_ids uuid[],
  p_event_types text[],
  p_source_modules text[],
  p_source_entity_types text[],
  p_source_entity_ids uuid[],
  p_target_modules text[],
  p_target_entity_types text[],
  p_target_entity_ids uuid[],
  p_payloads jsonb[]
) RETURNS timestamptz
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  organisation uuid;
  publisher uuid;
  events integer := coalesce(cardinality(p_ids), 0);
BEGIN
  SELECT b.organisation_id, b.user_id INTO organisation, publisher FROM maturion.current_binding() b;
  IF organisation IS NULL THEN
    RAISE EXCEPTION 'no tenant binding: events are published in a transaction bound with maturion.bind_tenant(token)'
      USING ERRCODE = 'MT401';
  END IF;
  IF events <> coalesce(cardinality(p_event_types), 0) OR events <> coalesce(cardinality(p_source_modules), 0)
     OR events <> coalesce(cardinality(p_source_entity_types), 0) OR events <> coalesce(cardinality(p_source_entity_ids), 0)
     OR events <> coalesce(cardinality(p_target_modules), 0) OR events <> coalesce(cardinality(p_target_entity_types), 0)
     OR events <> coalesce(cardinality(p_target_entity_ids), 0) OR events <> coalesce(cardinality(p_payloads), 0) THEN
    RAISE EXCEPTION 'publish_events takes one element per event in every array' USING ERRCODE = '22023';
  END IF;
  IF EXISTS (SELECT FROM unnest(p_event_types, p_source_modules) AS e(event_type, source_module)
             WHERE e.event_type LIKE 'permission.%' OR e.source_module = 'platform') THEN
    RAISE EXCEPTION 'permission.* events and the platform module are the platform''s own: the changes they describe publish them'
      USING ERRCODE = '42501';
  END IF;
  INSERT INTO public.event_log (id, organisation_id, event_type, source_module, source_entity_type, source_entity_id,
                                target_module, target_entity_type, target_entity_id, payload, published_by)
  SELECT e.id, organisation, e.event_type, e.source_module, e.source_entity_type, e.source_entity_id,
         e.target_module, e.target_entity_type, e.target_entity_id, e.payload, publisher
  FROM unnest(p_ids, p_event_types, p_source_modules, p_source_entity_types, p_source_entity_ids,
              p_target_modules, p_target_entity_types, p_target_entity_ids, p_payloads)
       AS e(id, event_type, source_module, source_entity_type, source_entity_id,
            target_module, target_entity_type, target_entity_id, payload);
  RETURN now();
END
$$;
COMMENT ON FUNCTION maturion.publish_events(uuid[], text[], text[], text[], uuid[], text[], text[], uuid[], jsonb[]) IS
  'Publishes events for the organisation and user of the transaction''s verified binding (never an argument), dated by the database; permission.* events and the platform module are refused. The only way the application publishes. @app-callable';
REVOKE EXECUTE ON FUNCTION maturion.publish_events(uuid[], text[], text[], text[], uuid[], text[], text[], uuid[], jsonb[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION maturion.publish_events(uuid[], text[], text[], text[], uuid[], text[], text[], uuid[], jsonb[]) TO maturion_app;

-- A handler's tenant transaction marks the events it processed. As the owner, under the
-- forced policy: only the bound organisation's events, and nothing without a binding.
CREATE FUNCTION maturion.event_mark_processed(p_timestamps timestamptz[], p_ids uuid[]) RETURNS void
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  UPDATE public.event_log e SET processed_at = now()
    FROM unnest(p_timestamps, p_ids) AS u(ts, id)
   WHERE e.timestamp = u.ts AND e.id = u.id AND e.processed_at IS NULL
$$;
COMMENT ON FUNCTION maturion.event_mark_processed(timestamptz[], uuid[]) IS
  'Sets processed_at on the given events of the bound organisation that nobody processed yet (handler transactions). @app-callable';
REVOKE EXECUTE ON FUNCTION maturion.event_mark_processed(timestamptz[], uuid[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION maturion.event_mark_processed(timestamptz[], uuid[]) TO maturion_app;

------------------------------------------------------------------------------------------------
-- 2. Permission events, from the change itself
------------------------------------------------------------------------------------------------

-- One permission event of the row's organisation, as the owner (a SECURITY DEFINER caller).
CREATE FUNCTION maturion.insert_permission_event(event_type text, permission public.user_permissions,
                                                 actor uuid, publisher uuid)
RETURNS void
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
  INSERT INTO public.event_log (id, organisation_id, event_type, source_module, source_entity_type, source_entity_id,
                                target_module, target_entity_type, target_entity_id, payload, published_by)
  VALUES (public.generate_uuidv7(), permission.organisation_id, event_type, 'platform', 'user_permission', permission.id,
          'platform', 'user', permission.user_id,
          jsonb_build_object('user_id', permission.user_id, 'module', permission.module,
                             'permission', permission.permission, 'actor', actor,
                             'permission_id', permission.id),
          publisher)
$$;
COMMENT ON FUNCTION maturion.insert_permission_event(text, public.user_permissions, uuid, uuid) IS
  'Writes one permission.granted / permission.revoked event for a user_permissions row; called by publish_permission_change only.';
REVOKE EXECUTE ON FUNCTION maturion.insert_permission_event(text, public.user_permissions, uuid, uuid) FROM PUBLIC;

-- Row trigger on user_permissions: the permission log is exactly the table's history. A row
-- that stops being active (revoked, deleted, or moved to another key) publishes
-- permission.revoked; one that becomes active (granted, revived, moved, or granted again by
-- someone else) publishes permission.granted. A bound user grants in their own name only.
-- A writer without a binding passed the table's guards only as a role that bypasses
-- row-level security (an operator, the maintenance side): its events are the platform
-- service's, bound for the row's organisation for this one insert.
CREATE FUNCTION maturion.publish_permission_change() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  organisation uuid;
  publisher uuid;
  previous_binding text;
  service_bound boolean := false;
  was_active boolean := TG_OP <> 'INSERT' AND OLD.deleted_at IS NULL;
  is_active boolean := TG_OP <> 'DELETE' AND NEW.deleted_at IS NULL;
  moved boolean := TG_OP = 'UPDATE'
    AND (OLD.user_id, OLD.module, OLD.permission) IS DISTINCT FROM (NEW.user_id, NEW.module, NEW.permission);
  revoked boolean;
  granted boolean;
BEGIN
  revoked := was_active AND (NOT is_active OR moved);
  granted := is_active AND (NOT was_active OR moved OR NEW.granted_by IS DISTINCT FROM OLD.granted_by);
  IF NOT (revoked OR granted) THEN
    RETURN NULL;
  END IF;
  SELECT b.organisation_id, b.user_id INTO organisation, publisher FROM maturion.current_binding() b;
  IF granted AND publisher IS NOT NULL AND NEW.granted_by IS DISTINCT FROM publisher THEN
    RAISE EXCEPTION 'a permission is granted in the name of the bound user %, not %', publisher, coalesce(NEW.granted_by::text, 'nobody')
      USING ERRCODE = 'MT403';
  END IF;
  IF organisation IS NULL THEN
    previous_binding := current_setting('maturion.binding', true);
    organisation := CASE WHEN TG_OP = 'DELETE' THEN OLD.organisation_id ELSE NEW.organisation_id END;
    PERFORM set_config('maturion.binding', organisation || '/service/'
      || maturion.binding_mac(organisation || '/service', pg_backend_pid(), transaction_timestamp()), true);
    service_bound := true;
  END IF;
  IF revoked THEN
    PERFORM maturion.insert_permission_event('permission.revoked', OLD,
      coalesce(publisher, CASE WHEN TG_OP = 'UPDATE' THEN NEW.deleted_by END), publisher);
  END IF;
  IF granted THEN
    PERFORM maturion.insert_permission_event('permission.granted', NEW, NEW.granted_by, publisher);
  END IF;
  IF service_bound THEN
    PERFORM set_config('maturion.binding', coalesce(previous_binding, ''), true);
  END IF;
  RETURN NULL;
END
$$;
COMMENT ON FUNCTION maturion.publish_permission_change() IS
  'Row trigger on user_permissions: publishes permission.granted / permission.revoked for every change of what is active, so the log is the table''s history.';
REVOKE EXECUTE ON FUNCTION maturion.publish_permission_change() FROM PUBLIC;
CREATE TRIGGER publish_permission_change AFTER INSERT OR UPDATE OR DELETE ON public.user_permissions
  FOR EACH ROW EXECUTE FUNCTION maturion.publish_permission_change();

------------------------------------------------------------------------------------------------
-- 3. and 4. Commit ordering by the transaction's id; a bare wake-up
------------------------------------------------------------------------------------------------

-- Fires once per event row at COMMIT (deferred), or earlier if the transaction says SET
-- CONSTRAINTS … IMMEDIATE. The first firing for an organisation in the transaction takes
-- that organisation's lock, draws the position and records the commit; the others find that
-- row by the transaction's id and at most add a timestamp to it (an operator's rows with
-- explicit timestamps: published events all carry the transaction's start).
CREATE OR REPLACE FUNCTION maturion.event_sequence_commit() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  commit_position bigint;
  stamps timestamptz[];
BEGIN
  IF NEW.transaction_id IS DISTINCT FROM pg_current_xact_id() THEN
    RAISE EXCEPTION 'event_log.transaction_id is set by the database; leave it out of the INSERT'
      USING ERRCODE = 'check_violation';
  END IF;
  SELECT c.position, c.event_timestamps INTO commit_position, stamps
    FROM maturion.event_commits c
   WHERE c.transaction_id = NEW.transaction_id AND c.organisation_id = NEW.organisation_id;
  IF FOUND THEN
    IF NEW.timestamp <> ALL (stamps) THEN
      UPDATE maturion.event_commits
         SET event_timestamps = event_timestamps || NEW.timestamp
       WHERE organisation_id = NEW.organisation_id AND position = commit_position;
    END IF;
    RETURN NULL;
  END IF;
  -- Held until this transaction has committed and become visible: the next transaction of
  -- the organisation draws a larger position only after that.
  PERFORM pg_advisory_xact_lock(19781, hashtext(NEW.organisation_id::text));
  commit_position := nextval('maturion.event_commit_position');
  INSERT INTO maturion.event_commits (organisation_id, position, transaction_id, event_timestamps)
  VALUES (NEW.organisation_id, commit_position, NEW.transaction_id, ARRAY[NEW.timestamp]);
  -- The organisation's resting streams have work again. Under the lock, so a worker about
  -- to let a stream rest either sees this commit or is seen by it.
  UPDATE maturion.event_cursors SET idle = false
   WHERE organisation_id = NEW.organisation_id AND idle;
  INSERT INTO maturion.event_streams (organisation_id) VALUES (NEW.organisation_id)
  ON CONFLICT DO NOTHING;
  IF FOUND THEN
    -- The organisation's first commit: its cursors start before it.
    INSERT INTO maturion.event_cursors (subscription, organisation_id)
    SELECT s.name, NEW.organisation_id FROM maturion.event_subscriptions s
    WHERE s.organisation_id IS NULL OR s.organisation_id = NEW.organisation_id
    ON CONFLICT DO NOTHING;
  END IF;
  -- Wake sleeping workers, but only when one sleeps: a NOTIFY makes the commit take a
  -- database-wide lock, which would cap commits if every publisher took it. Anyone may LISTEN,
  -- so the wake-up says nothing about who published; workers claim whatever is pending.
  IF EXISTS (SELECT FROM maturion.event_waiters
             WHERE waiting_since IS NOT NULL AND heartbeat_at > clock_timestamp() - interval '1 minute') THEN
    PERFORM pg_notify('maturion_events', '');
  END IF;
  RETURN NULL;
END
$$;
