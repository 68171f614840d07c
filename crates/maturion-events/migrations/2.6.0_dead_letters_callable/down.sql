-- Reverts 2.6.0: the comment without its marker.
COMMENT ON FUNCTION maturion.event_dead_letter(uuid, text, uuid, bigint, uuid, bigint, bigint, timestamptz, uuid, text, text) IS
  'Dead-letters an event no handler can be given (undecodable) at once and moves the cursor past it.';
