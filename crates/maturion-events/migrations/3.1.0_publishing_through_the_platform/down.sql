-- Reverts 3.1.0: the application inserts into event_log again, permission events are the
-- publisher's, and the commit ordering caches in maturion.event_commits_done (2.3.0's).
CREATE OR REPLACE FUNCTION maturion.event_sequence_commit() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  done text := coalesce(current_setting('maturion.event_commits_done', true), '');
  organisation text := NEW.organisation_id::text;
  stamp text := organisation || '@' || (extract(epoch FROM NEW.timestamp) * 1000000)::bigint;
  at integer;
  commit_position bigint;
BEGIN
  IF NEW.transaction_id IS DISTINCT FROM pg_current_xact_id() THEN
    RAISE EXCEPTION 'event_log.transaction_id is set by the database; leave it out of the INSERT'
      USING ERRCODE = 'check_violation';
  END IF;
  IF strpos(done, ';' || stamp || ';') > 0 THEN
    RETURN NULL;
  END IF;
  at := strpos(done, ';' || organisation || '=');
  IF at > 0 THEN
    -- Same organisation, another explicit timestamp: rare, so a plain update is fine.
    commit_position := split_part(substr(done, at + length(organisation) + 2), ';', 1)::bigint;
    UPDATE maturion.event_commits
       SET event_timestamps = event_timestamps || NEW.timestamp
     WHERE organisation_id = NEW.organisation_id AND position = commit_position;
  ELSE
    -- Held until this transaction has committed and become visible: the next transaction of
    -- the organisation draws a larger position only after that.
    PERFORM pg_advisory_xact_lock(19781, hashtext(organisation));
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
    -- database-wide lock, which would cap commits if every publisher took it.
    IF EXISTS (SELECT FROM maturion.event_waiters
               WHERE waiting_since IS NOT NULL AND heartbeat_at > clock_timestamp() - interval '1 minute') THEN
      PERFORM pg_notify('maturion_events', organisation);
    END IF;
    done := done || ';' || organisation || '=' || commit_position || ';';
  END IF;
  PERFORM set_config('maturion.event_commits_done', done || ';' || stamp || ';', true);
  RETURN NULL;
END
$$;

DROP TRIGGER publish_permission_change ON public.user_permissions;
DROP FUNCTION maturion.publish_permission_change();
DROP FUNCTION maturion.insert_permission_event(text, public.user_permissions, uuid, uuid);
DROP FUNCTION maturion.event_mark_processed(timestamptz[], uuid[]);
DROP FUNCTION maturion.publish_events(uuid[], text[], text[], text[], uuid[], text[], text[], uuid[], jsonb[]);
GRANT SELECT, INSERT ON public.event_log TO maturion_app;
GRANT UPDATE (processed_at) ON public.event_log TO maturion_app;
COMMENT ON TABLE public.event_log IS 'Cross-module event bus (§4.4, §12): events published in the transaction of the change they describe.';
ALTER TABLE public.event_log DROP COLUMN published_by;
