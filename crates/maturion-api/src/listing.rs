//! The query string of a listing: filters, order, keyset cursor, limit, soft-deleted rows.
//!
//! PostgREST's conventions: `?status=eq.active`, `?created_at=gte.2026-01-01T00:00:00Z`,
//! `?id=in.(a,b)`, `?deleted_by=is.null`, `?deleted_by=not.is.null`,
//! `?order=created_at.desc`, `?limit=50`, `?cursor=…` (the `next_cursor` of the page before),
//! `?include_deleted=true`; on a searchable table `?search=…` (and `&language=fr`).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::model::{Column, Resource};
use crate::patterns::SearchTerms;
use crate::values::check_text;
use crate::ApiError;

/// Rows per page unless `limit` says otherwise.
pub const DEFAULT_LIMIT: i64 = 100;
/// The most rows a page holds; a larger `limit` is lowered to it.
pub const MAX_LIMIT: i64 = 1000;
/// The most values an `in.(…)` filter takes.
const MAX_IN_VALUES: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    Eq,
    Neq,
    Gt,
    Gte,
    Lt,
    Lte,
}

impl Comparison {
    pub(crate) fn sql(self) -> &'static str {
        match self {
            Comparison::Eq => "=",
            Comparison::Neq => "<>",
            Comparison::Gt => ">",
            Comparison::Gte => ">=",
            Comparison::Lt => "<",
            Comparison::Lte => "<=",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    Compare(Comparison, String),
    In(Vec<String>),
    IsNull,
    IsNotNull,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    pub column: String,
    pub condition: Condition,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    pub column: String,
    pub descending: bool,
}

impl Order {
    fn spelled(&self) -> String {
        format!(
            "{}.{}",
            self.column,
            if self.descending { "desc" } else { "asc" }
        )
    }
}

/// Where the previous page ended: its last row's order value and id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cursor {
    order: String,
    value: Option<String>,
    id: Uuid,
}

impl Cursor {
    pub(crate) fn value(&self) -> Option<&str> {
        self.value.as_deref()
    }

    pub(crate) fn id(&self) -> Uuid {
        self.id
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    pub filters: Vec<Filter>,
    pub order: Order,
    pub after: Option<Cursor>,
    pub limit: i64,
    pub include_deleted: bool,
    /// `search` (and its `language`): the best matches by rank, no further page.
    pub search: Option<SearchTerms>,
}

impl ListQuery {
    /// Reads the query string's pairs; anything not understood is an error naming it.
    /// By default in creation order (`id`).
    pub fn parse(resource: &Resource, pairs: &[(String, String)]) -> Result<Self, ApiError> {
        let creation = Order {
            column: "id".to_owned(),
            descending: false,
        };
        ListQuery::parse_ordered(resource, pairs, creation)
    }

    fn parse_ordered(
        resource: &Resource,
        pairs: &[(String, String)],
        order: Order,
    ) -> Result<Self, ApiError> {
        let mut query = ListQuery {
            filters: Vec::new(),
            order,
            after: None,
            limit: DEFAULT_LIMIT,
            include_deleted: false,
            search: None,
        };
        let mut cursor = None;
        let mut seen = Vec::new();
        let searchable = resource.search.is_some();
        let (mut search, mut language) = (None, None);
        for (key, value) in pairs {
            // A bare `language=fr` (no operator) is the search's language; `language=eq.fr`
            // stays a filter.
            let search_language = searchable && key == "language" && !value.contains('.');
            let reserved = matches!(
                key.as_str(),
                "limit" | "order" | "cursor" | "include_deleted"
            ) || (searchable && key == "search")
                || search_language;
            if reserved && seen.contains(&key) {
                return Err(ApiError::parameter(key, "given more than once"));
            }
            seen.push(key);
            match key.as_str() {
                "limit" => query.limit = parse_limit(value)?,
                "order" => query.order = parse_order(resource, value)?,
                "cursor" => cursor = Some(value.as_str()),
                "include_deleted" => query.include_deleted = parse_flag(key, value)?,
                "search" if searchable => search = Some(value.as_str()),
                "language" if search_language => language = Some(value.as_str()),
                _ => query.filters.push(parse_filter(resource, key, value)?),
            }
        }
        match search {
            Some(text) => {
                query.search = Some(SearchTerms::parse(text, language)?);
                // Matches come best first, in one page.
                for parameter in ["order", "cursor"] {
                    if seen.iter().any(|key| *key == parameter) {
                        return Err(ApiError::parameter(
                            parameter,
                            "a search answers its best matches by rank, in one page (raise limit, up to 1000, or narrow the search)",
                        ));
                    }
                }
            }
            None if language.is_some() => {
                return Err(ApiError::parameter(
                    "language",
                    "a language goes with search=…; to filter rows by it: language=eq.fr",
                ))
            }
            None => {}
        }
        if let Some(cursor) = cursor {
            query.after = Some(decode_cursor(resource, &query.order, cursor)?);
        }
        Ok(query)
    }

    /// The audit log's listing: newest first unless `order` says otherwise, and only the
    /// entries of `modules` (`None`: every module).
    pub fn parse_audit_log(
        resource: &Resource,
        pairs: &[(String, String)],
        modules: Option<Vec<String>>,
    ) -> Result<Self, ApiError> {
        ListQuery::parse_newest_first(resource, pairs, "module", modules)
    }

    /// The event log's listing: newest first unless `order` says otherwise, and only the
    /// events published by `modules` (`None`: every module).
    pub fn parse_event_log(
        resource: &Resource,
        pairs: &[(String, String)],
        modules: Option<Vec<String>>,
    ) -> Result<Self, ApiError> {
        ListQuery::parse_newest_first(resource, pairs, "source_module", modules)
    }

    fn parse_newest_first(
        resource: &Resource,
        pairs: &[(String, String)],
        module_column: &str,
        modules: Option<Vec<String>>,
    ) -> Result<Self, ApiError> {
        let newest_first = Order {
            column: "timestamp".to_owned(),
            descending: true,
        };
        let mut query = ListQuery::parse_ordered(resource, pairs, newest_first)?;
        if let Some(modules) = modules {
            query.filters.push(Filter {
                column: module_column.to_owned(),
                condition: Condition::In(modules),
            });
        }
        Ok(query)
    }

    /// The cursor of the page after the one that ends with `last` (a row as JSON).
    pub fn cursor_after(&self, last: &Value) -> Option<String> {
        if self.search.is_some() {
            return None;
        }
        let id = Uuid::try_parse(last.get("id")?.as_str()?).ok()?;
        let value = match last.get(&self.order.column)? {
            Value::Null => None,
            Value::String(text) => Some(text.clone()),
            other => Some(other.to_string()),
        };
        let cursor = Cursor {
            order: self.order.spelled(),
            value,
            id,
        };
        let json = serde_json::to_vec(&cursor).ok()?;
        Some(URL_SAFE_NO_PAD.encode(json))
    }
}

fn parse_limit(value: &str) -> Result<i64, ApiError> {
    match value.parse::<i64>() {
        Ok(limit) if limit >= 1 => Ok(limit.min(MAX_LIMIT)),
        _ => Err(ApiError::parameter(
            "limit",
            format!("expected a whole number from 1 to {MAX_LIMIT}"),
        )),
    }
}

fn parse_flag(key: &str, value: &str) -> Result<bool, ApiError> {
    match value {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(ApiError::parameter(key, "expected true or false")),
    }
}

fn parse_order(resource: &Resource, value: &str) -> Result<Order, ApiError> {
    let (name, direction) = value.rsplit_once('.').unwrap_or((value, "asc"));
    let descending = match direction {
        "asc" => false,
        "desc" => true,
        _ => {
            return Err(ApiError::parameter(
                "order",
                "expected <column>.asc or <column>.desc",
            ))
        }
    };
    let column = known_column(resource, name)?;
    if !column.orderable {
        return Err(ApiError::parameter(
            "order",
            format!("{name} cannot order a listing: only NOT NULL indexed columns can"),
        ));
    }
    Ok(Order {
        column: column.name.clone(),
        descending,
    })
}

fn known_column<'r>(resource: &'r Resource, name: &str) -> Result<&'r Column, ApiError> {
    resource.column(name).ok_or_else(|| ApiError::UnknownField {
        resource: resource.name.clone(),
        field: name.to_owned(),
    })
}

fn parse_filter(resource: &Resource, key: &str, value: &str) -> Result<Filter, ApiError> {
    let column = known_column(resource, key)?;
    let (operator, operand) = value.split_once('.').ok_or_else(|| {
        ApiError::parameter(key, "expected <operator>.<value>, e.g. eq.something")
    })?;
    let compare = |comparison| {
        check_text(column, key, operand)?;
        Ok(Condition::Compare(comparison, operand.to_owned()))
    };
    let condition = match operator {
        "eq" => compare(Comparison::Eq)?,
        "neq" => compare(Comparison::Neq)?,
        "gt" => compare(Comparison::Gt)?,
        "gte" => compare(Comparison::Gte)?,
        "lt" => compare(Comparison::Lt)?,
        "lte" => compare(Comparison::Lte)?,
        "in" => Condition::In(parse_in(column, key, operand)?),
        "is" if operand == "null" => Condition::IsNull,
        "not" if operand == "is.null" => Condition::IsNotNull,
        _ => {
            return Err(ApiError::parameter(
                key,
                "expected eq, neq, gt, gte, lt, lte, in.(…), is.null or not.is.null",
            ))
        }
    };
    Ok(Filter {
        column: column.name.clone(),
        condition,
    })
}

fn parse_in(column: &Column, key: &str, operand: &str) -> Result<Vec<String>, ApiError> {
    let list = operand
        .strip_prefix('(')
        .and_then(|list| list.strip_suffix(')'))
        .ok_or_else(|| ApiError::parameter(key, "expected in.(value,value,…)"))?;
    let values: Vec<String> = list.split(',').map(str::to_owned).collect();
    if values.len() > MAX_IN_VALUES {
        return Err(ApiError::parameter(
            key,
            format!("in.(…) takes at most {MAX_IN_VALUES} values"),
        ));
    }
    for value in &values {
        check_text(column, key, value)?;
    }
    Ok(values)
}

fn decode_cursor(resource: &Resource, order: &Order, text: &str) -> Result<Cursor, ApiError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| ApiError::BadCursor)?;
    let cursor: Cursor = serde_json::from_slice(&bytes).map_err(|_| ApiError::BadCursor)?;
    if cursor.order != order.spelled() {
        return Err(ApiError::BadCursor);
    }
    let column = resource.column(&order.column).ok_or(ApiError::BadCursor)?;
    match &cursor.value {
        Some(value) => check_text(column, "cursor", value).map_err(|_| ApiError::BadCursor)?,
        None => return Err(ApiError::BadCursor),
    }
    Ok(cursor)
}
