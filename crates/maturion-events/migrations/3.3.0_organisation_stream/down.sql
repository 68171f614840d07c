DROP FUNCTION maturion.event_stream_position(timestamptz, uuid);
DROP FUNCTION maturion.event_stream_after(bigint, uuid, text[], text[], integer);
DROP FUNCTION maturion.event_stream_head();
