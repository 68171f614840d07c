-- Reverts 2.1.0: generate_uuidv7's comment without the callers it declares.
COMMENT ON FUNCTION public.generate_uuidv7() IS 'Time-ordered UUIDv7 (RFC 9562) with sub-millisecond ordering; default for every id.';
