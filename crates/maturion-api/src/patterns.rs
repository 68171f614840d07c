//! The shared patterns of spec §5 and search (§2.3, §6.4) as the API offers them, switched on
//! by the table's shape as the catalog shows it (the triggers and generated column the
//! platform's SQL helpers make), never by the table's name:
//!
//! - versioned tables: a change of a current version's content is its next version, made by
//!   `maturion.create_next_version` (one current version per entity, held by the database);
//!   `GET …/{id}/versions` lists the entity's versions, oldest first;
//! - workflow tables: `status` is the server's; `POST …/{id}/transitions {"to": …}` moves it
//!   and the database's graph decides;
//! - searchable tables: `?search=…` ranks full-text matches in each row's language and fuzzy
//!   title matches, with a highlighted snippet.

use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use crate::listing::ListQuery;
use crate::model::Resource;
use crate::statements::{quoted, Statement};
use crate::ApiError;

/// The most versions `GET …/{id}/versions` returns.
pub const VERSIONS_LIMIT: i64 = 1000;
/// The longest `search` accepted, in characters: each is stemmed in every language.
pub const MAX_SEARCH_CHARS: usize = 200;
/// The body field of a transition.
const TARGET_FIELD: &str = "to";
/// ts_headline's marks around a match, made `<mark>` once the rest is escaped for HTML.
const HEADLINE_OPTIONS: &str =
    "StartSel=\u{E000}, StopSel=\u{E001}, MaxWords=30, MinWords=10, MaxFragments=2";

/// A versioned table (§5.2): the trigger `versioning` of `maturion.keep_versions`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Versioning {
    /// Writable columns a change keeps in place (retention, in the platform's bookkeeping);
    /// a change of only these is no new version.
    pub in_place: Vec<String>,
}

/// A workflow table (§5.3): the trigger `workflow` of `maturion.enforce_workflow`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Workflow {
    pub initial_status: String,
    pub transitions: Vec<Transition>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Transition {
    pub from: String,
    pub to: String,
}

impl Workflow {
    /// From the trigger's arguments: the initial status, then `from>to` each. `None` for a
    /// shape not understood.
    pub(crate) fn from_arguments(arguments: &[String]) -> Option<Workflow> {
        let (initial_status, graph) = arguments.split_first()?;
        let transitions = graph
            .iter()
            .map(|arrow| {
                let (from, to) = arrow.split_once('>')?;
                Some(Transition {
                    from: from.to_owned(),
                    to: to.to_owned(),
                })
            })
            .collect::<Option<Vec<_>>>()?;
        Some(Workflow {
            initial_status: initial_status.clone(),
            transitions,
        })
    }

    /// Every status the graph names, in order of first appearance.
    pub fn statuses(&self) -> Vec<String> {
        let mut statuses = vec![self.initial_status.clone()];
        for transition in &self.transitions {
            for status in [&transition.from, &transition.to] {
                if !statuses.contains(status) {
                    statuses.push(status.clone());
                }
            }
        }
        statuses
    }
}

/// A searchable table (§6.4): a generated `maturion.search_vector(language, title, content)`
/// column with a GIN index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Search {
    /// The tsvector column.
    pub document: String,
    pub language: String,
    pub title: String,
    pub content: String,
    /// The title leads a trigram index: fuzzy title matches count too.
    pub fuzzy_title: bool,
}

/// `?search=…&language=…` of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchTerms {
    pub text: String,
    /// Rows of this language only, the query stemmed in it; else every row in its own.
    pub language: Option<String>,
}

impl SearchTerms {
    pub(crate) fn parse(text: &str, language: Option<&str>) -> Result<SearchTerms, ApiError> {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(ApiError::invalid("search", "must not be empty"));
        }
        if trimmed.chars().count() > MAX_SEARCH_CHARS {
            return Err(ApiError::invalid(
                "search",
                format!("longer than {MAX_SEARCH_CHARS} characters"),
            ));
        }
        if trimmed.chars().any(char::is_control) {
            return Err(ApiError::invalid("search", "contains a control character"));
        }
        let language = language.map(check_language).transpose()?;
        Ok(SearchTerms {
            text: trimmed.to_owned(),
            language,
        })
    }
}

/// An ISO 639-1 (or 639-2) code: what `maturion.text_search_config` reads.
fn check_language(code: &str) -> Result<String, ApiError> {
    let letters = (2..=3).contains(&code.len()) && code.bytes().all(|b| b.is_ascii_lowercase());
    if letters {
        Ok(code.to_owned())
    } else {
        Err(ApiError::invalid(
            "language",
            "expected a language code such as fr",
        ))
    }
}

/// What a PATCH of a versioned table's row becomes.
#[derive(Debug)]
pub enum Change {
    /// Nothing but what changes in place (or nothing at all): an UPDATE (or a read) of the
    /// current version, answering the row.
    InPlace(Statement),
    /// New content: the next version, answering its id as JSON (no row: no such live
    /// version, or not of the If-Match version).
    NextVersion(Statement),
}

impl Resource {
    /// A PATCH of a versioned table: new content makes the next version; a change of only
    /// what is kept in place updates the current version.
    pub fn change(
        &self,
        id: Uuid,
        body: &Value,
        version: Option<&str>,
    ) -> Result<Change, ApiError> {
        let fields = self.writable_fields(body)?;
        let in_place = |name: &String| {
            self.versioning
                .as_ref()
                .is_some_and(|versioning| versioning.in_place.contains(name))
        };
        if fields.keys().all(in_place) {
            return self.update(id, body, version).map(Change::InPlace);
        }
        let mut statement = Statement::new(String::new());
        let id = statement.bind(id);
        let changes = statement.bind(Value::Object(fields));
        let table = statement.bind(self.table());
        let mut condition = format!("t.id = {id} AND t.deleted_at IS NULL");
        if let Some(version) = version {
            condition.push_str(&self.version_condition(&mut statement, version)?);
        }
        statement.sql = format!(
            "SELECT to_jsonb(maturion.create_next_version(CAST(CAST({table} AS text) AS regclass), t.id, {changes})) \
             FROM {} AS t WHERE {condition}",
            self.table()
        );
        Ok(Change::NextVersion(statement))
    }

    /// Every version of the entity a version belongs to, oldest first (soft-deleted ones only
    /// with `include_deleted`), at most [`VERSIONS_LIMIT`].
    pub fn versions(&self, id: Uuid, include_deleted: bool) -> Statement {
        let mut statement = Statement::new(String::new());
        let table = statement.bind(self.table());
        let id = statement.bind(id);
        let limit = statement.bind(VERSIONS_LIMIT);
        statement.sql = format!(
            "SELECT to_jsonb(t) FROM maturion.version_history(CAST(CAST({table} AS text) AS regclass), {id}) AS h \
             JOIN {} AS t ON t.id = h.id WHERE true{} ORDER BY h.version_number LIMIT {limit}",
            self.table(),
            self.live_rows_only(include_deleted),
        );
        statement.reusable = true;
        statement
    }

    /// The status a transition's body asks for: `{"to": "<status>"}`, nothing else, a status
    /// of this table.
    pub fn transition_target(&self, body: &Value) -> Result<String, ApiError> {
        let Value::Object(fields) = body else {
            return Err(ApiError::MalformedBody("expected a JSON object".to_owned()));
        };
        if let Some(unknown) = fields.keys().find(|key| *key != TARGET_FIELD) {
            return Err(ApiError::UnknownField {
                resource: format!("{} transitions", self.name),
                field: unknown.clone(),
            });
        }
        let target = match fields.get(TARGET_FIELD) {
            None => {
                return Err(ApiError::MissingField {
                    field: TARGET_FIELD.to_owned(),
                })
            }
            Some(Value::String(target)) => target,
            Some(_) => return Err(ApiError::invalid(TARGET_FIELD, "expected a status")),
        };
        let statuses = self.statuses();
        if !statuses.contains(target) {
            return Err(ApiError::invalid(
                TARGET_FIELD,
                format!("expected one of {}", statuses.join(", ")),
            ));
        }
        Ok(target.clone())
    }

    /// The statuses of a workflow table: its `CHECK … IN` list, else the graph's.
    pub fn statuses(&self) -> Vec<String> {
        let checked = self.column("status").and_then(|c| c.allowed.clone());
        let graph = self.workflow.as_ref().map(Workflow::statuses);
        checked.or(graph).unwrap_or_default()
    }

    /// The status of a live row, locked until the transaction ends; with `version` (an
    /// `If-Match`), only while the row still has that version. No row: none such, or changed.
    pub fn current_status(&self, id: Uuid, version: Option<&str>) -> Result<Statement, ApiError> {
        let mut statement = Statement::new(String::new());
        let id = statement.bind(id);
        let version = match version {
            Some(version) => self.version_condition(&mut statement, version)?,
            None => String::new(),
        };
        statement.sql = format!(
            "SELECT to_jsonb(t.status) FROM {} AS t \
             WHERE t.id = {id} AND t.deleted_at IS NULL{version} FOR UPDATE",
            self.table()
        );
        statement.reusable = true;
        Ok(statement)
    }

    /// Moves a live row's status; the workflow trigger refuses a move outside its graph.
    pub fn move_status(&self, id: Uuid, to: &str) -> Result<Statement, ApiError> {
        let column = self
            .column("status")
            .ok_or_else(|| ApiError::invalid(TARGET_FIELD, "this resource has no status"))?;
        let mut statement = Statement::new(String::new());
        let id = statement.bind(id);
        let to = statement.bind_as(to, &column.sql_type);
        statement.sql = format!(
            "UPDATE {} AS t SET status = {to} WHERE t.id = {id} AND t.deleted_at IS NULL RETURNING to_jsonb(t)",
            self.table()
        );
        Ok(statement)
    }

    /// The statuses the database's graph allows from `from`, as `a, b` (JSON text).
    pub fn allowed_transitions(&self, from: &str) -> Statement {
        let mut statement = Statement::new(String::new());
        let table = statement.bind(self.table());
        let from = statement.bind(from.to_owned());
        statement.sql = format!(
            "SELECT to_jsonb(coalesce(string_agg(w.to_status, ', '), '')) \
             FROM maturion.workflow_transitions(CAST(CAST({table} AS text) AS regclass)) AS w \
             WHERE w.from_status = CAST({from} AS text)"
        );
        statement.reusable = true;
        statement
    }

    /// The best matches of a search, best first: each row with `_rank` (full-text rank in the
    /// row's language, plus the title's word similarity where the title has a trigram index)
    /// and `_snippet` (the content's matching fragments, HTML-escaped, matches in `<mark>`).
    pub(crate) fn search_list(
        &self,
        query: &ListQuery,
        terms: &SearchTerms,
        search: &Search,
    ) -> Statement {
        let mut statement = Statement::new(String::new());
        let mut conditions = self.filter_conditions(&mut statement, query);
        let text = format!("CAST({} AS text)", statement.bind(terms.text.clone()));
        let document = format!("t.{}", quoted(&search.document));
        let title = format!("t.{}", quoted(&search.title));
        let language_column = quoted(&search.language);
        // The query as each row's language reads it: in `t` (matching, rank), in `(m.t)`
        // (snippet of a returned row).
        let (join, full_text, reading, returned_reading) = match &terms.language {
            Some(language) => {
                let language = format!("CAST({} AS text)", statement.bind(language.clone()));
                conditions.push(format!("t.{language_column} = {language}"));
                let reading = format!("maturion.search_query({language}, {text})");
                let full_text = format!("{document} @@ {reading}");
                (String::new(), full_text, reading.clone(), reading)
            }
            None => {
                // maturion.search_matches' two conditions (the multilingual query, which the
                // GIN index answers, then the row's own language), with the query read once
                // per text search configuration instead of once per row.
                let join = format!(
                    " JOIN (SELECT c.oid::regconfig AS config, websearch_to_tsquery(c.oid::regconfig, {text}) AS reading \
                     FROM pg_catalog.pg_ts_config AS c) AS r ON r.config = maturion.text_search_config(t.{language_column})"
                );
                let full_text = format!(
                    "{document} @@ maturion.multilingual_search_query({text}) AND {document} @@ r.reading"
                );
                let returned = format!("maturion.search_query((m.t).{language_column}, {text})");
                (join, full_text, "r.reading".to_owned(), returned)
            }
        };
        let mut rank = format!("ts_rank({document}, {reading})");
        if search.fuzzy_title {
            conditions.push(format!(
                "(({full_text}) OR {text} OPERATOR(public.<%) {title})"
            ));
            rank.push_str(&format!(" + public.word_similarity({text}, {title})"));
        } else {
            conditions.push(full_text);
        }
        let limit = statement.bind(query.limit + 1);
        let options = statement.bind(HEADLINE_OPTIONS.to_owned());
        let headline = format!(
            "ts_headline(maturion.text_search_config((m.t).{language_column}), coalesce((m.t).{content}, ''), {returned_reading}, CAST({options} AS text))",
            content = quoted(&search.content),
        );
        let snippet = format!(
            "replace(replace(replace(replace(replace({headline}, '&', '&amp;'), '<', '&lt;'), '>', '&gt;'), chr(57344), '<mark>'), chr(57345), '</mark>')"
        );
        statement.sql = format!(
            "SELECT to_jsonb(m.t) || jsonb_build_object('_rank', m.rank, '_snippet', {snippet}) \
             FROM (SELECT t, {rank} AS rank FROM {} AS t{join} WHERE {}{} ORDER BY 2 DESC, t.id LIMIT {limit}) AS m \
             ORDER BY m.rank DESC, (m.t).id",
            self.table(),
            conditions.join(" AND "),
            self.live_rows_only(query.include_deleted),
        );
        statement
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_workflow_is_read_from_its_trigger_arguments() {
        let arguments: Vec<String> = ["draft", "draft>review", "review>approved"]
            .iter()
            .map(|a| a.to_string())
            .collect();
        let workflow = Workflow::from_arguments(&arguments).unwrap();
        assert_eq!(workflow.initial_status, "draft");
        assert_eq!(workflow.statuses(), ["draft", "review", "approved"]);
        assert_eq!(
            Workflow::from_arguments(&["draft".into(), "nonsense".into()]),
            None
        );
    }

    #[test]
    fn search_terms_are_trimmed_capped_and_checked() {
        let terms = SearchTerms::parse("  sécurité ", Some("fr")).unwrap();
        assert_eq!(terms.text, "sécurité");
        assert_eq!(terms.language.as_deref(), Some("fr"));
        for bad in ["", "   ", "a\u{7}b"] {
            assert_eq!(SearchTerms::parse(bad, None).unwrap_err().field(), "search");
        }
        let long = "é".repeat(MAX_SEARCH_CHARS + 1);
        assert_eq!(
            SearchTerms::parse(&long, None).unwrap_err().field(),
            "search"
        );
        assert!(SearchTerms::parse(&"é".repeat(MAX_SEARCH_CHARS), None).is_ok());
        for bad in ["FR", "f", "fr'", "french"] {
            assert_eq!(
                SearchTerms::parse("x", Some(bad)).unwrap_err().field(),
                "language"
            );
        }
    }
}
