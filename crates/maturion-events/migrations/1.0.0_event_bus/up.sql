-- 1.0.0 event bus (spec §4.4, §12): the event log becomes a cross-module bus.
--
-- Publishing is an INSERT into public.event_log inside the caller's transaction (outbox), so an
-- event exists if and only if that transaction commits. Delivery bookkeeping is platform-internal
-- and lives here, in schema maturion, readable by nobody but the owner and maturion_maintenance:
--
--   event_streams        one row per organisation that ever published
--   event_commits        one row per (committed publishing transaction, organisation), numbered
--                        at COMMIT time under a per-organisation lock: per organisation, the
--                        numbers ("positions") become visible in increasing order, so a cursor
--                        "position > n" can never skip a transaction that commits late
--   event_subscriptions  named subscriptions of modules (event types, optional organisation)
--   event_cursors        one durable cursor per (subscription, organisation), with its lease,
--                        retry state and back-off
--   event_dead_letters   events a subscription gave up on, inspectable and replayable
--   event_waiters        workers asleep on LISTEN: publishers NOTIFY only while one exists
--
-- Why positions are assigned at commit: an event's id or timestamp is taken when its row is
-- inserted, but the row becomes visible when its transaction commits, in another order. A
-- cursor over ids or timestamps therefore skips an event whose transaction started earlier and
-- committed later (the classic outbox bug). Here a deferred constraint trigger runs as part of
-- COMMIT, takes a transaction-level advisory lock for the organisation, draws the position, and
-- holds the lock until the commit is complete and visible. The next transaction of the same
-- organisation draws its position only after that, so per organisation, visibility order =
-- position order = commit order. Different organisations never wait for each other, and a
-- long-running transaction holds back nobody (unlike a cursor limited to xmin).
--
-- Every table here starts its COMMENT with the @internal marker: it is bus bookkeeping, not
-- tenant data (maturion check exempts it from the tenant rules and verifies instead that
-- maturion_app holds no privilege on it). The application reaches it only through the
-- SECURITY DEFINER functions below, which take a lease token that only the claiming worker
-- knows.

------------------------------------------------------------------------------------------------
-- event_log: the publishing transaction of each event
------------------------------------------------------------------------------------------------

-- A stable default evaluated per row: the id of the inserting transaction. Metadata-only on an
-- existing table (the existing rows, which no commit row describes, are never delivered).
ALTER TABLE public.event_log
  ADD COLUMN transaction_id xid8 NOT NULL DEFAULT pg_current_xact_id();
-- The first subscriber to process an event sets processed_at: with free space left in each
-- page, that update stays on the page (HOT) instead of adding an entry to every index.
-- Monthly partitions should be created WITH (fillfactor = 90) too.
ALTER TABLE public.event_log_default SET (fillfactor = 90);
COMMENT ON COLUMN public.event_log.transaction_id IS
  'Transaction that published the event (set by the database); the bus finds a committed transaction''s events by (timestamp, transaction_id).';

------------------------------------------------------------------------------------------------
-- Bookkeeping tables
------------------------------------------------------------------------------------------------

CREATE SEQUENCE maturion.event_commit_position AS bigint;
COMMENT ON SEQUENCE maturion.event_commit_position IS
  '@internal Positions of event_commits, drawn at commit under the organisation''s lock (gaps are harmless).';

CREATE TABLE maturion.event_streams (
  organisation_id uuid PRIMARY KEY,
  created_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE maturion.event_streams IS
  '@internal Organisations that have published events: one ordered stream each.';
COMMENT ON COLUMN maturion.event_streams.organisation_id IS 'Organisation whose stream this is (no FK: the hot path stays light; event_log has it).';
COMMENT ON COLUMN maturion.event_streams.created_at IS 'When the organisation first published.';

CREATE TABLE maturion.event_commits (
  organisation_id uuid NOT NULL,
  position bigint NOT NULL,
  transaction_id xid8 NOT NULL,
  event_timestamps timestamptz[] NOT NULL,
  committed_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  PRIMARY KEY (organisation_id, position)
);
COMMENT ON TABLE maturion.event_commits IS
  '@internal One row per committed publishing transaction and organisation, in commit order per organisation.';
COMMENT ON COLUMN maturion.event_commits.organisation_id IS 'Organisation of the events.';
COMMENT ON COLUMN maturion.event_commits.position IS 'Commit-order position within the organisation''s stream (increasing, not dense).';
COMMENT ON COLUMN maturion.event_commits.transaction_id IS 'The publishing transaction: event_log.transaction_id of its events.';
COMMENT ON COLUMN maturion.event_commits.event_timestamps IS 'The distinct event_log.timestamp values of its events (normally one: now() of the transaction), so they are found through the primary key.';
COMMENT ON COLUMN maturion.event_commits.committed_at IS 'When the transaction reached COMMIT.';
CREATE INDEX idx_event_commits_committed_at ON maturion.event_commits USING brin (committed_at);

CREATE TABLE maturion.event_subscriptions (
  name text PRIMARY KEY CHECK (name ~ '^[a-z][a-z0-9_.-]*$'),
  event_types text[] NOT NULL CHECK (cardinality(event_types) > 0),
  organisation_id uuid REFERENCES public.organisations (id) ON DELETE CASCADE,
  max_attempts integer NOT NULL DEFAULT 10 CHECK (max_attempts > 0),
  retry_base interval NOT NULL DEFAULT '1 second' CHECK (retry_base > '0'),
  retry_max interval NOT NULL DEFAULT '10 minutes' CHECK (retry_max >= retry_base),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE maturion.event_subscriptions IS
  '@internal Named subscriptions of modules to event types, optionally for one organisation.';
COMMENT ON COLUMN maturion.event_subscriptions.name IS 'Subscription name, e.g. risks.notify_owner.';
COMMENT ON COLUMN maturion.event_subscriptions.event_types IS 'Event types delivered: exact names, prefixes ending in .* or * for all.';
COMMENT ON COLUMN maturion.event_subscriptions.organisation_id IS 'Only this organisation''s events; NULL for every organisation.';
COMMENT ON COLUMN maturion.event_subscriptions.max_attempts IS 'Failed deliveries of one event before it is dead-lettered.';
COMMENT ON COLUMN maturion.event_subscriptions.retry_base IS 'First retry delay; doubles per attempt.';
COMMENT ON COLUMN maturion.event_subscriptions.retry_max IS 'Longest retry delay.';
COMMENT ON COLUMN maturion.event_subscriptions.created_at IS 'When the subscription was registered.';
COMMENT ON COLUMN maturion.event_subscriptions.updated_at IS 'When its definition last changed.';
CREATE INDEX idx_event_subscriptions_organisation_id ON maturion.event_subscriptions (organisation_id);

CREATE TABLE maturion.event_cursors (
  subscription text NOT NULL REFERENCES maturion.event_subscriptions (name) ON DELETE CASCADE,
  organisation_id uuid NOT NULL,
  position bigint NOT NULL DEFAULT 0,
  event_id uuid,
  attempts integer NOT NULL DEFAULT 0,
  failing_event_id uuid,
  last_error text,
  retry_at timestamptz NOT NULL DEFAULT '-infinity',
  lease_token uuid,
  leased_until timestamptz,
  served_at timestamptz NOT NULL DEFAULT '-infinity',
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (subscription, organisation_id)
);
COMMENT ON TABLE maturion.event_cursors IS
  '@internal Durable cursor of one subscription over one organisation''s stream, with lease and retry state.';
COMMENT ON COLUMN maturion.event_cursors.subscription IS 'The subscription.';
COMMENT ON COLUMN maturion.event_cursors.organisation_id IS 'The organisation whose stream is read.';
COMMENT ON COLUMN maturion.event_cursors.position IS 'Last commit position fully processed.';
COMMENT ON COLUMN maturion.event_cursors.event_id IS 'Within the next commit, the last event id processed (events are ordered by id); NULL if none.';
COMMENT ON COLUMN maturion.event_cursors.attempts IS 'Failed deliveries of failing_event_id so far.';
COMMENT ON COLUMN maturion.event_cursors.failing_event_id IS 'Event at the head of the stream that failed last.';
COMMENT ON COLUMN maturion.event_cursors.last_error IS 'Error of the last failed delivery.';
COMMENT ON COLUMN maturion.event_cursors.retry_at IS 'Not claimed before this time (exponential back-off after a failure).';
COMMENT ON COLUMN maturion.event_cursors.lease_token IS 'Secret of the worker holding the stream; acknowledgements must present it.';
COMMENT ON COLUMN maturion.event_cursors.leased_until IS 'The lease expires then, and another worker may take the stream.';
COMMENT ON COLUMN maturion.event_cursors.served_at IS 'When the stream was last claimed: claims serve the longest-waiting stream first (fairness).';
COMMENT ON COLUMN maturion.event_cursors.updated_at IS 'When the cursor last moved or failed.';
-- No index on lease_token: acknowledgements find the cursor by its primary key, so claims and
-- acknowledgements change no indexed column and their updates stay HOT (cursor rows are
-- updated twice per batch).

CREATE TABLE maturion.event_dead_letters (
  id uuid PRIMARY KEY DEFAULT generate_uuidv7(),
  subscription text NOT NULL REFERENCES maturion.event_subscriptions (name) ON DELETE CASCADE,
  organisation_id uuid NOT NULL,
  position bigint NOT NULL,
  event_timestamp timestamptz NOT NULL,
  event_id uuid NOT NULL,
  event_type text NOT NULL,
  attempts integer NOT NULL,
  last_error text NOT NULL,
  status text NOT NULL DEFAULT 'dead' CHECK (status IN ('dead', 'queued', 'replayed')),
  dead_at timestamptz NOT NULL DEFAULT now(),
  replay_requested_at timestamptz,
  replayed_at timestamptz,
  retry_at timestamptz NOT NULL DEFAULT '-infinity',
  lease_token uuid,
  leased_until timestamptz
);
COMMENT ON TABLE maturion.event_dead_letters IS
  '@internal Deliveries a subscription gave up on after max_attempts; an operator may queue them again (replay).';
COMMENT ON COLUMN maturion.event_dead_letters.id IS 'Dead letter id (UUIDv7), what `maturion events replay` takes.';
COMMENT ON COLUMN maturion.event_dead_letters.subscription IS 'Subscription that failed.';
COMMENT ON COLUMN maturion.event_dead_letters.organisation_id IS 'Organisation of the event.';
COMMENT ON COLUMN maturion.event_dead_letters.position IS 'Commit position of the event in its organisation''s stream.';
COMMENT ON COLUMN maturion.event_dead_letters.event_timestamp IS 'event_log.timestamp of the event.';
COMMENT ON COLUMN maturion.event_dead_letters.event_id IS 'event_log.id of the event.';
COMMENT ON COLUMN maturion.event_dead_letters.event_type IS 'Its event type.';
COMMENT ON COLUMN maturion.event_dead_letters.attempts IS 'Failed deliveries (reset when queued for replay).';
COMMENT ON COLUMN maturion.event_dead_letters.last_error IS 'Error of the last failed delivery.';
COMMENT ON COLUMN maturion.event_dead_letters.status IS 'dead, queued (replay requested) or replayed (delivered by a replay).';
COMMENT ON COLUMN maturion.event_dead_letters.dead_at IS 'When it was (last) dead-lettered.';
COMMENT ON COLUMN maturion.event_dead_letters.replay_requested_at IS 'When a replay was last requested.';
COMMENT ON COLUMN maturion.event_dead_letters.replayed_at IS 'When a replay delivered it.';
COMMENT ON COLUMN maturion.event_dead_letters.retry_at IS 'A queued replay is not claimed before this time.';
COMMENT ON COLUMN maturion.event_dead_letters.lease_token IS 'Secret of the worker replaying it.';
COMMENT ON COLUMN maturion.event_dead_letters.leased_until IS 'The replay lease expires then.';
CREATE INDEX idx_event_dead_letters_subscription ON maturion.event_dead_letters (subscription, status);
CREATE INDEX idx_event_dead_letters_queued ON maturion.event_dead_letters (subscription, replay_requested_at) WHERE status = 'queued';
CREATE UNIQUE INDEX idx_event_dead_letters_lease_token ON maturion.event_dead_letters (lease_token) WHERE lease_token IS NOT NULL;

CREATE TABLE maturion.event_waiters (
  worker_id uuid PRIMARY KEY,
  subscription text,
  waiting_since timestamptz,
  heartbeat_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE maturion.event_waiters IS
  '@internal Bus workers; one with waiting_since set sleeps on LISTEN maturion_events, and only then do publishers NOTIFY.';
COMMENT ON COLUMN maturion.event_waiters.worker_id IS 'Worker (or tail) id, random per process.';
COMMENT ON COLUMN maturion.event_waiters.subscription IS 'Subscription it works for (informational).';
COMMENT ON COLUMN maturion.event_waiters.waiting_since IS 'Set while the worker sleeps on LISTEN; NULL while it polls or works.';
COMMENT ON COLUMN maturion.event_waiters.heartbeat_at IS 'Last sign of life; waiters silent for a minute are ignored.';
CREATE INDEX idx_event_waiters_waiting ON maturion.event_waiters (heartbeat_at) WHERE waiting_since IS NOT NULL;

REVOKE ALL ON maturion.event_streams, maturion.event_commits, maturion.event_subscriptions,
  maturion.event_cursors, maturion.event_dead_letters, maturion.event_waiters FROM PUBLIC;
REVOKE ALL ON SEQUENCE maturion.event_commit_position FROM PUBLIC;
-- Operators' views (tail, dead letters) read as maturion_maintenance; everything that changes
-- the bookkeeping goes through the functions below, except a worker's own waiter row.
GRANT SELECT ON maturion.event_streams, maturion.event_commits, maturion.event_subscriptions,
  maturion.event_cursors, maturion.event_dead_letters, maturion.event_waiters TO maturion_maintenance;
GRANT INSERT, UPDATE, DELETE ON maturion.event_waiters TO maturion_maintenance;

------------------------------------------------------------------------------------------------
-- Sequencing at commit
------------------------------------------------------------------------------------------------

-- Fires once per event row at COMMIT (deferred). The first firing for an organisation in the
-- transaction takes that organisation's lock, draws the position and records the commit; the
-- others only remember a new timestamp if the row has one. A transaction-local setting caches
-- what is done, as ";<organisation>=<position>;<organisation>@<timestamp>;".
CREATE FUNCTION maturion.event_sequence_commit() RETURNS trigger
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
COMMENT ON FUNCTION maturion.event_sequence_commit() IS
  'Deferred trigger on event_log: numbers each committed publishing transaction per organisation in commit order.';
REVOKE EXECUTE ON FUNCTION maturion.event_sequence_commit() FROM PUBLIC;

CREATE CONSTRAINT TRIGGER event_sequence_commit AFTER INSERT ON public.event_log
  DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW EXECUTE FUNCTION maturion.event_sequence_commit();

------------------------------------------------------------------------------------------------
-- Subscriptions (maturion_maintenance: module workers and operators)
------------------------------------------------------------------------------------------------

-- Registers or redefines a subscription; its cursors are kept. A new subscription reads every
-- organisation's stream from its start, or (p_from_now) from what is committed now.
CREATE FUNCTION maturion.event_subscribe(
  p_name text,
  p_event_types text[],
  p_organisation_id uuid,
  p_from_now boolean,
  p_max_attempts integer,
  p_retry_base interval,
  p_retry_max interval
) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  created boolean;
BEGIN
  INSERT INTO maturion.event_subscriptions AS s
    (name, event_types, organisation_id, max_attempts, retry_base, retry_max)
  VALUES (p_name, p_event_types, p_organisation_id, p_max_attempts, p_retry_base, p_retry_max)
  ON CONFLICT (name) DO UPDATE
    SET event_types = EXCLUDED.event_types, organisation_id = EXCLUDED.organisation_id,
        max_attempts = EXCLUDED.max_attempts, retry_base = EXCLUDED.retry_base,
        retry_max = EXCLUDED.retry_max, updated_at = now()
  RETURNING (xmax = 0) INTO created;
  -- A stream whose first commit races with this is picked up by the next claim's discovery.
  INSERT INTO maturion.event_cursors (subscription, organisation_id, position)
  SELECT p_name, st.organisation_id,
         CASE WHEN p_from_now
              THEN coalesce((SELECT max(c.position) FROM maturion.event_commits c
                             WHERE c.organisation_id = st.organisation_id), 0)
              ELSE 0 END
  FROM maturion.event_streams st
  WHERE p_organisation_id IS NULL OR st.organisation_id = p_organisation_id
  ON CONFLICT DO NOTHING;
  RETURN created;
END
$$;
COMMENT ON FUNCTION maturion.event_subscribe(text, text[], uuid, boolean, integer, interval, interval) IS
  'Registers (or redefines) a subscription and creates its cursors; true when it is new.';

CREATE FUNCTION maturion.event_unsubscribe(p_name text) RETURNS boolean
LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  WITH gone AS (DELETE FROM maturion.event_subscriptions WHERE name = p_name RETURNING 1)
  SELECT EXISTS (SELECT FROM gone);
$$;
COMMENT ON FUNCTION maturion.event_unsubscribe(text) IS 'Removes a subscription with its cursors and dead letters.';

------------------------------------------------------------------------------------------------
-- Claiming work (maturion_maintenance)
------------------------------------------------------------------------------------------------

-- Leases up to p_max_streams organisation streams that have unprocessed commits, the streams
-- served longest ago first (so one busy organisation cannot starve the others), and returns up
-- to p_max_commits commits of each ('stream' rows), then up to p_max_replays dead letters
-- queued for replay ('replay' rows). SKIP LOCKED: concurrent claimers take different streams.
CREATE FUNCTION maturion.event_claim(
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
COMMENT ON FUNCTION maturion.event_claim(text, integer, integer, interval, integer, boolean) IS
  'Leases streams with pending commits (fairly, SKIP LOCKED) and queued replays of a subscription.';

------------------------------------------------------------------------------------------------
-- Acknowledging (maturion_app inside the handler's tenant transaction, or maturion_maintenance)
------------------------------------------------------------------------------------------------

-- In a tenant transaction, the cursor must belong to its organisation (defence in depth; the
-- lease token is the real secret).
CREATE FUNCTION maturion.event_lease_visible(cursor_organisation uuid) RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT coalesce(cursor_organisation = nullif(current_setting('app.current_organisation_id', true), '')::uuid, true);
$$;
COMMENT ON FUNCTION maturion.event_lease_visible(uuid) IS
  'True unless a tenant context names another organisation than the leased stream''s.';

-- Moves the cursor of the leased stream forward and releases the lease. False when the lease
-- was lost (expired and taken by another worker): the caller must then roll back.
CREATE FUNCTION maturion.event_acknowledge(
  p_lease uuid,
  p_subscription text,
  p_organisation_id uuid,
  p_position bigint,
  p_event_id uuid
) RETURNS boolean
LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  WITH moved AS (
    UPDATE maturion.event_cursors
       SET position = p_position, event_id = p_event_id, attempts = 0, failing_event_id = NULL,
           last_error = NULL, retry_at = '-infinity', lease_token = NULL, leased_until = NULL,
           updated_at = clock_timestamp()
     WHERE subscription = p_subscription AND organisation_id = p_organisation_id
       AND lease_token = p_lease AND p_position >= position
       AND maturion.event_lease_visible(organisation_id)
    RETURNING 1
  )
  SELECT EXISTS (SELECT FROM moved);
$$;
COMMENT ON FUNCTION maturion.event_acknowledge(uuid, text, uuid, bigint, uuid) IS
  'Moves a leased cursor to (position, event id) and releases the lease; false if the lease was lost.';

-- The same for many streams at once, from the maintenance side: the streams whose handlers did
-- not write to the database. Returns the leases it acknowledged (a missing one was lost).
CREATE FUNCTION maturion.event_acknowledge_all(
  p_leases uuid[],
  p_subscription text,
  p_organisation_ids uuid[],
  p_positions bigint[],
  p_event_ids uuid[]
) RETURNS SETOF uuid
LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  UPDATE maturion.event_cursors c
     SET position = a.position, event_id = a.event_id, attempts = 0, failing_event_id = NULL,
         last_error = NULL, retry_at = '-infinity', lease_token = NULL, leased_until = NULL,
         updated_at = clock_timestamp()
    FROM unnest(p_leases, p_organisation_ids, p_positions, p_event_ids)
         AS a(lease, organisation_id, position, event_id)
   WHERE c.subscription = p_subscription AND c.organisation_id = a.organisation_id
     AND c.lease_token = a.lease AND a.position >= c.position
  RETURNING a.lease;
$$;
COMMENT ON FUNCTION maturion.event_acknowledge_all(uuid[], text, uuid[], bigint[], uuid[]) IS
  'Moves many leased cursors at once and releases their leases; returns the leases acknowledged.';

-- Records a failed delivery of the event at the head of a leased stream: the cursor first moves
-- to (p_position, p_event_id), past what did succeed; the failing event is retried after an
-- exponential back-off, or dead-lettered after max_attempts and skipped (the cursor moves to
-- (p_skip_position, failed event id)). Returns 'retry', 'dead' or 'lost'.
CREATE FUNCTION maturion.event_fail(
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
  subscription_row maturion.event_subscriptions%ROWTYPE;
  failures integer;
  delay interval;
BEGIN
  SELECT * INTO cursor_row FROM maturion.event_cursors
   WHERE subscription = p_subscription AND organisation_id = p_organisation_id
     AND lease_token = p_lease AND maturion.event_lease_visible(organisation_id)
   FOR UPDATE;
  IF NOT FOUND THEN
    RETURN 'lost';
  END IF;
  SELECT * INTO subscription_row FROM maturion.event_subscriptions WHERE name = cursor_row.subscription;
  failures := CASE WHEN cursor_row.failing_event_id = p_failed_event_id THEN cursor_row.attempts + 1 ELSE 1 END;
  IF failures >= subscription_row.max_attempts THEN
    INSERT INTO maturion.event_dead_letters
      (subscription, organisation_id, position, event_timestamp, event_id, event_type, attempts, last_error)
    VALUES (cursor_row.subscription, cursor_row.organisation_id, p_failed_position, p_failed_event_timestamp,
            p_failed_event_id, p_failed_event_type, failures, left(p_error, 4000));
    UPDATE maturion.event_cursors
       SET position = p_skip_position, event_id = p_failed_event_id, attempts = 0, failing_event_id = NULL,
           last_error = left(p_error, 4000), retry_at = '-infinity', lease_token = NULL, leased_until = NULL,
           updated_at = clock_timestamp()
     WHERE subscription = cursor_row.subscription AND organisation_id = cursor_row.organisation_id;
    RETURN 'dead';
  END IF;
  delay := least(subscription_row.retry_base * power(2, failures - 1), subscription_row.retry_max);
  UPDATE maturion.event_cursors
     SET position = greatest(position, p_position),
         event_id = CASE WHEN p_position >= position THEN p_event_id ELSE event_id END,
         attempts = failures, failing_event_id = p_failed_event_id, last_error = left(p_error, 4000),
         -- Up to 10% jitter, so that streams failing together do not retry in lockstep.
         retry_at = clock_timestamp() + delay * (1 + random() / 10),
         lease_token = NULL, leased_until = NULL, updated_at = clock_timestamp()
   WHERE subscription = cursor_row.subscription AND organisation_id = cursor_row.organisation_id;
  RETURN 'retry';
END
$$;
COMMENT ON FUNCTION maturion.event_fail(uuid, text, uuid, bigint, uuid, bigint, bigint, timestamptz, uuid, text, text) IS
  'Records a failed delivery: back-off and retry, or dead letter after max_attempts.';

-- Gives a lease back untouched (the worker hit an error that is not the event's fault), so the
-- stream or replay can be claimed again at once instead of when the lease expires.
CREATE FUNCTION maturion.event_release(p_lease uuid, p_subscription text, p_organisation_id uuid) RETURNS boolean
LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  WITH streams AS (
    UPDATE maturion.event_cursors SET lease_token = NULL, leased_until = NULL
     WHERE subscription = p_subscription AND organisation_id = p_organisation_id
       AND lease_token = p_lease RETURNING 1
  ), replays AS (
    UPDATE maturion.event_dead_letters SET lease_token = NULL, leased_until = NULL
     WHERE lease_token = p_lease RETURNING 1
  )
  SELECT EXISTS (SELECT FROM streams) OR EXISTS (SELECT FROM replays);
$$;
COMMENT ON FUNCTION maturion.event_release(uuid, text, uuid) IS 'Gives a stream or replay lease back without moving anything.';

-- Ends a replay lease: delivered, or failed again (back-off; dead again after max_attempts).
CREATE FUNCTION maturion.event_replay_finish(p_lease uuid, p_error text) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  letter maturion.event_dead_letters%ROWTYPE;
  subscription_row maturion.event_subscriptions%ROWTYPE;
BEGIN
  SELECT * INTO letter FROM maturion.event_dead_letters
   WHERE lease_token = p_lease AND maturion.event_lease_visible(organisation_id)
   FOR UPDATE;
  IF NOT FOUND THEN
    RETURN 'lost';
  END IF;
  IF p_error IS NULL THEN
    UPDATE maturion.event_dead_letters
       SET status = 'replayed', replayed_at = clock_timestamp(), lease_token = NULL, leased_until = NULL
     WHERE id = letter.id;
    RETURN 'replayed';
  END IF;
  SELECT * INTO subscription_row FROM maturion.event_subscriptions WHERE name = letter.subscription;
  IF letter.attempts + 1 >= subscription_row.max_attempts THEN
    UPDATE maturion.event_dead_letters
       SET status = 'dead', attempts = letter.attempts + 1, last_error = left(p_error, 4000),
           dead_at = clock_timestamp(), lease_token = NULL, leased_until = NULL
     WHERE id = letter.id;
    RETURN 'dead';
  END IF;
  UPDATE maturion.event_dead_letters
     SET attempts = letter.attempts + 1, last_error = left(p_error, 4000),
         retry_at = clock_timestamp()
                    + least(subscription_row.retry_base * power(2, letter.attempts), subscription_row.retry_max),
         lease_token = NULL, leased_until = NULL
   WHERE id = letter.id;
  RETURN 'retry';
END
$$;
COMMENT ON FUNCTION maturion.event_replay_finish(uuid, text) IS
  'Ends a replay lease: replayed (error NULL), retry with back-off, or dead again.';

------------------------------------------------------------------------------------------------
-- Operators (maturion_maintenance)
------------------------------------------------------------------------------------------------

-- Queues a dead letter for redelivery (out of stream order, necessarily).
CREATE FUNCTION maturion.event_replay(p_dead_letter uuid) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  UPDATE maturion.event_dead_letters
     SET status = 'queued', attempts = 0, replay_requested_at = clock_timestamp(),
         retry_at = '-infinity', lease_token = NULL, leased_until = NULL
   WHERE id = p_dead_letter AND status = 'dead';
  IF NOT FOUND THEN
    RETURN false;
  END IF;
  PERFORM pg_notify('maturion_events', '');
  RETURN true;
END
$$;
COMMENT ON FUNCTION maturion.event_replay(uuid) IS 'Queues a dead letter for redelivery; false unless it is dead.';

-- Forgets commits recorded before p_before, once every cursor of their organisation is past
-- them. Run after event_log partitions older than that are dropped: the order of events that
-- are gone is no longer needed.
CREATE FUNCTION maturion.event_prune_commits(p_before timestamptz) RETURNS bigint
LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  WITH gone AS (
    DELETE FROM maturion.event_commits c
     WHERE c.committed_at < p_before
       AND NOT EXISTS (SELECT FROM maturion.event_cursors k
                       WHERE k.organisation_id = c.organisation_id AND k.position < c.position)
    RETURNING 1
  )
  SELECT count(*) FROM gone;
$$;
COMMENT ON FUNCTION maturion.event_prune_commits(timestamptz) IS
  'Deletes commit rows older than the given time that every cursor has passed.';

------------------------------------------------------------------------------------------------
-- Event sourcing: one organisation's events in commit order (maturion_app)
------------------------------------------------------------------------------------------------

-- Runs as the owner, who is subject to event_log's forced RLS: only the current organisation's
-- events come back, and only its commits are read.
CREATE FUNCTION maturion.events_in_commit_order(p_event_types text[])
RETURNS TABLE (
  commit_position bigint,
  id uuid,
  "timestamp" timestamptz,
  event_type text,
  source_module text,
  source_entity_type text,
  source_entity_id uuid,
  target_module text,
  target_entity_type text,
  target_entity_id uuid,
  payload jsonb
)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT c.position, e.id, e.timestamp, e.event_type, e.source_module, e.source_entity_type,
         e.source_entity_id, e.target_module, e.target_entity_type, e.target_entity_id, e.payload
  FROM maturion.event_commits c
  JOIN public.event_log e
    ON e.timestamp = ANY (c.event_timestamps) AND e.transaction_id = c.transaction_id
   AND e.organisation_id = c.organisation_id
  WHERE c.organisation_id = (SELECT nullif(current_setting('app.current_organisation_id', true), '')::uuid)
    AND e.event_type = ANY (p_event_types)
  ORDER BY c.position, e.id;
$$;
COMMENT ON FUNCTION maturion.events_in_commit_order(text[]) IS
  'The current organisation''s events of the given types, in commit order (for rebuilding state).';

REVOKE EXECUTE ON FUNCTION
  maturion.event_subscribe(text, text[], uuid, boolean, integer, interval, interval),
  maturion.event_unsubscribe(text),
  maturion.event_claim(text, integer, integer, interval, integer, boolean),
  maturion.event_lease_visible(uuid),
  maturion.event_acknowledge(uuid, text, uuid, bigint, uuid),
  maturion.event_acknowledge_all(uuid[], text, uuid[], bigint[], uuid[]),
  maturion.event_fail(uuid, text, uuid, bigint, uuid, bigint, bigint, timestamptz, uuid, text, text),
  maturion.event_replay_finish(uuid, text),
  maturion.event_release(uuid, text, uuid),
  maturion.event_replay(uuid),
  maturion.event_prune_commits(timestamptz),
  maturion.events_in_commit_order(text[])
FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
  maturion.event_subscribe(text, text[], uuid, boolean, integer, interval, interval),
  maturion.event_unsubscribe(text),
  maturion.event_claim(text, integer, integer, interval, integer, boolean),
  maturion.event_acknowledge_all(uuid[], text, uuid[], bigint[], uuid[]),
  maturion.event_release(uuid, text, uuid),
  maturion.event_replay(uuid),
  maturion.event_prune_commits(timestamptz)
TO maturion_maintenance;
GRANT EXECUTE ON FUNCTION
  maturion.event_acknowledge(uuid, text, uuid, bigint, uuid),
  maturion.event_fail(uuid, text, uuid, bigint, uuid, bigint, bigint, timestamptz, uuid, text, text),
  maturion.event_replay_finish(uuid, text),
  maturion.events_in_commit_order(text[])
TO maturion_app, maturion_maintenance;
