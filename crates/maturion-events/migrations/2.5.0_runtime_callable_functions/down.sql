-- Reverts 2.5.0: comments without markers.
COMMENT ON FUNCTION maturion.event_acknowledge(uuid, text, uuid, bigint, uuid) IS 'Moves a leased cursor to (position, event id) and releases the lease; false if the lease was lost.';
COMMENT ON FUNCTION maturion.event_fail(uuid, text, uuid, bigint, uuid, bigint, bigint, timestamptz, uuid, text, text) IS 'Records a failed delivery: back-off and retry, or dead letter after max_attempts.';
COMMENT ON FUNCTION maturion.event_replay_finish(uuid, text) IS 'Ends a replay lease: replayed (error NULL), retry with back-off, or dead again.';
COMMENT ON FUNCTION maturion.events_in_commit_order(text[]) IS 'The current organisation''s events of the given types, in commit order (for rebuilding state).';
