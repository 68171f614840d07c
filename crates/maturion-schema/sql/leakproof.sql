-- Under row-level security the planner uses a condition of the query as an index condition
-- only when its function is LEAKPROOF (it could otherwise run on rows of other organisations
-- and reveal them through an error). The operators of the searches (§6.4) raise nothing that
-- depends on the row, yet PostgreSQL does not mark them:
--   tsvector @@ tsquery (ts_match_vq): full text, the GIN index of the tsvector column;
--   text <% text and text %> text (pg_trgm's word_similarity_op and its commutator): fuzzy
--   titles, the trigram index of the title.
-- Without the marks the application's searches never use their indexes and read every row of
-- the organisation. Only a superuser may mark a function. Run after the roles' bootstrap and
-- again after the migrations, since pg_trgm comes with the first migration.
DO $leakproof$
DECLARE
  operator_function regprocedure;
BEGIN
  FOR operator_function IN
    SELECT f.oid
    FROM unnest(ARRAY[to_regprocedure('pg_catalog.ts_match_vq(tsvector, tsquery)'),
                      to_regprocedure('public.word_similarity_op(text, text)'),
                      to_regprocedure('public.word_similarity_commutator_op(text, text)')]) AS f(oid)
    JOIN pg_proc p ON p.oid = f.oid
    WHERE NOT p.proleakproof
  LOOP
    IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
      RAISE WARNING 'as % (no superuser), % stays not LEAKPROOF: searches under row-level security do not use their indexes; a superuser should rerun this bootstrap', current_user, operator_function;
      CONTINUE;
    END IF;
    BEGIN
      EXECUTE format('ALTER FUNCTION %s LEAKPROOF', operator_function);
    EXCEPTION WHEN internal_error THEN
      NULL; -- "tuple concurrently updated": a concurrent bootstrap marked it first
    END;
  END LOOP;
END
$leakproof$;
