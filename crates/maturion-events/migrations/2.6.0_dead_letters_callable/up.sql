-- event_dead_letter (2.4.0) is called by workers settling a stream inside a handler's tenant
-- transaction, as the application role: declared callable like event_fail (2.5.0).
COMMENT ON FUNCTION maturion.event_dead_letter(uuid, text, uuid, bigint, uuid, bigint, bigint, timestamptz, uuid, text, text) IS
  'Dead-letters an event no handler can be given (undecodable) at once and moves the cursor past it. @app-callable';
