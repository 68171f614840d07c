CREATE OR REPLACE FUNCTION maturion.event_lease_visible(cursor_organisation uuid) RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT coalesce(cursor_organisation = nullif(current_setting('app.current_organisation_id', true), '')::uuid, true);
$$;
COMMENT ON FUNCTION maturion.event_lease_visible(uuid) IS
  'True unless a tenant context names another organisation than the leased stream''s.';
DROP FUNCTION maturion.event_dead_letter(uuid, text, uuid, bigint, uuid, bigint, bigint, timestamptz, uuid, text, text);
DROP TRIGGER event_timestamp_in_window ON public.event_log;
DROP FUNCTION maturion.event_timestamp_in_window();
