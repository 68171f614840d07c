//! The resource model: what each served table offers, and the route table built from it.

use serde::Serialize;

use crate::patterns::{Search, Versioning, Workflow};

/// Columns the server sets: ids, the tenant key, the audit fields (§5.1) and the bookkeeping
/// of versions and statuses (§5.2, §5.3). A client never writes them.
const SERVER_MANAGED: [&str; 13] = [
    "id",
    "organisation_id",
    "created_at",
    "created_by",
    "updated_at",
    "updated_by",
    "deleted_at",
    "deleted_by",
    "version_number",
    "is_current_version",
    "parent_version_id",
    "status_changed_at",
    "status_changed_by",
];

/// The module of platform tables (those without the audit trail's module argument).
pub const PLATFORM_MODULE: &str = "platform";

/// Permission levels of `user_permissions.permission`, each including the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Read,
    Write,
    Admin,
}

impl Level {
    pub fn parse(permission: &str) -> Option<Level> {
        match permission {
            "read" => Some(Level::Read),
            "write" => Some(Level::Write),
            "admin" => Some(Level::Admin),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Level::Read => "read",
            Level::Write => "write",
            Level::Admin => "admin",
        }
    }
}

/// How a column's values are checked and compared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ValueKind {
    Uuid,
    Text,
    Boolean,
    /// With its inclusive bounds.
    Integer {
        min: i64,
        max: i64,
    },
    /// numeric, real, double precision.
    Number,
    Timestamp,
    Date,
    /// json and jsonb: any JSON value; not filterable.
    Json,
    /// Arrays: a JSON array; not filterable.
    Array,
    /// Any other type (inet, interval…): a string PostgreSQL parses.
    Other,
}

impl ValueKind {
    /// From `pg_type.typname` and `typcategory` of the column's (base) type.
    pub(crate) fn of(base_type: &str, category: &str) -> ValueKind {
        match (base_type, category) {
            (_, "A") => ValueKind::Array,
            ("uuid", _) => ValueKind::Uuid,
            ("bool", _) => ValueKind::Boolean,
            ("int2", _) => ValueKind::Integer {
                min: i16::MIN.into(),
                max: i16::MAX.into(),
            },
            ("int4", _) => ValueKind::Integer {
                min: i32::MIN.into(),
                max: i32::MAX.into(),
            },
            ("int8", _) => ValueKind::Integer {
                min: i64::MIN,
                max: i64::MAX,
            },
            ("numeric" | "float4" | "float8", _) => ValueKind::Number,
            ("timestamptz" | "timestamp", _) => ValueKind::Timestamp,
            ("date", _) => ValueKind::Date,
            ("json" | "jsonb", _) => ValueKind::Json,
            (_, "S") => ValueKind::Text,
            _ => ValueKind::Other,
        }
    }

    /// Whether filters and orders may compare it.
    pub fn is_comparable(&self) -> bool {
        !matches!(self, ValueKind::Json | ValueKind::Array)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Column {
    pub name: String,
    /// As `format_type` prints it, e.g. `timestamp with time zone`: what values are cast to.
    pub sql_type: String,
    pub kind: ValueKind,
    /// The allowed values: the labels of an enum type, or a `CHECK (column IN (…))` list.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed: Option<Vec<String>>,
    pub nullable: bool,
    pub has_default: bool,
    /// Clients may set it (not managed by the server, not generated).
    pub writable: bool,
    /// The column's COMMENT.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// A NOT NULL column of a plain btree index (first key, or first after the tenant key):
    /// listings may be ordered by it.
    pub orderable: bool,
}

impl Column {
    /// A new row must name it: NOT NULL, no default, and not set by the server.
    pub fn is_required(&self) -> bool {
        self.writable && !self.nullable && !self.has_default
    }

    pub(crate) fn is_server_managed(name: &str) -> bool {
        SERVER_MANAGED.contains(&name)
    }
}

/// A served table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Resource {
    /// The table's name, which is also its path segment: `/v1/<name>`.
    pub name: String,
    /// The module it belongs to: the audit trail's module, else `platform`.
    pub module: String,
    /// The `entity_type` of its audit entries (the table's name unless the trail says so).
    pub entity_type: String,
    pub description: String,
    /// `id` for the tenant root, else `organisation_id`.
    pub tenant_column: String,
    pub columns: Vec<Column>,
    /// Rows are soft-deleted (a `deleted_at` column).
    pub soft_delete: bool,
    /// Its changes are in the audit trail (`/history`).
    pub audited: bool,
    /// The application role may insert rows (and it is not the tenant root).
    pub insertable: bool,
    /// The application role may update rows.
    pub updatable: bool,
    /// Every version a row (§5.2): changes of content make the next version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub versioning: Option<Versioning>,
    /// A status moved along a graph (§5.3) by `POST …/{id}/transitions`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workflow: Option<Workflow>,
    /// Multilingual full-text and fuzzy title search (`?search=…`, §6.4).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub search: Option<Search>,
}

impl Resource {
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|column| column.name == name)
    }

    /// The level needed to change its rows: `admin` for the platform's own tables (users,
    /// permissions, the organisation), which decide who may do what; `write` elsewhere.
    pub fn write_level(&self) -> Level {
        if self.module == PLATFORM_MODULE {
            Level::Admin
        } else {
            Level::Write
        }
    }

    /// Its routes, in a fixed order.
    pub fn routes(&self) -> Vec<Route> {
        let collection = format!("/v1/{}", self.name);
        let item = format!("{collection}/{{id}}");
        let mut routes = vec![
            Route::new(self, Method::Get, &collection, Operation::List, Level::Read),
            Route::new(self, Method::Get, &item, Operation::Get, Level::Read),
        ];
        if self.insertable {
            let level = self.write_level();
            routes.push(Route::new(
                self,
                Method::Post,
                &collection,
                Operation::Create,
                level,
            ));
        }
        if self.updatable {
            let level = self.write_level();
            routes.push(Route::new(
                self,
                Method::Patch,
                &item,
                Operation::Update,
                level,
            ));
        }
        // The tenant root is closed by operators, not through the API.
        if self.updatable && self.soft_delete && self.tenant_column != "id" {
            let level = self.write_level();
            routes.push(Route::new(
                self,
                Method::Delete,
                &item,
                Operation::Delete,
                level,
            ));
            let restore = format!("{item}/restore");
            routes.push(Route::new(
                self,
                Method::Post,
                &restore,
                Operation::Restore,
                Level::Admin,
            ));
        }
        if self.audited {
            let history = format!("{item}/history");
            routes.push(Route::new(
                self,
                Method::Get,
                &history,
                Operation::History,
                Level::Read,
            ));
        }
        if self.versioning.is_some() {
            let versions = format!("{item}/versions");
            routes.push(Route::new(
                self,
                Method::Get,
                &versions,
                Operation::Versions,
                Level::Read,
            ));
        }
        if self.workflow.is_some() && self.updatable {
            let transitions = format!("{item}/transitions");
            let level = self.write_level();
            routes.push(Route::new(
                self,
                Method::Post,
                &transitions,
                Operation::Transition,
                level,
            ));
        }
        routes
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Method {
    Get,
    Post,
    Patch,
    Delete,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    List,
    /// `GET /v1/audit-log`: the entries of the modules the caller may read, newest first.
    AuditLog,
    Get,
    Create,
    Update,
    Delete,
    Restore,
    History,
    /// `GET /v1/T/{id}/versions`: every version of a versioned row's entity, oldest first.
    Versions,
    /// `POST /v1/T/{id}/transitions {"to": …}`: a workflow's status move.
    Transition,
    /// `GET /v1/events/stream`: the organisation's events as they commit (Server-Sent Events).
    Stream,
}

/// One route of the API: what the server registers, the OpenAPI document lists and the
/// cross-tenant and permission tests walk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Route {
    pub method: Method,
    /// With `{id}` where an id goes, as axum and OpenAPI write it.
    pub path: String,
    pub resource: String,
    pub module: String,
    pub operation: Operation,
    /// The permission on `module` it needs (`include_deleted=true` needs `admin`).
    pub requires: Level,
}

/// The path segment of the organisation's API tokens (`/v1/tokens`): platform routes that no
/// table generates, for the organisation's administrator.
pub const TOKENS: &str = "tokens";

/// `GET /v1/audit-log`: the audit trail (`audit_log`), for anyone who may read the platform;
/// each sees the entries of the modules they may read.
pub fn audit_log_route() -> Route {
    Route {
        method: Method::Get,
        path: "/v1/audit-log".to_owned(),
        resource: crate::catalog::AUDIT_LOG.to_owned(),
        module: PLATFORM_MODULE.to_owned(),
        operation: Operation::AuditLog,
        requires: Level::Read,
    }
}

/// `GET /v1/tokens`, `POST /v1/tokens`, `DELETE /v1/tokens/{id}`.
pub fn token_routes() -> Vec<Route> {
    let route = |method, path: &str, operation| Route {
        method,
        path: path.to_owned(),
        resource: TOKENS.to_owned(),
        module: PLATFORM_MODULE.to_owned(),
        operation,
        requires: Level::Admin,
    };
    vec![
        route(Method::Get, "/v1/tokens", Operation::List),
        route(Method::Post, "/v1/tokens", Operation::Create),
        route(Method::Delete, "/v1/tokens/{id}", Operation::Delete),
    ]
}

impl Route {
    fn new(
        resource: &Resource,
        method: Method,
        path: &str,
        operation: Operation,
        requires: Level,
    ) -> Self {
        Route {
            method,
            path: path.to_owned(),
            resource: resource.name.clone(),
            module: resource.module.clone(),
            operation,
            requires,
        }
    }

    /// Whether the path holds an `{id}`.
    pub fn takes_id(&self) -> bool {
        self.path.contains("{id}")
    }
}
