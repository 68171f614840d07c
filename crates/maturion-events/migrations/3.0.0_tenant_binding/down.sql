-- Reverts 3.0.0: the bus reads app.current_organisation_id again.

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
CREATE OR REPLACE FUNCTION maturion.events_in_commit_order(p_event_types text[])
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
