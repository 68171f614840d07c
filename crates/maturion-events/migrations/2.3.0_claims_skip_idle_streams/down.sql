-- Undoes 2.3.0: the functions of 1.0.0; streams no longer rest.

CREATE OR REPLACE FUNCTION maturion.event_claim(
  p_subscription text,
  p_max_streams integer,
  p_max_commits integer,
  p_lease interval,
  p_max_replays integer,
  p_discover boolean
) RETURNS TABLE (
  kind text,
  lease_token uuid,
  organisation_id uuid,
  cursor_position bigint,
  cursor_event_id uuid,
  attempts integer,
  commit_position bigint,
  transaction_id bigint,
  event_timestamps timestamptz[],
  dead_letter_id uuid,
  event_timestamp timestamptz,
  event_id uuid
)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
  IF p_discover THEN
    -- Streams whose cursors are missing (a first commit that raced with event_subscribe).
    INSERT INTO maturion.event_cursors (subscription, organisation_id)
    SELECT s.name, st.organisation_id
    FROM maturion.event_subscriptions s
    JOIN maturion.event_streams st ON s.organisation_id IS NULL OR s.organisation_id = st.organisation_id
    WHERE s.name = p_subscription
    ON CONFLICT DO NOTHING;
  END IF;

  RETURN QUERY
  WITH picked AS (
    SELECT c.organisation_id
    FROM maturion.event_cursors c
    WHERE c.subscription = p_subscription
      AND (c.leased_until IS NULL OR c.leased_until < clock_timestamp())
      AND c.retry_at <= clock_timestamp()
      AND EXISTS (SELECT FROM maturion.event_commits e
                  WHERE e.organisation_id = c.organisation_id AND e.position > c.position)
    ORDER BY c.served_at
    LIMIT p_max_streams
    FOR UPDATE OF c SKIP LOCKED
  ), leased AS (
    UPDATE maturion.event_cursors c
       SET lease_token = gen_random_uuid(),
           leased_until = clock_timestamp() + p_lease,
           served_at = clock_timestamp()
      FROM picked
     WHERE c.subscription = p_subscription AND c.organisation_id = picked.organisation_id
    RETURNING c.lease_token, c.organisation_id, c.position, c.event_id, c.attempts
  )
  SELECT 'stream', l.lease_token, l.organisation_id, l.position, l.event_id, l.attempts,
         e.position, e.transaction_id::text::bigint, e.event_timestamps,
         NULL::uuid, NULL::timestamptz, NULL::uuid
  FROM leased l
  CROSS JOIN LATERAL (
    SELECT e.position, e.transaction_id, e.event_timestamps
    FROM maturion.event_commits e
    WHERE e.organisation_id = l.organisation_id AND e.position > l.position
    ORDER BY e.position
    LIMIT p_max_commits
  ) e
  ORDER BY l.organisation_id, e.position;

  IF p_max_replays > 0 THEN
    RETURN QUERY
    WITH picked AS (
      SELECT d.id
      FROM maturion.event_dead_letters d
      WHERE d.subscription = p_subscription AND d.status = 'queued'
        AND (d.leased_until IS NULL OR d.leased_until < clock_timestamp())
        AND d.retry_at <= clock_timestamp()
      ORDER BY d.replay_requested_at
      LIMIT p_max_replays
      FOR UPDATE SKIP LOCKED
    )
    UPDATE maturion.event_dead_letters d
       SET lease_token = gen_random_uuid(), leased_until = clock_timestamp() + p_lease
      FROM picked
     WHERE d.id = picked.id
    RETURNING 'replay'::text, d.lease_token, d.organisation_id, NULL::bigint, NULL::uuid, d.attempts,
              d.position, NULL::bigint, NULL::timestamptz[], d.id, d.event_timestamp, d.event_id;
  END IF;
END
$$;

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

DROP FUNCTION maturion.event_rest_streams(text, uuid[]);
UPDATE maturion.event_cursors SET idle = false WHERE idle;
