//! Reads the resource model from the live catalog, in one query.

use serde::Deserialize;
use tokio_postgres::Client;

use crate::model::{Column, Resource, ValueKind, PLATFORM_MODULE};
use crate::patterns::{Search, Versioning, Workflow};
use crate::CatalogError;

const RESOURCES: &str = include_str!("../sql/resources.sql");
/// The columns a change of a version keeps in place. Asked only once a versioned table is
/// seen: a database behind this build (served, not ready) may not have the function yet.
const BOOKKEEPING_COLUMNS: &str = "SELECT maturion.bookkeeping_columns()";

/// A table the catalog shows but the API does not serve, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub table: String,
    pub reason: String,
}

/// The audit trail's table, served read-only at `/v1/audit-log`.
pub const AUDIT_LOG: &str = "audit_log";

/// The served resources and the tables left out.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    pub resources: Vec<Resource>,
    /// `audit_log`, read-only: its key is (timestamp, id), written only by the platform.
    pub audit_log: Option<Resource>,
    /// `event_log`, read-only at `/v1/events` (without its internal `transaction_id`).
    pub event_log: Option<Resource>,
    pub skipped: Vec<Skipped>,
}

#[derive(Debug, Deserialize)]
struct CatalogColumn {
    name: String,
    #[serde(rename = "type")]
    sql_type: String,
    base_type: String,
    category: String,
    enum_values: Vec<String>,
    not_null: bool,
    has_default: bool,
    generated: bool,
    comment: Option<String>,
    checks: Vec<String>,
}

/// Every tenant table that `client`'s role can read (run it as the application role: what it
/// may insert and update decides the operations offered).
pub async fn load(client: &Client) -> Result<Catalog, CatalogError> {
    let mut catalog = Catalog::default();
    let mut bookkeeping: Option<Vec<String>> = None;
    for row in client.query(RESOURCES, &[]).await? {
        let name: String = row.get("name");
        let columns = decode(&name, row.get("columns"))?;
        let btree_indexes = decode(&name, row.get("btree_indexes"))?;
        let unique_keys = decode(&name, row.get("unique_keys"))?;
        let search: Option<SearchColumn> = match row.get("search") {
            Some(value) => Some(decode(&name, value)?),
            None => None,
        };
        let versioned: bool = row.get("versioned");
        if versioned && bookkeeping.is_none() {
            bookkeeping = Some(client.query_one(BOOKKEEPING_COLUMNS, &[]).await?.get(0));
        }
        let table = Table {
            name,
            comment: row.get("comment"),
            is_tenant_root: row.get("is_tenant_root"),
            can_select: row.get("can_select"),
            can_insert: row.get("can_insert"),
            can_update: row.get("can_update"),
            audit_arguments: row.get("audit_arguments"),
            columns,
            btree_indexes,
            unique_keys,
            versioned,
            bookkeeping_columns: bookkeeping.clone().unwrap_or_default(),
            workflow_arguments: row.get("workflow_arguments"),
            search,
            trigram_columns: row.get("trigram_columns"),
        };
        if table.name == AUDIT_LOG {
            catalog.audit_log = table.into_platform_log().ok();
            continue;
        }
        if table.name == crate::EVENT_LOG {
            catalog.event_log = table.into_platform_log().ok().map(|mut log| {
                // A global counter: how many transactions others ran between two events.
                log.columns.retain(|column| column.name != "transaction_id");
                log
            });
            continue;
        }
        match table.into_resource() {
            Ok(resource) => catalog.resources.push(resource),
            Err(skipped) => catalog.skipped.push(skipped),
        }
    }
    Ok(catalog)
}

/// A JSON column of the catalog query; a shape not understood is an error, never an empty
/// list (an unread unique key would pass for a safe one).
fn decode<T: for<'de> Deserialize<'de>>(
    table: &str,
    value: serde_json::Value,
) -> Result<T, CatalogError> {
    serde_json::from_value(value).map_err(|source| CatalogError::Decode {
        table: table.to_owned(),
        source,
    })
}

struct Table {
    name: String,
    comment: String,
    is_tenant_root: bool,
    can_select: bool,
    can_insert: bool,
    can_update: bool,
    audit_arguments: Option<Vec<String>>,
    columns: Vec<CatalogColumn>,
    btree_indexes: Vec<Vec<String>>,
    unique_keys: Vec<Vec<Option<String>>>,
    versioned: bool,
    bookkeeping_columns: Vec<String>,
    workflow_arguments: Option<Vec<String>>,
    search: Option<SearchColumn>,
    trigram_columns: Vec<String>,
}

/// A generated `maturion.search_vector(language, title, content)` column: its name and the
/// three columns it is made of.
#[derive(Debug, Deserialize)]
struct SearchColumn {
    document: String,
    arguments: Vec<String>,
}

impl Table {
    /// The audit trail or the event log, whose rows only the platform writes: every conflict
    /// check is beside the point, and nothing is offered but reading.
    fn into_platform_log(mut self) -> Result<Resource, Skipped> {
        self.unique_keys.clear();
        self.can_insert = false;
        self.can_update = false;
        self.audit_arguments = None;
        self.into_resource()
    }

    fn into_resource(self) -> Result<Resource, Skipped> {
        let tenant_column = if self.is_tenant_root {
            "id"
        } else {
            "organisation_id"
        };
        self.refuse_unless(self.can_select, "the application role cannot read it")?;
        self.refuse_unless(self.has_uuid("id"), "it has no uuid column id")?;
        self.refuse_unless(
            self.has_uuid(tenant_column),
            "it has no uuid tenant key organisation_id",
        )?;
        self.refuse_unless(
            self.unique_keys.iter().all(|key| self.is_tenant_safe(key, tenant_column)),
            "a unique key leaves out organisation_id: a conflict could reveal another organisation's row",
        )?;
        let orderable = self.orderable_columns(tenant_column);
        let workflow = self
            .workflow_arguments
            .as_deref()
            .and_then(Workflow::from_arguments);
        let mut columns: Vec<Column> = self
            .columns
            .iter()
            .map(|column| to_column(column, orderable.contains(&column.name.as_str())))
            .collect();
        // The status of a workflow moves by transitions only.
        if workflow.is_some() {
            for column in columns.iter_mut().filter(|c| c.name == "status") {
                column.writable = false;
            }
        }
        let versioning = self.versioned.then(|| Versioning {
            in_place: columns
                .iter()
                .filter(|c| c.writable && self.bookkeeping_columns.contains(&c.name))
                .map(|c| c.name.clone())
                .collect(),
        });
        let search = self.search();
        let arguments = self.audit_arguments.clone().unwrap_or_default();
        let module = arguments
            .first()
            .filter(|module| !module.is_empty())
            .cloned()
            .unwrap_or_else(|| PLATFORM_MODULE.to_owned());
        let entity_type = arguments
            .get(2)
            .filter(|entity| !entity.is_empty())
            .cloned()
            .unwrap_or_else(|| self.name.clone());
        Ok(Resource {
            soft_delete: columns.iter().any(|c| c.name == "deleted_at"),
            audited: self.audit_arguments.is_some(),
            insertable: self.can_insert && !self.is_tenant_root,
            updatable: self.can_update,
            name: self.name,
            module,
            entity_type,
            description: self.comment,
            tenant_column: tenant_column.to_owned(),
            columns,
            versioning,
            workflow,
            search,
        })
    }

    /// Searchable when the document's three columns are text columns of the table.
    fn search(&self) -> Option<Search> {
        let column = self.search.as_ref()?;
        let [language, title, content] = column.arguments.as_slice() else {
            return None;
        };
        let is_text = |name: &str| {
            self.columns
                .iter()
                .any(|c| c.name == name && c.base_type == "text")
        };
        if ![language, title, content].iter().all(|name| is_text(name)) {
            return None;
        }
        Some(Search {
            document: column.document.clone(),
            language: language.clone(),
            title: title.clone(),
            content: content.clone(),
            fuzzy_title: self.trigram_columns.contains(title),
        })
    }

    fn refuse_unless(&self, condition: bool, reason: &str) -> Result<(), Skipped> {
        if condition {
            Ok(())
        } else {
            Err(Skipped {
                table: self.name.clone(),
                reason: reason.to_owned(),
            })
        }
    }

    fn has_uuid(&self, name: &str) -> bool {
        self.columns
            .iter()
            .any(|c| c.name == name && c.base_type == "uuid" && c.not_null)
    }

    /// A unique key is safe when it holds the tenant key, or is the server-made `id` alone.
    fn is_tenant_safe(&self, key: &[Option<String>], tenant_column: &str) -> bool {
        key.iter().any(|c| c.as_deref() == Some(tenant_column)) || key == [Some("id".to_owned())]
    }

    /// NOT NULL columns that lead a plain btree index, or follow the tenant key in one.
    fn orderable_columns(&self, tenant_column: &str) -> Vec<&str> {
        let not_null = |name: &str| self.columns.iter().any(|c| c.name == name && c.not_null);
        let mut orderable = vec!["id"];
        for index in &self.btree_indexes {
            let lead = match index.as_slice() {
                [first, second, ..] if first == tenant_column => second,
                [first, ..] => first,
                [] => continue,
            };
            if not_null(lead) && !orderable.contains(&lead.as_str()) {
                orderable.push(lead);
            }
        }
        orderable
    }
}

fn to_column(column: &CatalogColumn, orderable: bool) -> Column {
    let kind = ValueKind::of(&column.base_type, &column.category);
    let allowed = if column.enum_values.is_empty() {
        column.checks.iter().find_map(|check| in_list(check))
    } else {
        Some(column.enum_values.clone())
    };
    Column {
        writable: !column.generated && !Column::is_server_managed(&column.name),
        orderable: orderable && kind.is_comparable(),
        name: column.name.clone(),
        sql_type: column.sql_type.clone(),
        kind,
        allowed,
        nullable: !column.not_null,
        has_default: column.has_default,
        description: column.comment.clone(),
    }
}

/// The values of a `CHECK (column IN ('a', 'b'))` as PostgreSQL prints it back:
/// `CHECK ((status = ANY (ARRAY['a'::text, 'b'::text])))`, or a single `(status = 'a'::text)`.
/// `None` for any other check.
pub(crate) fn in_list(definition: &str) -> Option<Vec<String>> {
    let body = definition.strip_prefix("CHECK ((")?.strip_suffix("))")?;
    let (column, values) = body.split_once(" = ")?;
    let plain_column = |c: char| c.is_alphanumeric() || c == '_' || c == '"';
    if !column.chars().all(plain_column) {
        return None;
    }
    let values = values
        .strip_prefix("ANY (ARRAY[")
        .and_then(|v| v.strip_suffix("])"))
        .or_else(|| values.strip_prefix('(').and_then(|v| v.strip_suffix(')')))
        .unwrap_or(values);
    let mut literals = Vec::new();
    let mut rest = values.trim();
    while !rest.is_empty() {
        rest = rest.strip_prefix("(").unwrap_or(rest);
        let (literal, after) = quoted_literal(rest)?;
        literals.push(literal);
        // A cast such as ::text or ::character varying, then a comma or the end.
        let after = after.strip_prefix("::")?;
        let end = after.find(", ").unwrap_or(after.len());
        if after[..end].contains('\'') {
            return None;
        }
        rest = after[end..].trim_start_matches(", ").trim();
    }
    (!literals.is_empty()).then_some(literals)
}

/// `'it''s'…` → (`it's`, `…`).
fn quoted_literal(text: &str) -> Option<(String, &str)> {
    let mut chars = text.strip_prefix('\'')?.char_indices().peekable();
    let mut literal = String::new();
    while let Some((position, c)) = chars.next() {
        if c == '\'' {
            if chars.peek().map(|(_, next)| *next) == Some('\'') {
                chars.next();
                literal.push('\'');
            } else {
                return Some((literal, &text[position + 2..]));
            }
        } else {
            literal.push(c);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::in_list;

    #[test]
    fn in_lists_are_read_from_check_definitions() {
        let values = |list: &[&str]| Some(list.iter().map(|v| v.to_string()).collect::<Vec<_>>());
        assert_eq!(
            in_list("CHECK ((status = ANY (ARRAY['draft'::text, 'pending_review'::text, 'it''s'::text])))"),
            values(&["draft", "pending_review", "it's"])
        );
        assert_eq!(
            in_list("CHECK (((kind)::text = ANY ((ARRAY['a'::character varying, 'b'::character varying])::text[])))"),
            None,
            "a form not understood is no list, never a wrong one"
        );
        assert_eq!(
            in_list("CHECK ((status = 'only'::text))"),
            values(&["only"])
        );
        assert_eq!(in_list("CHECK ((btrim(name) <> ''::text))"), None);
        assert_eq!(in_list("CHECK ((email ~ '^[^@]+@'::text))"), None);
        assert_eq!(in_list("CHECK ((entries > 0))"), None);
        assert_eq!(in_list("CHECK ((lower(status) = 'x'::text))"), None);
    }
}
