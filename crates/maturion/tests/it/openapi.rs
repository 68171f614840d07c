//! The OpenAPI document: the committed copy (`docs/openapi.json`, the platform plus the
//! reference module `policies`) is what a freshly migrated database serves, every route the
//! server publishes is documented, and every documented operation is served.

use std::path::PathBuf;

use maturion_testing::organisation_with_admin;
use serde_json::Value;
use uuid::Uuid;

use crate::server::RunningServer;

/// Set to `1` to rewrite the committed document instead of comparing with it.
const UPDATE_VARIABLE: &str = "MATURION_UPDATE_OPENAPI";
const REFRESH_COMMAND: &str = "MATURION_UPDATE_OPENAPI=1 cargo xtask test -- committed_openapi";

/// The routes `routes::router` registers beside the catalog's: they are in no route table.
const SERVICE_PATHS: [&str; 5] = ["/healthz", "/readyz", "/metrics", "/v1", "/openapi.json"];

fn committed_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi.json")
}

/// The document as committed: pretty-printed, keys in order, one newline at the end.
fn committed_form(document: &Value) -> String {
    let mut text = serde_json::to_string_pretty(document).unwrap();
    text.push('\n');
    text
}

async fn served_document(server: &RunningServer) -> Value {
    let (status, document) = server.json("/openapi.json").await;
    assert_eq!(status, 200, "{document}");
    document
}

/// Where `expected` and `actual` first part, with a few lines of each around it.
fn first_difference(expected: &str, actual: &str) -> String {
    let (expected, actual): (Vec<&str>, Vec<&str>) =
        (expected.lines().collect(), actual.lines().collect());
    let line = expected
        .iter()
        .zip(&actual)
        .position(|(e, a)| e != a)
        .unwrap_or(expected.len().min(actual.len()));
    let around = |lines: &[&str]| {
        let start = line.saturating_sub(3);
        lines[start.min(lines.len())..(line + 4).min(lines.len())].join("\n")
    };
    format!(
        "first difference at line {}:\n--- committed\n{}\n+++ served\n{}",
        line + 1,
        around(&expected),
        around(&actual)
    )
}

#[tokio::test]
async fn the_committed_openapi_document_is_current() {
    let db = maturion_testing::migrated_database().await;
    let server = RunningServer::start(&db);
    let served = committed_form(&served_document(&server).await);
    let path = committed_path();
    if std::env::var(UPDATE_VARIABLE).is_ok_and(|value| value == "1") {
        std::fs::write(&path, &served).unwrap();
        eprintln!("rewrote {}", path.display());
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == served,
        "{} is not the document a freshly migrated database serves; if the change is \
         intended, refresh it with\n    {REFRESH_COMMAND}\nand commit it.\n{}",
        path.display(),
        first_difference(&committed, &served)
    );
}

/// Every `(path, method)` of the document.
fn documented_operations(document: &Value) -> Vec<(String, String)> {
    let mut operations = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            operations.push((path.clone(), method.to_uppercase()));
        }
    }
    operations
}

#[tokio::test]
async fn every_served_route_is_documented_and_every_documented_operation_is_served() {
    let db = maturion_testing::migrated_database().await;
    let admin = db.admin().await;
    let tenant = organisation_with_admin(&admin, "Documented").await.unwrap();
    maturion_testing::module_table(&admin, "risks", "risks")
        .await
        .unwrap();
    let server = RunningServer::start(&db);
    let document = served_document(&server).await;
    let documented = documented_operations(&document);

    let (status, index) = server.json("/v1").await;
    assert_eq!(status, 200, "{index}");
    let routes = index["routes"].as_array().unwrap();
    assert!(routes.iter().any(|route| route["resource"] == "risks"));
    let served = routes
        .iter()
        .map(|route| {
            let path = route["path"].as_str().unwrap().to_owned();
            (path, route["method"].as_str().unwrap().to_owned())
        })
        .chain(SERVICE_PATHS.map(|path| (path.to_owned(), "GET".to_owned())));
    for (path, method) in served {
        assert!(
            documented.contains(&(path.clone(), method.clone())),
            "{method} {path} is served but not documented"
        );
    }

    // A made-up id and a body that is not an object: every answer is the route's own (a
    // refusal or "no such row"), never the router's "no such resource" or 405, and nothing
    // is written.
    let made_up = Uuid::now_v7().to_string();
    for (path, method) in &documented {
        let url = format!("{}{}", server.url, path.replace("{id}", &made_up));
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = server
            .http
            .request(method.clone(), url)
            .bearer_auth(tenant.token.expose());
        if matches!(method, reqwest::Method::POST | reqwest::Method::PATCH) {
            request = request
                .header("content-type", "application/json")
                .body("[]");
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        assert!(
            status != 405 && body["detail"] != "no such resource",
            "{method} {path} is documented but not served: {status} {body}"
        );
        assert!(status < 500, "{method} {path}: {status} {body}");
    }
}
