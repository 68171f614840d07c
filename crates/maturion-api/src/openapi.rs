//! The OpenAPI 3.1 document of the served resources, built from the same model as the routes:
//! column comments become descriptions; types, NOT NULL and allowed values become JSON Schema.

use serde_json::{json, Map, Value};

use crate::model::{
    audit_log_route, token_routes, Column, Method, Operation, Resource, Route, ValueKind, TOKENS,
};
use crate::{event_routes, Catalog, MAX_LIMIT, MAX_SEARCH_CHARS, VERSIONS_LIMIT};

impl Catalog {
    /// Every route of [`Catalog::routes`] under `paths`, one schema per resource (as read, as
    /// created, as changed) under `components`.
    pub fn openapi(&self, version: &str) -> Value {
        let mut paths = Map::new();
        let mut schemas = Map::new();
        schemas.insert("Problem".to_owned(), problem_schema());
        for resource in &self.resources {
            schemas.insert(resource.name.clone(), row_schema(resource));
            schemas.insert(
                format!("{}_new", resource.name),
                input_schema(resource, true),
            );
            schemas.insert(
                format!("{}_change", resource.name),
                input_schema(resource, false),
            );
            if resource.workflow.is_some() {
                schemas.insert(
                    format!("{}_transition", resource.name),
                    transition_schema(resource),
                );
            }
            for route in resource.routes() {
                let path = paths.entry(route.path.clone()).or_insert_with(|| json!({}));
                path[route.method.as_str().to_lowercase()] = operation(resource, &route);
            }
        }
        if let Some(audit_log) = &self.audit_log {
            schemas.insert(audit_log.name.clone(), row_schema(audit_log));
            let route = audit_log_route();
            paths.insert(
                route.path.clone(),
                json!({ "get": operation(audit_log, &route) }),
            );
        }
        if let Some(event_log) = &self.event_log {
            schemas.insert(event_log.name.clone(), row_schema(event_log));
            schemas.insert(format!("{}_new", event_log.name), publish_schema());
            for route in event_routes() {
                let path = paths.entry(route.path.clone()).or_insert_with(|| json!({}));
                path[route.method.as_str().to_lowercase()] = operation(event_log, &route);
            }
        }
        schemas.extend(token_schemas());
        for route in token_routes() {
            let path = paths.entry(route.path.clone()).or_insert_with(|| json!({}));
            path[route.method.as_str().to_lowercase()] = token_operation(&route);
        }
        json!({
            "openapi": "3.1.0",
            "info": {
                "title": "Maturion API",
                "version": version,
                "description": "Generated from the live catalog: one resource per conforming tenant table.",
            },
            "security": [{ "bearer": [] }],
            "paths": paths,
            "components": {
                "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } },
                "schemas": schemas,
            },
        })
    }
}

fn column_schema(column: &Column) -> Value {
    let mut schema = match &column.kind {
        ValueKind::Uuid => json!({ "type": "string", "format": "uuid" }),
        ValueKind::Text | ValueKind::Other => json!({ "type": "string" }),
        ValueKind::Boolean => json!({ "type": "boolean" }),
        ValueKind::Integer { min, max } => {
            json!({ "type": "integer", "minimum": min, "maximum": max })
        }
        ValueKind::Number => json!({ "type": "number" }),
        ValueKind::Timestamp => json!({ "type": "string", "format": "date-time" }),
        ValueKind::Date => json!({ "type": "string", "format": "date" }),
        ValueKind::Array => json!({ "type": "array" }),
        // Any JSON value; `null` only where the column may be NULL (below).
        ValueKind::Json => json!({ "type": ["array", "boolean", "number", "object", "string"] }),
    };
    if let Some(allowed) = &column.allowed {
        let mut values: Vec<Value> = allowed.iter().map(|v| json!(v)).collect();
        if column.nullable {
            values.push(Value::Null);
        }
        schema["enum"] = json!(values);
    }
    if column.nullable {
        match schema.get_mut("type") {
            Some(Value::Array(kinds)) => kinds.push(json!("null")),
            Some(kind) => *kind = json!([kind.clone(), "null"]),
            None => {}
        }
    }
    if let Some(description) = &column.description {
        schema["description"] = json!(description);
    }
    schema
}

fn row_schema(resource: &Resource) -> Value {
    let properties: Map<String, Value> = resource
        .columns
        .iter()
        .map(|c| (c.name.clone(), column_schema(c)))
        .collect();
    let required: Vec<&str> = resource.columns.iter().map(|c| c.name.as_str()).collect();
    json!({
        "type": "object",
        "description": resource.description,
        "properties": properties,
        "required": required,
    })
}

fn input_schema(resource: &Resource, creating: bool) -> Value {
    let writable = resource.columns.iter().filter(|c| c.writable);
    let properties: Map<String, Value> = writable
        .clone()
        .map(|c| (c.name.clone(), column_schema(c)))
        .collect();
    let required: Vec<&str> = writable
        .filter(|c| creating && c.is_required())
        .map(|c| c.name.as_str())
        .collect();
    json!({
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": false,
    })
}

fn problem_schema() -> Value {
    json!({
        "type": "object",
        "description": "RFC 9457 problem document; `field` names the field, filter or parameter at fault.",
        "properties": {
            "type": { "type": "string" },
            "title": { "type": "string" },
            "status": { "type": "integer" },
            "detail": { "type": "string" },
            "field": { "type": "string" },
        },
        "required": ["type", "title", "status", "detail"],
    })
}

fn reference(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

fn operation(resource: &Resource, route: &Route) -> Value {
    let name = &resource.name;
    let mut parameters = Vec::new();
    if route.takes_id() {
        parameters.push(json!({
            "name": "id", "in": "path", "required": true,
            "schema": { "type": "string", "format": "uuid" },
        }));
    }
    let row = || json!({ "content": { "application/json": { "schema": reference(name) } } });
    let (summary, success, body) = match route.operation {
        Operation::List | Operation::AuditLog => {
            parameters.extend(list_parameters(resource));
            add_search_parameters(resource, &mut parameters);
            let page = json!({
                "type": "object",
                "properties": {
                    "items": { "type": "array", "items": listed_row(resource) },
                    "next_cursor": { "type": ["string", "null"] },
                },
                "required": ["items", "next_cursor"],
            });
            let page = json!({ "content": { "application/json": { "schema": page } } });
            (format!("A page of {name}"), ("200", page), None)
        }
        Operation::Get => {
            parameters.push(include_deleted());
            (format!("One of {name}"), ("200", row()), None)
        }
        Operation::Create => {
            let mut created = row();
            created["links"] = links_from_created_row(resource, route);
            (
                format!("A new row of {name}"),
                ("201", created),
                Some(format!("{name}_new")),
            )
        }
        Operation::Update => {
            parameters.push(if_match());
            let summary = if resource.versioning.is_some() {
                "Changes the fields sent: new content makes the next version (its id in \
                 Content-Location); only the current version changes"
            } else {
                "Changes the fields sent"
            };
            (
                summary.to_owned(),
                ("200", row()),
                Some(format!("{name}_change")),
            )
        }
        Operation::Versions => {
            parameters.push(include_deleted());
            let versions = json!({
                "type": "object",
                "properties": { "items": { "type": "array", "items": reference(name), "maxItems": VERSIONS_LIMIT } },
                "required": ["items"],
            });
            let versions = json!({ "content": { "application/json": { "schema": versions } } });
            (
                "Every version of the row's entity, oldest first".to_owned(),
                ("200", versions),
                None,
            )
        }
        Operation::Transition => {
            parameters.push(if_match());
            (
                "Moves the status along the workflow's graph".to_owned(),
                ("200", row()),
                Some(format!("{name}_transition")),
            )
        }
        Operation::Delete => (
            "Soft delete".to_owned(),
            ("204", json!({ "description": "deleted" })),
            None,
        ),
        Operation::Restore => ("Undoes a soft delete".to_owned(), ("200", row()), None),
        Operation::Stream => {
            parameters.extend(stream_parameters());
            let stream = json!({ "content": { "text/event-stream": { "schema": {
                "type": "string",
                "description": format!("Server-Sent Events in commit order: `id` is the event's key to resume after (Last-Event-ID), `data` one {name} row as JSON; `event: undecodable` for a row that cannot be read, `event: error` before the stream ends on a refusal."),
            } } } });
            (
                "The organisation's events as they commit (Server-Sent Events)".to_owned(),
                ("200", stream),
                None,
            )
        }
        Operation::History => {
            let entries = json!({
                "type": "object",
                "properties": { "items": { "type": "array", "items": { "type": "object" } } },
                "required": ["items"],
            });
            let entries = json!({ "content": { "application/json": { "schema": entries } } });
            (
                "The row's audit entries, newest first".to_owned(),
                ("200", entries),
                None,
            )
        }
    };
    let mut responses = Map::new();
    let (code, mut content) = success;
    content["description"] = json!("success");
    responses.insert(code.to_owned(), content);
    for (code, why) in problems(route) {
        let problem = json!({ "description": why, "content": { "application/problem+json": { "schema": reference("Problem") } } });
        responses.insert(code.to_owned(), problem);
    }
    let mut operation = json!({
        "operationId": operation_id(route),
        "summary": summary,
        "description": format!("Module {}; needs the {} permission.", route.module, route.requires.name()),
        "tags": [name],
        "parameters": parameters,
        "responses": responses,
    });
    if let Some(schema) = body {
        operation["requestBody"] = json!({
            "required": true,
            "content": { "application/json": { "schema": reference(&schema) } },
        });
    }
    operation
}

fn operation_id(route: &Route) -> String {
    let path = route
        .path
        .trim_start_matches('/')
        .replace(['/', '{', '}'], "_");
    format!("{}_{path}", route.method.as_str().to_lowercase())
}

/// The optimistic-concurrency header of changes.
fn if_match() -> Value {
    json!({
        "name": "If-Match", "in": "header", "required": false,
        "description": "The ETag of the version this change is based on; a stale one answers 412.",
        "schema": { "type": "string", "pattern": "^\".*\"$" },
    })
}

/// OpenAPI links from a created row to every route of its id, so that clients (and stateful
/// testers) know the `id` of the answer is the `{id}` of those routes. Only routes under the
/// creating path: the event log is created through `/v1/events`, which serves no id routes.
fn links_from_created_row(resource: &Resource, create: &Route) -> Value {
    let id_routes = format!("{}/{{id}}", create.path);
    let links: Map<String, Value> = resource
        .routes()
        .iter()
        .filter(|route| route.takes_id() && route.path.starts_with(&id_routes))
        .map(|route| {
            let id = operation_id(route);
            let link = json!({ "operationId": id, "parameters": { "id": "$response.body#/id" } });
            (id, link)
        })
        .collect();
    Value::Object(links)
}

fn problems(route: &Route) -> Vec<(&'static str, &'static str)> {
    let mut problems = vec![
        (
            "400",
            "a query parameter, the path or the body is malformed",
        ),
        ("401", "no valid API token"),
        ("403", "the permission is missing"),
    ];
    if route.takes_id() {
        problems.push(("404", "no row with this id in the organisation"));
    }
    let listing = matches!(route.operation, Operation::List | Operation::AuditLog);
    if matches!(route.method, Method::Post | Method::Patch) || listing {
        problems.push(("422", "a field or filter does not fit the resource"));
    }
    if matches!(route.operation, Operation::Update | Operation::Transition) {
        problems.push(("412", "the row changed since the version named by If-Match"));
    }
    if route.operation == Operation::Stream {
        problems.push((
            "410",
            "no event of the organisation has the key given to start after",
        ));
    }
    if matches!(
        route.operation,
        Operation::Create | Operation::Update | Operation::Restore
    ) {
        problems.push((
            "409",
            "a row with the same unique key exists, or the row's state (workflow, version, retention) refuses the change",
        ));
        problems.push(("413", "the body is too large"));
    }
    if route.operation == Operation::Transition {
        problems.push((
            "409",
            "the workflow does not allow this move; the detail names the statuses it allows",
        ));
        problems.push(("413", "the body is too large"));
    }
    if route.operation == Operation::Delete && route.resource != TOKENS {
        problems.push((
            "409",
            "the row is legally protected or retained, or the state refuses the deletion",
        ));
    }
    problems.push((
        "503",
        "the database is unreachable or took too long; try again",
    ));
    problems
}

fn include_deleted() -> Value {
    json!({
        "name": "include_deleted", "in": "query", "required": false,
        "description": "Soft-deleted rows too; needs the admin permission.",
        "schema": { "type": "boolean" },
    })
}

/// The spelling of a filter (`ListQuery::parse`); the value after the operator is the column's.
const FILTER_PATTERN: &str = r"^((eq|neq|gt|gte|lt|lte)\..*|in\.\(.*\)|is\.null|not\.is\.null)$";

fn list_parameters(resource: &Resource) -> Vec<Value> {
    let orderable: Vec<String> = resource
        .columns
        .iter()
        .filter(|c| c.orderable)
        .flat_map(|c| [format!("{}.asc", c.name), format!("{}.desc", c.name)])
        .collect();
    let mut parameters = vec![
        json!({ "name": "limit", "in": "query", "schema": { "type": "integer", "minimum": 1 },
                "description": format!("Rows per page; more than {MAX_LIMIT} is lowered to {MAX_LIMIT}.") }),
        json!({ "name": "order", "in": "query", "schema": { "type": "string", "enum": orderable } }),
        json!({ "name": "cursor", "in": "query", "schema": { "type": "string" },
                "description": "The next_cursor of the page before, for the same order." }),
        include_deleted(),
    ];
    for column in resource.columns.iter().filter(|c| c.kind.is_comparable()) {
        parameters.push(json!({
            "name": column.name, "in": "query", "required": false,
            "description": "eq.v, neq.v, gt.v, gte.v, lt.v, lte.v, in.(a,b), is.null or not.is.null",
            "schema": { "type": "string", "pattern": FILTER_PATTERN },
        }));
    }
    parameters
}

/// A listed row: on a searchable resource, a search adds its rank and snippet.
fn listed_row(resource: &Resource) -> Value {
    if resource.search.is_none() {
        return reference(&resource.name);
    }
    json!({
        "allOf": [
            reference(&resource.name),
            {
                "type": "object",
                "properties": {
                    "_rank": { "type": "number", "description": "With search: full-text rank in the row's language plus the title's word similarity; higher is better." },
                    "_snippet": { "type": "string", "description": "With search: the matching fragments of the content, HTML-escaped, each match in <mark>…</mark>." },
                },
            },
        ],
    })
}

/// `search`, and `language` (which may also be the filter of a column of that name: one
/// parameter, both meanings).
fn add_search_parameters(resource: &Resource, parameters: &mut Vec<Value>) {
    if resource.search.is_none() {
        return;
    }
    parameters.push(json!({ "name": "search", "in": "query", "required": false,
        "schema": { "type": "string", "minLength": 1, "maxLength": MAX_SEARCH_CHARS },
        "description": "Web-search syntax (words, \"phrases\", OR, -word), matched in each row's language and fuzzily against the title; the best matches first, in one page (no cursor, no order)." }));
    let language = "With search, a bare code (language=fr): only rows of this language, the query stemmed in it.";
    match parameters.iter_mut().find(|p| p["name"] == "language") {
        Some(filter) => {
            let described = format!(
                "{} {language}",
                filter["description"].as_str().unwrap_or_default()
            );
            filter["description"] = json!(described);
        }
        None => parameters.push(
            json!({ "name": "language", "in": "query", "required": false,
            "schema": { "type": "string" }, "description": language }),
        ),
    }
}

fn transition_schema(resource: &Resource) -> Value {
    json!({
        "type": "object",
        "properties": { "to": { "type": "string", "enum": resource.statuses() } },
        "required": ["to"],
        "additionalProperties": false,
    })
}

fn stream_parameters() -> Vec<Value> {
    vec![
        json!({ "name": "after", "in": "query", "required": false, "schema": { "type": "string" },
                "description": "Start after this event (its SSE id, timestamp/id), or 0: from the oldest event kept. Default: from now. 410 for a key of no event of the organisation." }),
        json!({ "name": "Last-Event-ID", "in": "header", "required": false, "schema": { "type": "string" },
                "description": "As `after`; what a reconnecting EventSource sends." }),
        json!({ "name": "type", "in": "query", "required": false, "schema": { "type": "string" },
                "description": "An event type (risk.created), a prefix (risk.*) or *; repeat for several." }),
    ]
}

/// The body of `POST /v1/events`.
fn publish_schema() -> Value {
    let maybe_name = json!({ "type": ["string", "null"], "minLength": 1, "maxLength": 200 });
    let maybe_uuid = json!({ "type": ["string", "null"], "format": "uuid" });
    json!({
        "type": "object",
        "description": "An event to publish; its id, organisation, publisher and time are set by the server.",
        "properties": {
            "event_type": { "type": "string", "pattern": "^[a-z][a-z0-9_]*(\\.[a-z][a-z0-9_]*)+$",
                            "description": "Dotted lower-case words, e.g. risk.created; not permission.*." },
            "source_module": { "type": "string", "minLength": 1, "maxLength": 200,
                               "description": "The publishing module (not platform); publishing needs write on it." },
            "source_entity_type": maybe_name.clone(),
            "source_entity_id": maybe_uuid.clone(),
            "target_module": maybe_name.clone(),
            "target_entity_type": maybe_name,
            "target_entity_id": maybe_uuid,
            "payload": {},
        },
        "required": ["event_type", "source_module"],
        "additionalProperties": false,
    })
}

fn token_schemas() -> Map<String, Value> {
    let uuid = json!({ "type": "string", "format": "uuid" });
    let time = json!({ "type": "string", "format": "date-time" });
    let maybe_time = json!({ "type": ["string", "null"], "format": "date-time" });
    let mut schemas = Map::new();
    schemas.insert(
        "token".to_owned(),
        json!({
            "type": "object",
            "description": "An API token of the organisation; its secret is shown only when made.",
            "properties": {
                "id": uuid, "user_id": uuid, "created_at": time, "expires_at": time,
                "revoked_at": maybe_time, "last_used_at": maybe_time,
            },
            "required": ["id", "user_id", "created_at", "expires_at", "revoked_at", "last_used_at"],
        }),
    );
    schemas.insert(
        "token_new".to_owned(),
        json!({
            "type": "object",
            "properties": {
                "user_id": uuid,
                "expires_in_days": { "type": "integer", "minimum": 1, "maximum": 3650, "default": 90 },
            },
            "required": ["user_id"],
            "additionalProperties": false,
        }),
    );
    schemas.insert(
        "token_issued".to_owned(),
        json!({
            "type": "object",
            "properties": {
                "token_id": uuid, "user_id": uuid, "expires_at": time,
                "token": { "type": "string", "description": "The secret: mt_ and 43 characters, shown once." },
            },
            "required": ["token_id", "user_id", "token", "expires_at"],
        }),
    );
    schemas
}

fn token_operation(route: &Route) -> Value {
    let json_of =
        |schema: Value| json!({ "content": { "application/json": { "schema": schema } } });
    let (summary, code, mut success) = match route.operation {
        Operation::List => {
            let page = json!({
                "type": "object",
                "properties": { "items": { "type": "array", "items": reference("token") } },
                "required": ["items"],
            });
            (
                "The organisation's API tokens, newest first",
                "200",
                json_of(page),
            )
        }
        Operation::Create => (
            "A new API token for a user",
            "201",
            json_of(reference("token_issued")),
        ),
        _ => ("Revokes an API token", "204", json!({})),
    };
    success["description"] = json!("success");
    let mut responses = Map::new();
    responses.insert(code.to_owned(), success);
    for (code, why) in problems(route) {
        let problem = json!({ "description": why, "content": { "application/problem+json": { "schema": reference("Problem") } } });
        responses.insert(code.to_owned(), problem);
    }
    let mut parameters = Vec::new();
    if route.takes_id() {
        parameters.push(json!({
            "name": "id", "in": "path", "required": true,
            "schema": { "type": "string", "format": "uuid" },
        }));
    }
    let mut operation = json!({
        "operationId": format!("{}_tokens{}", route.method.as_str().to_lowercase(), if route.takes_id() { "_id" } else { "" }),
        "summary": summary,
        "description": "Module platform; needs the admin permission.",
        "tags": ["tokens"],
        "parameters": parameters,
        "responses": responses,
    });
    if route.operation == Operation::Create {
        operation["requestBody"] = json!({
            "required": true,
            "content": { "application/json": { "schema": reference("token_new") } },
        });
    }
    operation
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(kind: ValueKind, nullable: bool) -> Column {
        Column {
            name: "c".into(),
            sql_type: "jsonb".into(),
            kind,
            allowed: None,
            nullable,
            has_default: false,
            writable: true,
            description: None,
            orderable: false,
        }
    }

    #[test]
    fn null_is_documented_exactly_where_the_column_takes_it() {
        let any = json!(["array", "boolean", "number", "object", "string"]);
        assert_eq!(column_schema(&column(ValueKind::Json, false))["type"], any);
        let mut nullable = any.as_array().unwrap().clone();
        nullable.push(json!("null"));
        assert_eq!(
            column_schema(&column(ValueKind::Json, true))["type"],
            json!(nullable)
        );
        assert_eq!(
            column_schema(&column(ValueKind::Text, true))["type"],
            json!(["string", "null"])
        );
        assert_eq!(
            column_schema(&column(ValueKind::Boolean, false))["type"],
            "boolean"
        );
    }
}
