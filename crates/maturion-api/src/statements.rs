//! The SQL of each operation. Identifiers come from the catalog only and are quoted; values
//! travel as parameters (text cast to the column's type, or one JSON object that
//! `jsonb_populate_record` turns into a row of the table).

use serde_json::{Map, Value};
use tokio_postgres::types::ToSql;
use uuid::Uuid;

use crate::listing::{Condition, ListQuery};
use crate::model::Resource;
use crate::model::ValueKind;
use crate::values::{check_json, check_text};
use crate::ApiError;

/// The column whose value versions a row (ETag, If-Match): the stamp trigger moves it on every
/// change.
const VERSION_COLUMN: &str = "updated_at";
/// The flag of a versioned table's current versions (spec §5.2).
const CURRENT_VERSION_COLUMN: &str = "is_current_version";

/// The most audit entries `/history` returns, newest first.
pub const HISTORY_LIMIT: i64 = 1000;

type Parameter = Box<dyn ToSql + Sync + Send>;

/// SQL and its parameters.
pub struct Statement {
    pub sql: String,
    params: Vec<Parameter>,
    /// Its text is one of a few per resource (no filters, no field list), so a connection may
    /// keep it prepared.
    pub reusable: bool,
}

impl Statement {
    pub(crate) fn new(sql: String) -> Self {
        Statement {
            sql,
            params: Vec::new(),
            reusable: false,
        }
    }

    /// Adds a parameter and returns its placeholder.
    pub(crate) fn bind(&mut self, value: impl ToSql + Sync + Send + 'static) -> String {
        self.params.push(Box::new(value));
        format!("${}", self.params.len())
    }

    /// `CAST(CAST($n AS text) AS <type>)` for a value checked against a column of `sql_type`.
    pub(crate) fn bind_as(&mut self, text: &str, sql_type: &str) -> String {
        let placeholder = self.bind(text.to_owned());
        format!("CAST(CAST({placeholder} AS text) AS {sql_type})")
    }

    pub fn params(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.params
            .iter()
            .map(|p| p.as_ref() as &(dyn ToSql + Sync))
            .collect()
    }
}

impl std::fmt::Debug for Statement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Statement").field("sql", &self.sql).finish()
    }
}

/// `"name"`, with inner quotes doubled.
pub(crate) fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

impl Resource {
    pub(crate) fn table(&self) -> String {
        format!("public.{}", quoted(&self.name))
    }

    pub(crate) fn live_rows_only(&self, include_deleted: bool) -> &'static str {
        if self.soft_delete && !include_deleted {
            " AND t.deleted_at IS NULL"
        } else {
            ""
        }
    }

    /// One row by id (soft-deleted ones only with `include_deleted`).
    pub fn select_one(&self, id: Uuid, include_deleted: bool) -> Statement {
        let mut statement = Statement::new(String::new());
        let id = statement.bind(id);
        statement.sql = format!(
            "SELECT to_jsonb(t) FROM {} AS t WHERE t.id = {id}{}",
            self.table(),
            self.live_rows_only(include_deleted)
        );
        statement.reusable = true;
        statement
    }

    /// Whether a row of this id exists in the organisation, soft-deleted or not.
    pub fn exists(&self, id: Uuid) -> Statement {
        let mut statement = Statement::new(String::new());
        let id = statement.bind(id);
        statement.sql = format!(
            "SELECT EXISTS (SELECT FROM {} AS t WHERE t.id = {id})",
            self.table()
        );
        statement.reusable = true;
        statement
    }

    /// A page of rows: one more than the limit, which tells whether another page follows.
    /// A search's page is its best matches instead (see [`Resource::search_list`]).
    pub fn list(&self, query: &ListQuery) -> Statement {
        if let (Some(terms), Some(search)) = (&query.search, &self.search) {
            return self.search_list(query, terms, search);
        }
        let mut statement = Statement::new(String::new());
        let mut conditions = self.filter_conditions(&mut statement, query);
        let order = &query.order;
        let direction = if order.descending { "DESC" } else { "ASC" };
        let beyond = if order.descending { "<" } else { ">" };
        let order_column = format!("t.{}", quoted(&order.column));
        if let Some(cursor) = &query.after {
            let id = statement.bind(cursor.id());
            if order.column == "id" {
                conditions.push(format!("t.id {beyond} {id}"));
            } else if let (Some(column), Some(value)) = (self.column(&order.column), cursor.value())
            {
                let value = statement.bind_as(value, &column.sql_type);
                conditions.push(format!("({order_column}, t.id) {beyond} ({value}, {id})"));
            }
        }
        let limit = statement.bind(query.limit + 1);
        let tie_break = if order.column == "id" {
            String::new()
        } else {
            format!(", t.id {direction}")
        };
        statement.sql = format!(
            "SELECT to_jsonb(t) FROM {} AS t WHERE {}{} ORDER BY {order_column} {direction}{tie_break} LIMIT {limit}",
            self.table(),
            conditions.join(" AND "),
            self.live_rows_only(query.include_deleted),
        );
        statement
    }

    /// The listing's filters as SQL conditions on `t`, their values bound to `statement`.
    pub(crate) fn filter_conditions(
        &self,
        statement: &mut Statement,
        query: &ListQuery,
    ) -> Vec<String> {
        let mut conditions = vec!["true".to_owned()];
        // A versioned table lists its entities (their current versions) unless the caller
        // asks about versions.
        let about_versions = query
            .filters
            .iter()
            .any(|filter| filter.column == CURRENT_VERSION_COLUMN);
        if self.versioning.is_some() && !about_versions {
            conditions.push(format!("t.{CURRENT_VERSION_COLUMN}"));
        }
        for filter in &query.filters {
            let Some(column) = self.column(&filter.column) else {
                continue;
            };
            let target = format!("t.{}", quoted(&column.name));
            conditions.push(match &filter.condition {
                Condition::Compare(comparison, value) => {
                    let value = statement.bind_as(value, &column.sql_type);
                    format!("{target} {} {value}", comparison.sql())
                }
                Condition::In(values) if values.is_empty() => "false".to_owned(),
                Condition::In(values) => {
                    let values: Vec<String> = values
                        .iter()
                        .map(|value| statement.bind_as(value, &column.sql_type))
                        .collect();
                    format!("{target} IN ({})", values.join(", "))
                }
                Condition::IsNull => format!("{target} IS NULL"),
                Condition::IsNotNull => format!("{target} IS NOT NULL"),
            });
        }
        conditions
    }

    /// A new row in the bound organisation from the body's fields.
    pub fn insert(&self, body: &Value) -> Result<Statement, ApiError> {
        let fields = self.writable_fields(body)?;
        if let Some(missing) = self
            .columns
            .iter()
            .find(|column| column.is_required() && !fields.contains_key(&column.name))
        {
            return Err(ApiError::MissingField {
                field: missing.name.clone(),
            });
        }
        let mut names = vec![quoted(&self.tenant_column)];
        let mut values = vec!["(SELECT maturion.current_organisation_id())".to_owned()];
        for column in self.columns.iter().filter(|c| fields.contains_key(&c.name)) {
            names.push(quoted(&column.name));
            values.push(format!("r.{}", quoted(&column.name)));
        }
        let mut statement = Statement::new(String::new());
        let row = statement.bind(Value::Object(fields));
        statement.sql = format!(
            "INSERT INTO {table} AS t ({}) SELECT {} FROM jsonb_populate_record(NULL::{table}, {row}) AS r RETURNING to_jsonb(t)",
            names.join(", "),
            values.join(", "),
            table = self.table(),
        );
        Ok(statement)
    }

    /// Changes the body's fields of a live row; with no field, reads it. With `version` (the
    /// row's ETag, its `updated_at`), only while the row still has that version: no row then
    /// means gone or changed, which [`Resource::exists`] tells apart.
    pub fn update(
        &self,
        id: Uuid,
        body: &Value,
        version: Option<&str>,
    ) -> Result<Statement, ApiError> {
        let fields = self.writable_fields(body)?;
        let mut statement = Statement::new(String::new());
        let id = statement.bind(id);
        let mut condition = format!("t.id = {id}{}", self.live_rows_only(false));
        // A version's content is changed by its next version, so only the current one
        // changes in place.
        if self.versioning.is_some() {
            condition.push_str(&format!(" AND t.{CURRENT_VERSION_COLUMN}"));
        }
        if let Some(version) = version {
            condition.push_str(&self.version_condition(&mut statement, version)?);
        }
        if fields.is_empty() {
            statement.sql = format!(
                "SELECT to_jsonb(t) FROM {} AS t WHERE {condition}",
                self.table()
            );
            return Ok(statement);
        }
        let assignments: Vec<String> = self
            .columns
            .iter()
            .filter(|c| fields.contains_key(&c.name))
            .map(|c| format!("{name} = r.{name}", name = quoted(&c.name)))
            .collect();
        let row = statement.bind(Value::Object(fields));
        statement.sql = format!(
            "UPDATE {table} AS t SET {} FROM jsonb_populate_record(NULL::{table}, {row}) AS r WHERE {condition} RETURNING to_jsonb(t)",
            assignments.join(", "),
            table = self.table(),
        );
        Ok(statement)
    }

    /// ` AND t.updated_at = <version>`: the row is still as the client read it (`If-Match`).
    pub(crate) fn version_condition(
        &self,
        statement: &mut Statement,
        version: &str,
    ) -> Result<String, ApiError> {
        let column = self
            .column(VERSION_COLUMN)
            .filter(|column| column.kind == ValueKind::Timestamp)
            .ok_or_else(|| ApiError::parameter("If-Match", "this resource has no versions"))?;
        check_text(column, "If-Match", version)?;
        let version = statement.bind_as(version, &column.sql_type);
        Ok(format!(" AND t.{VERSION_COLUMN} = {version}"))
    }

    /// The version of a row as an ETag: its `updated_at`, which every change moves.
    pub fn version_of(&self, row: &Value) -> Option<String> {
        self.column(VERSION_COLUMN)?;
        row.get(VERSION_COLUMN)?.as_str().map(str::to_owned)
    }

    /// Soft delete (§3.5): `deleted_at` set, `deleted_by` stamped by the platform's trigger.
    pub fn soft_delete(&self, id: Uuid) -> Statement {
        self.set_deleted(id, "now()", "IS NULL")
    }

    /// Brings a soft-deleted row back.
    pub fn restore(&self, id: Uuid) -> Statement {
        self.set_deleted(id, "NULL", "IS NOT NULL")
    }

    fn set_deleted(&self, id: Uuid, value: &str, currently: &str) -> Statement {
        let mut statement = Statement::new(String::new());
        let id = statement.bind(id);
        statement.sql = format!(
            "UPDATE {} AS t SET deleted_at = {value} WHERE t.id = {id} AND t.deleted_at {currently} RETURNING to_jsonb(t)",
            self.table()
        );
        statement.reusable = true;
        statement
    }

    /// The audit entries of one row, newest first.
    pub fn history(&self, id: Uuid) -> Statement {
        let mut statement = Statement::new(String::new());
        let module = statement.bind(self.module.clone());
        let entity_type = statement.bind(self.entity_type.clone());
        let id = statement.bind(id);
        let limit = statement.bind(HISTORY_LIMIT);
        statement.sql = format!(
            "SELECT to_jsonb(a) FROM public.audit_log AS a \
             WHERE a.module = {module} AND a.entity_type = {entity_type} AND a.entity_id = {id} \
             ORDER BY a.\"timestamp\" DESC, a.id DESC LIMIT {limit}"
        );
        statement.reusable = true;
        statement
    }

    /// The body's fields, each a writable column of this resource with a valid value.
    pub(crate) fn writable_fields(&self, body: &Value) -> Result<Map<String, Value>, ApiError> {
        let Value::Object(fields) = body else {
            return Err(ApiError::MalformedBody("expected a JSON object".to_owned()));
        };
        for (name, value) in fields {
            let column = self.column(name).ok_or_else(|| ApiError::UnknownField {
                resource: self.name.clone(),
                field: name.clone(),
            })?;
            if !column.writable {
                return Err(ApiError::ReadOnlyField {
                    field: name.clone(),
                });
            }
            check_json(column, value)?;
        }
        Ok(fields.clone())
    }
}
