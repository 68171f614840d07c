//! Schemathesis (PyPI) over every operation of `/openapi.json`: examples, boundary values,
//! random and invalid inputs, and sequences that follow the document's links (a created row is
//! then read, changed, deleted and restored), as the administrator of a seeded organisation.
//! No answer may be a 5xx, carry a status the document does not list, or contradict the
//! schema documented for its status.
//!
//! `cargo xtask test` installs schemathesis and names it in `MATURION_SCHEMATHESIS`; without
//! it the test fails in CI (`CI` set) and is skipped, loudly, elsewhere.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use maturion_tenancy::UserId;
use maturion_testing::{organisation_with_admin, Tenant};
use serde_json::{json, Value};

use crate::server::RunningServer;

const PROGRAM_VARIABLE: &str = "MATURION_SCHEMATHESIS";
const EXTRA_ARGUMENTS_VARIABLE: &str = "MATURION_SCHEMATHESIS_ARGS";
/// Test cases per operation and phase: enough to reach the boundaries, within the time below
/// on two cores.
const MAX_EXAMPLES: &str = "40";
const TIME_LIMIT: Duration = Duration::from_secs(300);

/// The program, or `None` outside CI when it is not installed (after saying so).
fn schemathesis() -> Option<PathBuf> {
    if let Some(program) = std::env::var_os(PROGRAM_VARIABLE) {
        return Some(program.into());
    }
    let on_path = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join("schemathesis"))
            .find(|program| program.is_file())
    });
    if on_path.is_some() {
        return on_path;
    }
    let why = format!(
        "schemathesis is not installed: `cargo xtask test` installs it (its output says why it \
         could not), or name the program in {PROGRAM_VARIABLE}"
    );
    let in_ci = std::env::var("CI").is_ok_and(|value| !value.is_empty() && value != "false");
    assert!(!in_ci, "{why}");
    eprintln!("\n!!!!!!!! SKIPPED: {why} !!!!!!!!\n");
    None
}

/// `MATURION_SCHEMATHESIS_ARGS`, split at whitespace: e.g. `--seed N` (the seed a failed run
/// printed) with `--include-path /v1/users` to replay a finding.
fn extra_arguments() -> Vec<String> {
    std::env::var(EXTRA_ARGUMENTS_VARIABLE)
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

/// Operations that can lock their caller out (deleting or suspending their own account,
/// revoking their own token): fuzzed in a pass of their own, by a second administrator, after
/// everything else.
const LOCKING_OUT: [&str; 3] = [
    "delete_v1_users__id_",
    "patch_v1_users__id_",
    "delete_tokens_id",
];
/// What that pass runs beside them: the operations that make and list the rows they act on.
const THEIR_SUPPLIERS: [&str; 4] = ["post_v1_users", "get_v1_users", "post_tokens", "get_tokens"];

#[tokio::test]
async fn schemathesis_finds_no_server_error_and_no_answer_outside_the_document() {
    let Some(program) = schemathesis() else {
        return;
    };
    let db = maturion_testing::migrated_database().await;
    let admin = db.admin().await;
    let tenant = organisation_with_admin(&admin, "Fuzzed").await.unwrap();
    let server = RunningServer::start(&db);
    let (status, readiness) = server.ready().await;
    assert_eq!(status, 200, "{readiness}");
    let second = second_administrator(&server, &tenant).await;
    seed(&server, &tenant, second).await;
    let second = maturion_testing::token_for(&admin, second).await.unwrap();

    let started = Instant::now();
    let mut passed = true;
    let locking_out_last = LOCKING_OUT.iter().chain(&THEIR_SUPPLIERS);
    for (token, filter, operations) in [
        (
            tenant.token.expose(),
            "--exclude-operation-id",
            LOCKING_OUT.to_vec(),
        ),
        (
            second.expose(),
            "--include-operation-id",
            locking_out_last.copied().collect(),
        ),
    ] {
        let filters = operations.iter().flat_map(|id| [filter, id]);
        let ids = known_ids(&server, token).await;
        let (success, report) = schemathesis_run(&program, &server, token, &ids, filters).await;
        eprintln!("schemathesis {filter} {operations:?}:\n{report}");
        passed &= success;
    }
    eprintln!("schemathesis ran {:.0?}", started.elapsed());
    let log = server.log();
    let errors: Vec<&str> = log.lines().filter(|line| line.contains("ERROR")).collect();
    assert!(
        passed,
        "schemathesis found answers the document does not allow (above); the server's errors:\n{}",
        errors.join("\n")
    );
}

/// An administrator made through the API, beside the organisation's first one.
async fn second_administrator(server: &RunningServer, tenant: &Tenant) -> UserId {
    let user = create(
        server,
        tenant,
        "/v1/users",
        json!({"email": "second@fuzzed.example", "full_name": "Second", "role": "admin"}),
    )
    .await;
    UserId::from_uuid(user["id"].as_str().unwrap().parse().unwrap())
}

/// A row in the tables that start empty, so that the routes of one row meet real ones.
async fn seed(server: &RunningServer, tenant: &Tenant, user: UserId) {
    let rows = [
        (
            "/v1/policies",
            json!({"title": "Acceptable use", "content": "Lock your screen.", "language": "en"}),
        ),
        (
            "/v1/organisation_settings",
            json!({"setting_key": "reports.locale", "setting_value": "en"}),
        ),
        (
            "/v1/user_permissions",
            json!({"user_id": user.to_string(), "module": "policies", "permission": "read"}),
        ),
    ];
    for (path, body) in rows {
        create(server, tenant, path, body).await;
    }
}

async fn create(server: &RunningServer, tenant: &Tenant, path: &str, body: Value) -> Value {
    let response = server
        .http
        .post(format!("{}{path}", server.url))
        .bearer_auth(tenant.token.expose())
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let row: Value = response.json().await.unwrap();
    assert_eq!(status, 201, "{path}: {row}");
    row
}

/// The ids of the first rows of every listing of the route table (`/v1/<name>` → ids), which
/// schemathesis then tries for the `{id}` of `/v1/<name>/{id}…` beside the ones it makes up.
async fn known_ids(server: &RunningServer, token: &str) -> BTreeMap<String, Vec<String>> {
    let (_, index) = server.json("/v1").await;
    let mut ids = BTreeMap::new();
    for route in index["routes"].as_array().unwrap() {
        if route["operation"] != "list" {
            continue;
        }
        let collection = route["path"].as_str().unwrap();
        let page: Value = server
            .http
            .get(format!("{}{collection}?limit=5", server.url))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let found: Vec<String> = page["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|row| row["id"].as_str().map(str::to_owned))
            .collect();
        if !found.is_empty() {
            ids.insert(collection.to_owned(), found);
        }
    }
    ids
}

/// A schemathesis configuration that draws the `{id}` of each collection's routes from its
/// known ids most of the time.
fn configuration(ids: &BTreeMap<String, Vec<String>>) -> String {
    let mut toml = String::new();
    for (number, (collection, values)) in ids.iter().enumerate() {
        let values: Vec<String> = values.iter().map(|id| format!("\"{id}\"")).collect();
        toml.push_str(&format!(
            "[dictionaries.ids{number}]\nvalues = [{}]\n\n\
             [[operations]]\ninclude-path-regex = \"^{collection}/\"\n\
             parameters = {{ \"path.id\" = {{ dictionary = \"ids{number}\", probability = 0.8 }} }}\n\n",
            values.join(", ")
        ));
    }
    toml
}

/// One run over the operations `filters` select, with `token`: whether it passed, and its
/// report.
async fn schemathesis_run<'a>(
    program: &Path,
    server: &RunningServer,
    token: &str,
    ids: &BTreeMap<String, Vec<String>>,
    filters: impl Iterator<Item = &'a str>,
) -> (bool, String) {
    let scratch = tempfile::tempdir().unwrap();
    let config = scratch.path().join("schemathesis.toml");
    std::fs::write(&config, configuration(ids)).unwrap();
    let authorization = format!("Authorization: Bearer {token}");
    let mut command = tokio::process::Command::new(program);
    command
        .arg("--config-file")
        .arg(&config)
        .arg("run")
        .arg(format!("{}/openapi.json", server.url))
        .args(["--header", &authorization])
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
            "--phases",
            "examples,coverage,fuzzing,stateful",
            "--max-examples",
            MAX_EXAMPLES,
            // One: with threads, Python 3.11's ast.parse (which Hypothesis calls to describe
            // its strategies) fails now and then ("AST constructor recursion depth mismatch").
            "--workers",
            "1",
            "--request-timeout",
            "10",
            "--generation-database",
            "none",
            "--suppress-health-check",
            "all",
            "--no-color",
        ])
        .args(filters)
        .args(extra_arguments())
        .current_dir(scratch.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let output = tokio::time::timeout(TIME_LIMIT, command.output())
        .await
        .unwrap_or_else(|_| panic!("schemathesis ran longer than {TIME_LIMIT:?}"))
        .unwrap_or_else(|error| panic!("cannot run {}: {error}", program.display()));
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), report)
}
