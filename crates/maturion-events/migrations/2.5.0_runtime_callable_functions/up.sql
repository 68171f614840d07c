-- 2.5.0: the bus functions that handler transactions call as maturion_app say so in their
-- COMMENT (`@app-callable`; maturion-schema 2.1.0 explains the markers). The advisory locks of
-- commit ordering are taken only inside SECURITY DEFINER functions with a pinned search_path
-- (event_sequence_commit, and event_claim through event_rest_streams), so the application
-- needs no lock function of its own: maturion-schema's sql/roles.sql revokes them from PUBLIC.
COMMENT ON FUNCTION maturion.event_acknowledge(uuid, text, uuid, bigint, uuid) IS 'Moves a leased cursor to (position, event id) and releases the lease; false if the lease was lost. @app-callable';
COMMENT ON FUNCTION maturion.event_fail(uuid, text, uuid, bigint, uuid, bigint, bigint, timestamptz, uuid, text, text) IS 'Records a failed delivery: back-off and retry, or dead letter after max_attempts. @app-callable';
COMMENT ON FUNCTION maturion.event_replay_finish(uuid, text) IS 'Ends a replay lease: replayed (error NULL), retry with back-off, or dead again. @app-callable';
COMMENT ON FUNCTION maturion.events_in_commit_order(text[]) IS 'The current organisation''s events of the given types, in commit order (for rebuilding state). @app-callable';
