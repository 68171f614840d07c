//! `GET /openapi.json`: maturion-api's document of the generated resources, plus the service's
//! own routes (health, readiness, metrics, the route table and the document itself), so that
//! every path the server answers is described and a client generated from it knows them all.

use maturion_api::Catalog;
use serde_json::{json, Value};

/// The whole document. Its content follows only from the catalog and this build: no address,
/// port, id or time of the run (the committed `docs/openapi.json` is compared with it).
pub fn document(catalog: &Catalog) -> Value {
    let mut document = catalog.openapi(env!("CARGO_PKG_VERSION"));
    let paths = document["paths"]
        .as_object_mut()
        .expect("the catalog's document has paths");
    for (path, operation) in service_operations() {
        paths.insert(path.to_owned(), json!({ "get": operation }));
    }
    document
}

/// The service's routes (see `routes::router`), which need no token.
fn service_operations() -> [(&'static str, Value); 5] {
    let json_body = |schema: Value, description: &str| json!({ "description": description, "content": { "application/json": { "schema": schema } } });
    let check = json!({ "type": "object", "properties": { "ok": { "type": "boolean" } }, "required": ["ok"] });
    let readiness = json!({
        "type": "object",
        "properties": {
            "status": { "type": "string", "enum": ["ready", "not ready"] },
            "checks": { "type": "object", "additionalProperties": check },
        },
        "required": ["status", "checks"],
    });
    let object = json!({ "type": "object" });
    [
        (
            "/healthz",
            open_operation(
                "healthz",
                "The process is up and answering",
                json!({ "200": json_body(json!({
                    "type": "object",
                    "properties": { "status": { "type": "string", "const": "ok" } },
                    "required": ["status"],
                }), "alive") }),
            ),
        ),
        (
            "/readyz",
            open_operation(
                "readyz",
                "Ready: the database is reachable, migrations are current, the last periodic job and backup did not fail",
                json!({
                    "200": json_body(readiness.clone(), "ready"),
                    "503": json_body(readiness, "not ready: the failing checks say why"),
                }),
            ),
        ),
        (
            "/metrics",
            open_operation(
                "metrics",
                "Prometheus metrics in the text exposition format",
                json!({ "200": {
                    "description": "the metrics",
                    "content": { "text/plain": { "schema": { "type": "string" } } },
                } }),
            ),
        ),
        (
            "/v1",
            open_operation(
                "route_table",
                "The served resources (columns, types, allowed values) and the route table",
                json!({ "200": json_body(json!({
                    "type": "object",
                    "properties": {
                        "resources": { "type": "array", "items": object },
                        "routes": { "type": "array", "items": object },
                    },
                    "required": ["resources", "routes"],
                }), "the resources and routes") }),
            ),
        ),
        (
            "/openapi.json",
            open_operation(
                "openapi",
                "This document",
                json!({ "200": json_body(object, "the OpenAPI 3.1 document") }),
            ),
        ),
    ]
}

/// A GET that needs no token (`security: []`) and takes no parameter.
fn open_operation(id: &str, summary: &str, responses: Value) -> Value {
    json!({
        "operationId": id,
        "summary": summary,
        "tags": ["service"],
        "security": [],
        "parameters": [],
        "responses": responses,
    })
}
