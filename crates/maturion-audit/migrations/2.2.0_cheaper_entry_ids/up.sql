-- 2.2.0: the ids of audit_log come from maturion.audit_entry_id(), a UUIDv7 that the planner
-- expands into the INSERT that writes the rows, instead of the PL/pgSQL generate_uuidv7().
--
-- Measured with callgrind: in a batch of viewed entries (record_views, one INSERT of 1,000
-- rows) generate_uuidv7() cost about 20,000 instructions a row, 8,600 of them in OpenSSL's
-- generator (gen_random_uuid(), 16 bytes drawn to keep 8); the expression below costs 9,000,
-- and a row of the batch 43,000 instead of 55,000 in all. In a one-row INSERT, such as the
-- audit trigger's, the expression is set up again at every execution (about 22,000), while
-- the function is set up once per transaction (47,000 at its first call, 19,000 after): an
-- audited update, whose audit row takes its transaction's first id, costs 25,000 less; an
-- audited insert, whose own row took the first id, 5,000 more.
--
-- The id keeps the layout of RFC 9562 (UUIDv7, §6.2 method 3): 48 bits of Unix milliseconds
-- and 12 bits of sub-millisecond fraction, both from one reading of the clock (microseconds
-- times 4.096, in hex, with the version nibble 7 put in between), then the variant bits 10
-- and 62 bits from random() (52 of them random): this backend's generator, seeded from the
-- strong source at its first use. Entry ids name rows and grant nothing (row-level security
-- decides who reads what); two entries of one microsecond tick differ by their random bits,
-- so their order need not be that of their writing. No reader needs it: rows of one
-- transaction share their "timestamp" (the transaction's start) and are told apart by id
-- only for a stable order, and the primary key and the tenant key lead with "timestamp" or
-- (organisation_id, "timestamp"), so new entries stay at the right edge of the indexes.
-- generate_uuidv7(), which every other id uses, stays as it is: slower than a microsecond,
-- it keeps ids made one after another in that order (its tests say so).
-- Functions are qualified: an inlined body is parsed with the caller's search_path.
-- PARALLEL RESTRICTED because random() is.

CREATE FUNCTION maturion.audit_entry_id() RETURNS uuid
LANGUAGE sql VOLATILE PARALLEL RESTRICTED
AS $$
  SELECT (pg_catalog.overlay(
            pg_catalog.lpad(pg_catalog.to_hex(
              (pg_catalog.date_part('epoch', pg_catalog.clock_timestamp()) * 4096000)::bigint), 15, '0'),
            '7', 13, 0)
          || pg_catalog.to_hex((pg_catalog.random() * 4611686018427387904)::bigint | (-9223372036854775808)::bigint)
         )::uuid
$$;
COMMENT ON FUNCTION maturion.audit_entry_id() IS 'UUIDv7 of audit_log rows: Unix milliseconds, sub-millisecond fraction, random bits; inlined into the writing INSERT.';

ALTER TABLE audit_log ALTER COLUMN id SET DEFAULT maturion.audit_entry_id();
