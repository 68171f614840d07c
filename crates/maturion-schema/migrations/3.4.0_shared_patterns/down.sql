-- Reverts 3.4.0: the pattern helpers go; tables that still use their triggers keep this from
-- running (drop or revert the modules first).
DROP FUNCTION maturion.enable_shared_patterns(regclass);
DROP FUNCTION maturion.enable_retention(regclass);
DROP FUNCTION maturion.keep_retained_rows();
DROP FUNCTION maturion.workflow_transitions(regclass);
DROP FUNCTION maturion.enable_workflow(regclass, text[], text);
DROP FUNCTION maturion.default_workflow();
DROP FUNCTION maturion.enforce_workflow();
DROP FUNCTION maturion.version_history(regclass, uuid);
DROP FUNCTION maturion.create_next_version(regclass, uuid, jsonb);
DROP FUNCTION maturion.enable_versioning(regclass);
DROP FUNCTION maturion.keep_versions();
DROP FUNCTION maturion.bookkeeping_columns();
DROP FUNCTION maturion.missing_columns(regclass, text[]);
DROP FUNCTION maturion.search_matches(tsvector, text, text);
DROP FUNCTION maturion.multilingual_search_query(text);
DROP FUNCTION maturion.search_query(text, text);
DROP FUNCTION maturion.search_vector(text, text, text);
DROP FUNCTION maturion.text_search_config(text);
