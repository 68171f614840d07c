-- 3.4.0: the shared patterns of spec §5 and multilingual search (§2.3, §6.4), as helpers a
-- module migration calls after maturion.enable_tenant_isolation. They switch on from the
-- table's shape:
--
--   versioning (§5.2)  version_number, is_current_version, parent_version_id: every version is
--                      a row; a version's content never changes, the next one is a new row
--                      (maturion.create_next_version), and only the newest is current.
--   workflow (§5.3)    status (CHECK valid_status), status_changed_at, status_changed_by: status
--                      moves only along a transition graph declared in SQL, new rows start in
--                      the initial status.
--   retention (§5.4)   retention_until, retention_reason, is_legally_protected: a retention date
--                      needs its reason; a protected row is neither soft- nor hard-deleted, and
--                      no row is hard-deleted before its retention date.
--   search (§6.4)      a language column and a generated tsvector column built with
--                      maturion.search_vector(language, title, content): the text search
--                      configuration follows the row's language.
--
-- maturion.enable_shared_patterns(table) looks at the columns and enables each pattern whose
-- columns are all there (and refuses a table that has only some of them); the per-pattern
-- functions take options (the transition graph). Every guard is a trigger: the database
-- enforces the patterns whatever the client, the REST layer included.
-- Errors: MT412 for a next version of a version that is not the current one (stale, deleted
-- or missing), MT405 for a change to what a version keeps, MT409 for a status move outside the
-- graph (its detail: "allowed: …"), MT423 for a row retention or legal protection keeps, 23514
-- for a retention date without a reason, 22023 for a table or an argument a helper cannot use.

------------------------------------------------------------------------------------------------
-- Multilingual search
------------------------------------------------------------------------------------------------

-- ISO 639-1 code (or a BCP 47 tag, by its primary subtag) to the text search configuration of
-- PostgreSQL 15 for that language; 'simple' (no stemming, no stop words) for the others.
-- IMMUTABLE so that a generated column may use it: the built-in configurations never change.
CREATE FUNCTION maturion.text_search_config(language text) RETURNS regconfig
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT (CASE pg_catalog.lower(pg_catalog.split_part(coalesce(language, ''), '-', 1))
    WHEN 'ar' THEN 'pg_catalog.arabic'
    WHEN 'hy' THEN 'pg_catalog.armenian'
    WHEN 'eu' THEN 'pg_catalog.basque'
    WHEN 'ca' THEN 'pg_catalog.catalan'
    WHEN 'da' THEN 'pg_catalog.danish'
    WHEN 'nl' THEN 'pg_catalog.dutch'
    WHEN 'en' THEN 'pg_catalog.english'
    WHEN 'fi' THEN 'pg_catalog.finnish'
    WHEN 'fr' THEN 'pg_catalog.french'
    WHEN 'de' THEN 'pg_catalog.german'
    WHEN 'el' THEN 'pg_catalog.greek'
    WHEN 'hi' THEN 'pg_catalog.hindi'
    WHEN 'hu' THEN 'pg_catalog.hungarian'
    WHEN 'id' THEN 'pg_catalog.indonesian'
    WHEN 'ga' THEN 'pg_catalog.irish'
    WHEN 'it' THEN 'pg_catalog.italian'
    WHEN 'lt' THEN 'pg_catalog.lithuanian'
    WHEN 'ne' THEN 'pg_catalog.nepali'
    WHEN 'no' THEN 'pg_catalog.norwegian'
    WHEN 'nb' THEN 'pg_catalog.norwegian'
    WHEN 'nn' THEN 'pg_catalog.norwegian'
    WHEN 'pt' THEN 'pg_catalog.portuguese'
    WHEN 'ro' THEN 'pg_catalog.romanian'
    WHEN 'ru' THEN 'pg_catalog.russian'
    WHEN 'sr' THEN 'pg_catalog.serbian'
    WHEN 'es' THEN 'pg_catalog.spanish'
    WHEN 'sv' THEN 'pg_catalog.swedish'
    WHEN 'ta' THEN 'pg_catalog.tamil'
    WHEN 'tr' THEN 'pg_catalog.turkish'
    WHEN 'yi' THEN 'pg_catalog.yiddish'
    ELSE 'pg_catalog.simple'
  END)::pg_catalog.regconfig
$$;
COMMENT ON FUNCTION maturion.text_search_config(text) IS 'The text search configuration of a language (ISO 639-1 code or BCP 47 tag): english, french, german, portuguese, spanish, dutch and the other PostgreSQL 15 languages; simple for the rest. @app-callable @readonly-callable';

-- The document of a searchable row: its title (weight A) and content (weight B), each stemmed
-- in the row's language. A module's generated column:
--   search_vector tsvector GENERATED ALWAYS AS (maturion.search_vector(language, title, content)) STORED
CREATE FUNCTION maturion.search_vector(language text, title text, content text) RETURNS tsvector
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT pg_catalog.setweight(pg_catalog.to_tsvector(maturion.text_search_config(language), coalesce(title, '')), 'A')
         OPERATOR(pg_catalog.||)
         pg_catalog.setweight(pg_catalog.to_tsvector(maturion.text_search_config(language), coalesce(content, '')), 'B')
$$;
COMMENT ON FUNCTION maturion.search_vector(text, text, text) IS 'The full-text document of a row: title (weight A) and content (weight B) in the configuration of the row''s language; for generated tsvector columns. @app-callable @readonly-callable';

-- A user's query (web search syntax: words, "phrases", OR, -word) in one language.
CREATE FUNCTION maturion.search_query(language text, query text) RETURNS tsquery
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT pg_catalog.websearch_to_tsquery(maturion.text_search_config(language), coalesce(query, ''))
$$;
COMMENT ON FUNCTION maturion.search_query(text, text) IS 'A web-search-syntax query stemmed in one language''s configuration; with language = that language it uses the GIN index of the tsvector column. @app-callable @readonly-callable';

-- The same query stemmed in every language maturion.text_search_config knows (ORed): one
-- constant query for the one GIN index over rows of every language. It over-matches (a stem of
-- one language may be a word of another), so a search over all languages also checks each row
-- in its own language: maturion.search_matches.
CREATE FUNCTION maturion.multilingual_search_query(query text) RETURNS tsquery
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  -- Each distinct reading once: the index looks up each alternative of an OR.
  SELECT coalesce(pg_catalog.string_agg(DISTINCT '(' || q.reading::text || ')', ' | '), '')::pg_catalog.tsquery
  FROM (VALUES
    ('pg_catalog.simple'),
    ('pg_catalog.arabic'),
    ('pg_catalog.armenian'),
    ('pg_catalog.basque'),
    ('pg_catalog.catalan'),
    ('pg_catalog.danish'),
    ('pg_catalog.dutch'),
    ('pg_catalog.english'),
    ('pg_catalog.finnish'),
    ('pg_catalog.french'),
    ('pg_catalog.german'),
    ('pg_catalog.greek'),
    ('pg_catalog.hindi'),
    ('pg_catalog.hungarian'),
    ('pg_catalog.indonesian'),
    ('pg_catalog.irish'),
    ('pg_catalog.italian'),
    ('pg_catalog.lithuanian'),
    ('pg_catalog.nepali'),
    ('pg_catalog.norwegian'),
    ('pg_catalog.portuguese'),
    ('pg_catalog.romanian'),
    ('pg_catalog.russian'),
    ('pg_catalog.serbian'),
    ('pg_catalog.spanish'),
    ('pg_catalog.swedish'),
    ('pg_catalog.tamil'),
    ('pg_catalog.turkish'),
    ('pg_catalog.yiddish')
  ) AS c(config),
  LATERAL (SELECT pg_catalog.websearch_to_tsquery(c.config::pg_catalog.regconfig, coalesce(query, '')) AS reading) q
  WHERE pg_catalog.numnode(q.reading) > 0
$$;
COMMENT ON FUNCTION maturion.multilingual_search_query(text) IS 'A web-search-syntax query stemmed in every supported language at once (ORed): the index condition of a search over rows of all languages. @app-callable @readonly-callable';

-- Whether a row's document matches a query read in the row's own language. Inlined by the
-- planner: the first condition is a constant query the GIN index answers, the second keeps
-- the rows whose own language's stemming matches.
CREATE FUNCTION maturion.search_matches(document tsvector, language text, query text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT document OPERATOR(pg_catalog.@@) maturion.multilingual_search_query(query)
     AND document OPERATOR(pg_catalog.@@) maturion.search_query(language, query)
$$;
COMMENT ON FUNCTION maturion.search_matches(tsvector, text, text) IS 'Whether a document matches a web-search-syntax query read in the row''s language, through the GIN index: WHERE maturion.search_matches(search_vector, language, $1). @app-callable @readonly-callable';

REVOKE EXECUTE ON FUNCTION
  maturion.text_search_config(text),
  maturion.search_vector(text, text, text),
  maturion.search_query(text, text),
  maturion.multilingual_search_query(text),
  maturion.search_matches(tsvector, text, text)
FROM PUBLIC;
-- The application and the maintenance role write rows whose generated column calls them.
GRANT EXECUTE ON FUNCTION
  maturion.text_search_config(text),
  maturion.search_vector(text, text, text),
  maturion.search_query(text, text),
  maturion.multilingual_search_query(text),
  maturion.search_matches(tsvector, text, text)
TO maturion_app, maturion_readonly, maturion_maintenance;

------------------------------------------------------------------------------------------------
-- Shape checks shared by the helpers
------------------------------------------------------------------------------------------------

-- The columns of `target` among `wanted` that are missing or not of the wanted type
-- ('name type' pairs), as text for an error message; empty when all are right.
CREATE FUNCTION maturion.missing_columns(target regclass, wanted text[]) RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT coalesce(string_agg(w.spec, ', ' ORDER BY w.position), '')
  FROM unnest(wanted) WITH ORDINALITY AS w(spec, position)
  WHERE NOT EXISTS (
    SELECT FROM pg_attribute a
    WHERE a.attrelid = target AND a.attnum > 0 AND NOT a.attisdropped
      AND a.attname = split_part(w.spec, ' ', 1)
      AND format_type(a.atttypid, NULL) = substr(w.spec, strpos(w.spec, ' ') + 1))
$$;
COMMENT ON FUNCTION maturion.missing_columns(regclass, text[]) IS 'The ''name type'' pairs a table lacks (missing or of another type), for the pattern helpers'' errors.';
REVOKE EXECUTE ON FUNCTION maturion.missing_columns(regclass, text[]) FROM PUBLIC;

------------------------------------------------------------------------------------------------
-- Versioning (§5.2)
------------------------------------------------------------------------------------------------

-- The columns a client's edit never reaches in place, whatever the pattern: bookkeeping of the
-- row (§5.1), of its version, its workflow and its retention. Everything else is the version's
-- content.
CREATE FUNCTION maturion.bookkeeping_columns() RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT ARRAY['id', 'organisation_id', 'created_at', 'created_by', 'updated_at', 'updated_by',
               'deleted_at', 'deleted_by', 'version_number', 'is_current_version', 'parent_version_id',
               'status', 'status_changed_at', 'status_changed_by',
               'retention_until', 'retention_reason', 'is_legally_protected']
$$;
COMMENT ON FUNCTION maturion.bookkeeping_columns() IS 'Columns the platform manages on a pattern table (audit fields, version, workflow and retention bookkeeping); the rest is content. @app-callable @readonly-callable';
REVOKE EXECUTE ON FUNCTION maturion.bookkeeping_columns() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION maturion.bookkeeping_columns() TO maturion_app, maturion_readonly, maturion_maintenance;

-- Row trigger `versioning` (BEFORE INSERT OR UPDATE) of a versioned table.
-- INSERT: a row without parent is version 1 of a new entity; with a parent, the parent must be
-- the current, not deleted version of its entity, and stops being current in this statement
-- (its row is locked by that UPDATE, so of two concurrent next versions one waits and then
-- finds the parent no longer current); version_number and is_current_version are computed,
-- whatever the client sent.
-- UPDATE: a version's number, parent and content never change (the next version is a new row);
-- is_current_version only goes from true to false, from inside the INSERT of the next version.
-- Workflow, retention, soft delete and the audit fields change in place. Roles with BYPASSRLS
-- (erasure, retention jobs) are not held to it.
CREATE FUNCTION maturion.keep_versions() RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
  previous integer;
  unchanged text[];
BEGIN
  IF TG_OP = 'INSERT' THEN
    IF NEW.parent_version_id IS NULL THEN
      NEW.version_number := 1;
    ELSE
      EXECUTE pg_catalog.format(
        'UPDATE %I.%I SET is_current_version = false '
        'WHERE organisation_id = $1 AND id = $2 AND is_current_version AND deleted_at IS NULL '
        'RETURNING version_number', TG_TABLE_SCHEMA, TG_TABLE_NAME)
        INTO previous USING NEW.organisation_id, NEW.parent_version_id;
      IF previous IS NULL THEN
        RAISE EXCEPTION 'version % of % is not the current version of its entity', NEW.parent_version_id, TG_TABLE_NAME
          USING ERRCODE = 'MT412',
                DETAIL = 'A next version follows the current, not deleted version; an older one, a deleted one or one that does not exist has none.',
                HINT = 'Read the current version (is_current_version) and make the next version from it.';
      END IF;
      NEW.version_number := previous + 1;
    END IF;
    NEW.is_current_version := true;
    RETURN NEW;
  END IF;

  IF (SELECT r.rolbypassrls FROM pg_catalog.pg_roles r WHERE r.rolname = current_user) THEN
    RETURN NEW;
  END IF;
  IF NEW.version_number IS DISTINCT FROM OLD.version_number
     OR NEW.parent_version_id IS DISTINCT FROM OLD.parent_version_id THEN
    RAISE EXCEPTION 'the version number and parent of a version of % never change', TG_TABLE_NAME
      USING ERRCODE = 'MT405';
  END IF;
  IF NEW.is_current_version IS DISTINCT FROM OLD.is_current_version
     AND NOT (OLD.is_current_version AND NOT NEW.is_current_version AND pg_catalog.pg_trigger_depth() > 1) THEN
    RAISE EXCEPTION 'is_current_version of % changes only when the next version is created', TG_TABLE_NAME
      USING ERRCODE = 'MT405',
            HINT = 'Make the next version: SELECT maturion.create_next_version(table, current version id, changes).';
  END IF;
  -- Generated columns are not computed yet in a BEFORE trigger, so they are left out.
  unchanged := maturion.bookkeeping_columns() || ARRAY(
    SELECT a.attname::text FROM pg_catalog.pg_attribute a
    WHERE a.attrelid = TG_RELID AND a.attnum > 0 AND a.attgenerated <> '');
  IF (pg_catalog.to_jsonb(NEW) OPERATOR(pg_catalog.-) unchanged)
     IS DISTINCT FROM (pg_catalog.to_jsonb(OLD) OPERATOR(pg_catalog.-) unchanged) THEN
    RAISE EXCEPTION 'version % of % does not change: its content is kept as it was', OLD.version_number, TG_TABLE_NAME
      USING ERRCODE = 'MT405',
            DETAIL = pg_catalog.format('Changed: %s.', (
              SELECT pg_catalog.string_agg(n.key, ', ' ORDER BY n.key)
              FROM pg_catalog.jsonb_each(pg_catalog.to_jsonb(NEW) OPERATOR(pg_catalog.-) unchanged) n
              WHERE n.value IS DISTINCT FROM pg_catalog.to_jsonb(OLD) OPERATOR(pg_catalog.->) n.key)),
            HINT = 'Make the next version: SELECT maturion.create_next_version(table, current version id, changes).';
  END IF;
  RETURN NEW;
END
$$;
COMMENT ON FUNCTION maturion.keep_versions() IS 'Row trigger of versioned tables (§5.2): numbers versions, keeps one current version per entity, and keeps every version''s content as it was.';

CREATE FUNCTION maturion.enable_versioning(target regclass) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  missing text := maturion.missing_columns(target, ARRAY[
    'id uuid', 'organisation_id uuid', 'version_number integer', 'is_current_version boolean',
    'parent_version_id uuid', 'deleted_at timestamp with time zone']);
BEGIN
  IF missing <> '' THEN
    RAISE EXCEPTION '% cannot be versioned: it lacks %', target, missing USING ERRCODE = '22023';
  END IF;
  IF EXISTS (SELECT FROM pg_attribute a WHERE a.attrelid = target AND a.attname IN ('version_number', 'is_current_version')
             AND NOT a.attnotnull) THEN
    RAISE EXCEPTION '% cannot be versioned: version_number and is_current_version must be NOT NULL', target
      USING ERRCODE = '22023';
  END IF;
  -- One next version per version at most, whatever happens concurrently: the chain of an
  -- entity never forks, so it has one current version. It also indexes the parent's key.
  IF NOT EXISTS (
    SELECT FROM pg_index i
    WHERE i.indrelid = target AND i.indisunique AND i.indpred IS NULL AND i.indnkeyatts = 2
      AND (SELECT array_agg(a.attname::text ORDER BY a.attname) FROM pg_attribute a
           WHERE a.attrelid = target AND a.attnum = ANY (i.indkey)) = ARRAY['organisation_id', 'parent_version_id']) THEN
    RAISE EXCEPTION '% cannot be versioned: it needs a unique key on (organisation_id, parent_version_id)', target
      USING ERRCODE = '22023',
            HINT = pg_catalog.format('ALTER TABLE %s ADD UNIQUE (organisation_id, parent_version_id), with FOREIGN KEY (organisation_id, parent_version_id) REFERENCES %s (organisation_id, id)', target, target);
  END IF;
  IF EXISTS (SELECT FROM pg_trigger t WHERE t.tgrelid = target AND t.tgname = 'versioning') THEN
    EXECUTE format('DROP TRIGGER versioning ON %s', target);
  END IF;
  EXECUTE format('CREATE TRIGGER versioning BEFORE INSERT OR UPDATE ON %s '
                 'FOR EACH ROW EXECUTE FUNCTION maturion.keep_versions()', target);
END
$$;
COMMENT ON FUNCTION maturion.enable_versioning(regclass) IS 'Makes a table with version_number, is_current_version and parent_version_id versioned (§5.2): versions numbered, one current per entity, content kept; for module migrations.';
REVOKE EXECUTE ON FUNCTION maturion.enable_versioning(regclass) FROM PUBLIC;

-- The next version of an entity: a copy of the current version `version_id` with `changes`
-- (column → new value, as JSON) applied, inserted as the caller (row-level security and the
-- caller's grants apply). Bookkeeping columns are the platform's; the workflow starts again
-- from its initial status (the new content has not been reviewed); retention carries over.
-- Returns the new version's id. No version `version_id` (or one of another organisation):
-- P0002; not the current one: MT412 (from the trigger); a change to a column that is not
-- content: 22023 naming it.
CREATE FUNCTION maturion.create_next_version(target regclass, version_id uuid, changes jsonb DEFAULT '{}')
RETURNS uuid
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  copied text[];
  refused text;
  created uuid;
BEGIN
  IF NOT EXISTS (SELECT FROM pg_trigger t WHERE t.tgrelid = target AND t.tgname = 'versioning'
                 AND t.tgfoid = 'maturion.keep_versions()'::regprocedure) THEN
    RAISE EXCEPTION '% is not a versioned table', target USING ERRCODE = '22023';
  END IF;
  IF changes IS NULL OR jsonb_typeof(changes) <> 'object' THEN
    RAISE EXCEPTION 'the changes of a next version are a JSON object of column names and values' USING ERRCODE = '22023';
  END IF;
  -- What a version carries over: every stored column but the platform's bookkeeping, plus
  -- the tenant key and retention.
  SELECT array_agg(a.attname::text ORDER BY a.attnum) INTO copied
  FROM pg_attribute a
  WHERE a.attrelid = target AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
    AND (a.attname::text <> ALL (maturion.bookkeeping_columns())
         OR a.attname IN ('organisation_id', 'retention_until', 'retention_reason', 'is_legally_protected'));
  SELECT string_agg(quote_ident(k), ', ' ORDER BY k) INTO refused
  FROM jsonb_object_keys(changes) k
  WHERE k = 'organisation_id' OR k <> ALL (copied);
  IF refused IS NOT NULL THEN
    RAISE EXCEPTION 'a next version of % cannot set %: not content of the table', target, refused
      USING ERRCODE = '22023';
  END IF;
  EXECUTE format(
    'INSERT INTO %1$s (%2$s, parent_version_id) '
    'SELECT %3$s, p.id FROM %1$s p, jsonb_populate_record(NULL::%1$s, $2) AS c '
    'WHERE p.id = $1 RETURNING id',
    target,
    (SELECT string_agg(quote_ident(c), ', ') FROM unnest(copied) c),
    (SELECT string_agg(format('CASE WHEN $2 ? %1$L THEN c.%2$I ELSE p.%2$I END', c, c), ', ')
     FROM unnest(copied) c))
    INTO created USING version_id, changes;
  IF created IS NULL THEN
    RAISE EXCEPTION 'no version % in %', version_id, target USING ERRCODE = 'P0002';
  END IF;
  RETURN created;
END
$$;
COMMENT ON FUNCTION maturion.create_next_version(regclass, uuid, jsonb) IS 'Creates the next version of an entity of a versioned table from its current version and a JSON object of changed columns, as the caller (RLS applies); returns its id. @app-callable';
REVOKE EXECUTE ON FUNCTION maturion.create_next_version(regclass, uuid, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION maturion.create_next_version(regclass, uuid, jsonb) TO maturion_app;

-- Every version of the entity that `version_id` is a version of, oldest first, as the caller
-- sees them (row-level security applies): empty for an id of no version the caller may read.
CREATE FUNCTION maturion.version_history(target regclass, version_id uuid)
RETURNS TABLE (id uuid, version_number integer, is_current_version boolean, parent_version_id uuid)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_trigger t WHERE t.tgrelid = target AND t.tgname = 'versioning'
                 AND t.tgfoid = 'maturion.keep_versions()'::regprocedure) THEN
    RAISE EXCEPTION '% is not a versioned table', target USING ERRCODE = '22023';
  END IF;
  RETURN QUERY EXECUTE format(
    'WITH RECURSIVE earlier AS ('
    '  SELECT v.id, v.parent_version_id FROM %1$s v WHERE v.id = $1'
    '  UNION SELECT v.id, v.parent_version_id FROM %1$s v JOIN earlier e ON v.id = e.parent_version_id),'
    ' chain AS ('
    '  SELECT v.id, v.version_number, v.is_current_version, v.parent_version_id, v.organisation_id'
    '  FROM %1$s v JOIN earlier e ON v.id = e.id WHERE e.parent_version_id IS NULL'
    '  UNION SELECT v.id, v.version_number, v.is_current_version, v.parent_version_id, v.organisation_id'
    '  FROM %1$s v JOIN chain c ON v.organisation_id = c.organisation_id AND v.parent_version_id = c.id)'
    ' SELECT id, version_number, is_current_version, parent_version_id FROM chain ORDER BY version_number',
    target) USING version_id;
END
$$;
COMMENT ON FUNCTION maturion.version_history(regclass, uuid) IS 'Every version of the entity a version id belongs to, oldest first, as the caller may read them. @app-callable @readonly-callable';
REVOKE EXECUTE ON FUNCTION maturion.version_history(regclass, uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION maturion.version_history(regclass, uuid) TO maturion_app, maturion_readonly;

------------------------------------------------------------------------------------------------
-- Workflow (§5.3)
------------------------------------------------------------------------------------------------

-- Row trigger `workflow` (BEFORE INSERT OR UPDATE). Its arguments are the graph: the initial
-- status first, then one 'from>to' per allowed transition. A new row starts in the initial
-- status; a status moves only along the graph; status_changed_at/by are set by the database
-- when the status moves and kept otherwise.
CREATE FUNCTION maturion.enforce_workflow() RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
  allowed text;
BEGIN
  IF TG_OP = 'INSERT' THEN
    IF NEW.status IS DISTINCT FROM TG_ARGV[0] THEN
      RAISE EXCEPTION 'a new row of % starts in status %, not %', TG_TABLE_NAME, TG_ARGV[0], coalesce(NEW.status, 'NULL')
        USING ERRCODE = 'MT409', DETAIL = pg_catalog.format('allowed: %s', TG_ARGV[0]);
    END IF;
  ELSIF NEW.status IS NOT DISTINCT FROM OLD.status THEN
    NEW.status_changed_at := OLD.status_changed_at;
    NEW.status_changed_by := OLD.status_changed_by;
    RETURN NEW;
  ELSIF NOT ((OLD.status || '>' || NEW.status) = ANY (TG_ARGV)) THEN
    SELECT pg_catalog.string_agg(pg_catalog.split_part(t, '>', 2), ', ' ORDER BY ordinality) INTO allowed
    FROM pg_catalog.unnest(TG_ARGV) WITH ORDINALITY AS t
    WHERE pg_catalog.split_part(t, '>', 1) = OLD.status AND pg_catalog.strpos(t, '>') > 0;
    RAISE EXCEPTION 'the status of % cannot move from % to %', TG_TABLE_NAME, OLD.status, coalesce(NEW.status, 'NULL')
      USING ERRCODE = 'MT409',
            DETAIL = pg_catalog.format('allowed: %s', coalesce(allowed, '')),
            HINT = pg_catalog.format('From %s the status may move to: %s.', OLD.status, coalesce(allowed, 'nothing, it is final'));
  END IF;
  NEW.status_changed_at := pg_catalog.now();
  NEW.status_changed_by := maturion.current_user_id();
  RETURN NEW;
END
$$;
COMMENT ON FUNCTION maturion.enforce_workflow() IS 'Row trigger of workflow tables (§5.3): new rows start in the initial status, status moves only along the declared graph (the trigger''s arguments), status_changed_at/by set by the database.';

-- The default graph of §5.3.
CREATE FUNCTION maturion.default_workflow() RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT ARRAY['draft>pending_review', 'pending_review>approved', 'pending_review>rejected',
               'approved>archived', 'rejected>draft']
$$;
COMMENT ON FUNCTION maturion.default_workflow() IS 'The default transition graph of §5.3: draft → pending_review → approved | rejected, approved → archived, rejected → draft. @app-callable @readonly-callable';
REVOKE EXECUTE ON FUNCTION maturion.default_workflow() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION maturion.default_workflow() TO maturion_app, maturion_readonly, maturion_maintenance;

-- Declares the transition graph of a table with status, status_changed_at, status_changed_by
-- and a CHECK constraint valid_status that admits every status of the graph. Called again, it
-- replaces the graph.
CREATE FUNCTION maturion.enable_workflow(target regclass,
                                         transitions text[] DEFAULT maturion.default_workflow(),
                                         initial_status text DEFAULT 'draft')
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  missing text := maturion.missing_columns(target, ARRAY[
    'status text', 'status_changed_at timestamp with time zone', 'status_changed_by uuid']);
  valid_statuses text[];
  malformed text;
  unknown text;
BEGIN
  IF missing <> '' THEN
    RAISE EXCEPTION '% cannot have a workflow: it lacks %', target, missing USING ERRCODE = '22023';
  END IF;
  SELECT array_agg(m[1]) INTO valid_statuses
  FROM pg_constraint c, regexp_matches(pg_get_constraintdef(c.oid), '''([a-z][a-z0-9_]*)''', 'g') AS m
  WHERE c.conrelid = target AND c.conname = 'valid_status' AND c.contype = 'c';
  IF valid_statuses IS NULL THEN
    RAISE EXCEPTION '% cannot have a workflow: it has no CHECK constraint valid_status', target
      USING ERRCODE = '22023',
            HINT = 'CONSTRAINT valid_status CHECK (status IN (''draft'', ''pending_review'', ''approved'', ''rejected'', ''archived''))';
  END IF;
  IF transitions IS NULL OR cardinality(transitions) = 0 OR array_ndims(transitions) <> 1 THEN
    RAISE EXCEPTION 'a workflow needs transitions, as ''from>to'' texts' USING ERRCODE = '22023';
  END IF;
  SELECT string_agg(quote_nullable(t), ', ') INTO malformed
  FROM unnest(transitions) t
  WHERE t IS NULL OR t !~ '^[a-z][a-z0-9_]*>[a-z][a-z0-9_]*$' OR split_part(t, '>', 1) = split_part(t, '>', 2);
  IF malformed IS NOT NULL OR (SELECT count(DISTINCT t) FROM unnest(transitions) t) <> cardinality(transitions) THEN
    RAISE EXCEPTION 'transitions are distinct ''from>to'' texts between two different statuses: %', coalesce(malformed, 'a duplicate')
      USING ERRCODE = '22023';
  END IF;
  SELECT string_agg(DISTINCT s, ', ') INTO unknown
  FROM (SELECT initial_status AS s
        UNION ALL SELECT split_part(t, '>', 1) FROM unnest(transitions) t
        UNION ALL SELECT split_part(t, '>', 2) FROM unnest(transitions) t) statuses
  WHERE s IS NULL OR s <> ALL (valid_statuses);
  IF unknown IS NOT NULL THEN
    RAISE EXCEPTION 'the workflow of % names statuses its valid_status constraint refuses: %', target, unknown
      USING ERRCODE = '22023';
  END IF;
  IF EXISTS (SELECT FROM pg_trigger t WHERE t.tgrelid = target AND t.tgname = 'workflow') THEN
    EXECUTE format('DROP TRIGGER workflow ON %s', target);
  END IF;
  EXECUTE format('CREATE TRIGGER workflow BEFORE INSERT OR UPDATE ON %s FOR EACH ROW '
                 'EXECUTE FUNCTION maturion.enforce_workflow(%s)',
                 target, (SELECT string_agg(quote_literal(a), ', ' ORDER BY o)
                          FROM unnest(initial_status || transitions) WITH ORDINALITY AS x(a, o)));
END
$$;
COMMENT ON FUNCTION maturion.enable_workflow(regclass, text[], text) IS 'Declares the status transition graph of a table (§5.3), enforced by a row trigger; default graph maturion.default_workflow(), initial status draft; for module migrations.';
REVOKE EXECUTE ON FUNCTION maturion.enable_workflow(regclass, text[], text) FROM PUBLIC;

-- The graph of a workflow table as the catalog holds it: (NULL, initial status) for a new row,
-- then each allowed (from, to). Empty for a table without a workflow.
CREATE FUNCTION maturion.workflow_transitions(target regclass)
RETURNS TABLE (from_status text, to_status text)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT CASE WHEN a.o = 1 THEN NULL ELSE split_part(a.arg, '>', 1) END,
         CASE WHEN a.o = 1 THEN a.arg ELSE split_part(a.arg, '>', 2) END
  FROM pg_trigger t,
       unnest(string_to_array(encode(t.tgargs, 'escape'), '\000')) WITH ORDINALITY AS a(arg, o)
  WHERE a.arg <> '' AND t.tgrelid = target AND t.tgname = 'workflow' AND t.tgfoid = 'maturion.enforce_workflow()'::regprocedure
  ORDER BY a.o
$$;
COMMENT ON FUNCTION maturion.workflow_transitions(regclass) IS 'The declared status graph of a workflow table: (NULL, initial status), then every allowed (from_status, to_status). @app-callable @readonly-callable';
REVOKE EXECUTE ON FUNCTION maturion.workflow_transitions(regclass) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION maturion.workflow_transitions(regclass) TO maturion_app, maturion_readonly, maturion_maintenance;

------------------------------------------------------------------------------------------------
-- Retention (§5.4, §10.3)
------------------------------------------------------------------------------------------------

-- Row trigger `retention` (BEFORE INSERT OR UPDATE OR DELETE). A retention date names its
-- reason; a legally protected row is not soft-deleted, and no row is hard-deleted (by the
-- maintenance side: the application has no DELETE) while protected or before its date.
CREATE FUNCTION maturion.keep_retained_rows() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    IF OLD.is_legally_protected OR OLD.retention_until > pg_catalog.now() THEN
      RAISE EXCEPTION 'row % of % is kept: %', OLD.id, TG_TABLE_NAME,
        CASE WHEN OLD.is_legally_protected THEN 'it is legally protected'
             ELSE pg_catalog.format('retained until %s (%s)', OLD.retention_until, OLD.retention_reason) END
        USING ERRCODE = 'MT423';
    END IF;
    RETURN OLD;
  END IF;
  IF NEW.retention_until IS NOT NULL AND pg_catalog.btrim(coalesce(NEW.retention_reason, '')) = '' THEN
    RAISE EXCEPTION 'retention_until of % needs a retention_reason', TG_TABLE_NAME
      USING ERRCODE = '23514', COLUMN = 'retention_reason';
  END IF;
  IF TG_OP = 'UPDATE' AND NEW.deleted_at IS NOT NULL AND OLD.deleted_at IS NULL
     AND (OLD.is_legally_protected OR NEW.is_legally_protected) THEN
    RAISE EXCEPTION 'row % of % is legally protected and cannot be deleted', OLD.id, TG_TABLE_NAME
      USING ERRCODE = 'MT423', HINT = 'Lift the protection first (is_legally_protected = false), in a change of its own.';
  END IF;
  RETURN NEW;
END
$$;
COMMENT ON FUNCTION maturion.keep_retained_rows() IS 'Row trigger of tables with retention fields (§5.4): a retention date needs a reason; legally protected rows are not deleted, soft or hard; no hard delete before retention_until.';

CREATE FUNCTION maturion.enable_retention(target regclass) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  missing text := maturion.missing_columns(target, ARRAY[
    'id uuid', 'retention_until timestamp with time zone', 'retention_reason text', 'is_legally_protected boolean',
    'deleted_at timestamp with time zone']);
BEGIN
  IF missing <> '' THEN
    RAISE EXCEPTION '% cannot keep retention fields: it lacks %', target, missing USING ERRCODE = '22023';
  END IF;
  IF NOT (SELECT a.attnotnull FROM pg_attribute a WHERE a.attrelid = target AND a.attname = 'is_legally_protected') THEN
    RAISE EXCEPTION '% cannot keep retention fields: is_legally_protected must be NOT NULL (DEFAULT false)', target
      USING ERRCODE = '22023';
  END IF;
  IF EXISTS (SELECT FROM pg_trigger t WHERE t.tgrelid = target AND t.tgname = 'retention') THEN
    EXECUTE format('DROP TRIGGER retention ON %s', target);
  END IF;
  EXECUTE format('CREATE TRIGGER retention BEFORE INSERT OR UPDATE OR DELETE ON %s '
                 'FOR EACH ROW EXECUTE FUNCTION maturion.keep_retained_rows()', target);
END
$$;
COMMENT ON FUNCTION maturion.enable_retention(regclass) IS 'Makes the retention fields of a table (§5.4) binding: reasons for dates, legal protection, no deletion before the date; for module migrations.';
REVOKE EXECUTE ON FUNCTION maturion.enable_retention(regclass) FROM PUBLIC;

------------------------------------------------------------------------------------------------
-- All of them, from the table's shape
------------------------------------------------------------------------------------------------

CREATE FUNCTION maturion.enable_shared_patterns(target regclass) RETURNS text[]
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  pattern record;
  present integer;
  enabled text[] := '{}';
BEGIN
  FOR pattern IN
    SELECT * FROM (VALUES
      ('versioning', ARRAY['version_number', 'is_current_version', 'parent_version_id']),
      ('workflow', ARRAY['status', 'status_changed_at', 'status_changed_by']),
      ('retention', ARRAY['retention_until', 'retention_reason', 'is_legally_protected'])
    ) AS patterns(name, columns)
  LOOP
    SELECT count(*) INTO present FROM pg_attribute a
    WHERE a.attrelid = target AND a.attnum > 0 AND NOT a.attisdropped AND a.attname = ANY (pattern.columns);
    CONTINUE WHEN present = 0;
    IF present < cardinality(pattern.columns) THEN
      RAISE EXCEPTION '% has some of the % columns but not all: %', target, pattern.name, array_to_string(pattern.columns, ', ')
        USING ERRCODE = '22023';
    END IF;
    CASE pattern.name
      WHEN 'versioning' THEN PERFORM maturion.enable_versioning(target);
      WHEN 'workflow' THEN PERFORM maturion.enable_workflow(target);
      ELSE PERFORM maturion.enable_retention(target);
    END CASE;
    enabled := enabled || pattern.name;
  END LOOP;
  RETURN enabled;
END
$$;
COMMENT ON FUNCTION maturion.enable_shared_patterns(regclass) IS 'Enables versioning, workflow (default graph) and retention on a table by its columns, refusing a partial set; returns the patterns enabled. For module migrations, after maturion.enable_tenant_isolation.';
REVOKE EXECUTE ON FUNCTION maturion.enable_shared_patterns(regclass) FROM PUBLIC;
