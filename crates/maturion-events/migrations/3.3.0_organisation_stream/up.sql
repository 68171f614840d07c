-- 3.3.0: the bound organisation's own stream, for the HTTP API's /v1/events/stream.
--
-- A client follows its organisation's events in commit order, the order subscriptions see
-- (event_commits, drawn at COMMIT under the organisation's lock, so a position read once never
-- has a smaller one committed behind it). The application role may not read event_commits
-- (@internal); these two functions read it for the organisation of the transaction's verified
-- binding only, never an argument, and without a binding they return nothing. event_log's
-- forced policy filters the events again.

-- Where the bound organisation's stream ends now: the last commit position, 0 before the first.
CREATE FUNCTION maturion.event_stream_head() RETURNS bigint
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT coalesce(max(c.position), 0)
  FROM maturion.event_commits c
  WHERE c.organisation_id = (SELECT maturion.current_organisation_id())
$$;
COMMENT ON FUNCTION maturion.event_stream_head() IS
  'The last commit position of the bound organisation''s event stream (0 before its first commit, and without a binding). @app-callable';
REVOKE EXECUTE ON FUNCTION maturion.event_stream_head() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION maturion.event_stream_head() TO maturion_app;

-- The bound organisation's events after a cursor, in commit order: after commit p_position
-- entirely when p_event_id is NULL, else after event p_event_id inside that commit. At most
-- p_limit commits are read and p_limit rows returned (1 to 1000). A commit none of whose
-- events matches the types (LIKE patterns) and modules asked for comes back as one row with
-- NULL event columns, so the reader's cursor moves past it.
CREATE FUNCTION maturion.event_stream_after(
  p_position bigint,
  p_event_id uuid,
  p_event_types text[],
  p_modules text[],
  p_limit integer
)
RETURNS TABLE (
  commit_position bigint,
  id uuid,
  organisation_id uuid,
  "timestamp" timestamptz,
  event_type text,
  source_module text,
  source_entity_type text,
  source_entity_id uuid,
  target_module text,
  target_entity_type text,
  target_entity_id uuid,
  payload jsonb,
  published_by uuid
)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT c.position, e.id, e.organisation_id, e.timestamp, e.event_type, e.source_module,
         e.source_entity_type, e.source_entity_id, e.target_module, e.target_entity_type,
         e.target_entity_id, e.payload, e.published_by
  FROM (SELECT c.organisation_id, c.position, c.transaction_id, c.event_timestamps
        FROM maturion.event_commits c
        WHERE c.organisation_id = (SELECT maturion.current_organisation_id())
          AND (c.position > p_position OR (c.position = p_position AND p_event_id IS NOT NULL))
        ORDER BY c.position
        LIMIT greatest(1, least(p_limit, 1000))) c
  LEFT JOIN public.event_log e
         ON e.timestamp = ANY (c.event_timestamps) AND e.transaction_id = c.transaction_id
        AND e.organisation_id = c.organisation_id
        AND (c.position > p_position OR e.id > p_event_id)
        AND (p_event_types IS NULL OR e.event_type LIKE ANY (p_event_types))
        AND (p_modules IS NULL OR e.source_module = ANY (p_modules))
  ORDER BY c.position, e.id
  LIMIT greatest(1, least(p_limit, 1000))
$$;
COMMENT ON FUNCTION maturion.event_stream_after(bigint, uuid, text[], text[], integer) IS
  'The bound organisation''s events after a cursor (commit position, event id), in commit order, filtered by type patterns and source modules; a commit with no matching event is one row with NULL event columns. Nothing without a binding. @app-callable';
REVOKE EXECUTE ON FUNCTION maturion.event_stream_after(bigint, uuid, text[], text[], integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION maturion.event_stream_after(bigint, uuid, text[], text[], integer) TO maturion_app;

-- The commit position of one of the bound organisation's events, by its key. Positions come
-- from one sequence for every organisation, so clients never see them (their gaps would count
-- other organisations' commits): a client's cursor is the key of the last event it received,
-- turned back into a position here. NULL for a key the organisation has no event of (never
-- had, or dropped with its partition).
CREATE FUNCTION maturion.event_stream_position(p_timestamp timestamptz, p_id uuid) RETURNS bigint
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT c.position
  FROM public.event_log e
  JOIN maturion.event_commits c
    ON c.organisation_id = e.organisation_id AND c.transaction_id = e.transaction_id
   AND e.timestamp = ANY (c.event_timestamps)
  WHERE e.timestamp = p_timestamp AND e.id = p_id
    AND e.organisation_id = (SELECT maturion.current_organisation_id())
$$;
COMMENT ON FUNCTION maturion.event_stream_position(timestamptz, uuid) IS
  'The commit position of the bound organisation''s event with this key (timestamp, id); NULL for any other key, and without a binding. @app-callable';
REVOKE EXECUTE ON FUNCTION maturion.event_stream_position(timestamptz, uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION maturion.event_stream_position(timestamptz, uuid) TO maturion_app;
