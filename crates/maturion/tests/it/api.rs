//! The generated API over HTTP: a real server on a fresh database, two organisations, and
//! requests as their users. The cross-tenant and permission matrices walk the route table the
//! server publishes at `/v1`, so a new table or route is covered without a new test.

use std::collections::BTreeMap;

use maturion_testing::{organisation_with_admin, Tenant, TestDatabase};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::server::RunningServer;

/// The module table every test has beside the platform's.
const MODULE_TABLE: &str = "risks";

pub(crate) struct Api {
    pub(crate) db: TestDatabase,
    pub(crate) server: RunningServer,
    pub(crate) a: Tenant,
    pub(crate) b: Tenant,
}

#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) body: Value,
}

impl Api {
    /// A migrated database with a module table, organisations A and B, and the server.
    pub(crate) async fn start() -> Api {
        let db = maturion_testing::migrated_database().await;
        let admin = db.admin().await;
        maturion_testing::module_table(&admin, MODULE_TABLE, "risks")
            .await
            .unwrap();
        let a = organisation_with_admin(&admin, "Organisation A")
            .await
            .unwrap();
        let b = organisation_with_admin(&admin, "Organisation B")
            .await
            .unwrap();
        let server = RunningServer::start(&db);
        // The periodic job's first run (which refreshes the rollups) is over before any
        // snapshot is taken.
        let (status, readiness) = server.ready().await;
        assert_eq!(status, 200, "{readiness}");
        Api { db, server, a, b }
    }

    pub(crate) async fn call(
        &self,
        token: Option<&str>,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Reply {
        let body = body.map(|body| body.to_string().into_bytes());
        self.raw(token, method, path, body).await
    }

    pub(crate) async fn raw(
        &self,
        token: Option<&str>,
        method: &str,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Reply {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self
            .server
            .http
            .request(method, format!("{}{path}", self.server.url));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let text = response.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        assert!(status < 500, "{path}: {status} {body}");
        if status >= 400 {
            assert_eq!(content_type, "application/problem+json", "{path}: {body}");
        }
        Reply { status, body }
    }

    pub(crate) async fn as_a(&self, method: &str, path: &str, body: Option<&Value>) -> Reply {
        self.call(Some(self.a.token.expose()), method, path, body)
            .await
    }

    /// The route table and the resources, as the server publishes them.
    pub(crate) async fn index(&self) -> (Vec<Value>, BTreeMap<String, Value>) {
        let index = self.call(None, "GET", "/v1", None).await;
        assert_eq!(index.status, 200, "{:?}", index);
        let routes = index.body["routes"].as_array().unwrap().clone();
        let resources = index.body["resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| (r["name"].as_str().unwrap().to_owned(), r.clone()))
            .collect();
        (routes, resources)
    }

    /// Every row of `organisation` in every served table, and its audit entries, read as the
    /// superuser (past RLS): what no request of another organisation may change.
    pub(crate) async fn snapshot(
        &self,
        organisation: Uuid,
        resources: &BTreeMap<String, Value>,
    ) -> BTreeMap<String, Value> {
        let admin = self.db.admin().await;
        let mut snapshot = BTreeMap::new();
        let mut tables: Vec<(String, String)> = resources
            .values()
            .map(|r| {
                (
                    r["name"].as_str().unwrap().to_owned(),
                    r["tenant_column"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        tables.push(("audit_log".to_owned(), "organisation_id".to_owned()));
        tables.push(("event_log".to_owned(), "organisation_id".to_owned()));
        for (table, tenant) in tables {
            // processed_at is the event workers' bookkeeping, not the organisation's data.
            let rows: Value = admin
                .query_one(
                    &format!(
                        "SELECT coalesce(jsonb_agg(to_jsonb(t) - 'processed_at' ORDER BY t.id), '[]') FROM public.\"{table}\" t WHERE t.\"{tenant}\" = $1"
                    ),
                    &[&organisation],
                )
                .await
                .unwrap()
                .get(0);
            snapshot.insert(table, rows);
        }
        snapshot
    }

    /// A risk and a setting of A, so that every resource of A has a row.
    async fn seed_a(&self) -> Value {
        let risk = self
            .as_a(
                "POST",
                "/v1/risks",
                Some(&json!({"title": "Flood", "score": 5})),
            )
            .await;
        assert_eq!(risk.status, 201, "{:?}", risk);
        let setting = self
            .as_a(
                "POST",
                "/v1/organisation_settings",
                Some(&json!({"setting_key": "reports.locale", "setting_value": "en"})),
            )
            .await;
        assert_eq!(setting.status, 201, "{:?}", setting);
        let grant = self
            .as_a(
                "POST",
                "/v1/user_permissions",
                Some(&json!({"user_id": self.a.user.to_string(), "module": MODULE_TABLE, "permission": "read"})),
            )
            .await;
        assert_eq!(grant.status, 201, "{:?}", grant);
        let policy = self
            .as_a(
                "POST",
                "/v1/policies",
                Some(&json!({"title": "Acceptable use", "content": "Lock your screen.", "language": "en"})),
            )
            .await;
        assert_eq!(policy.status, 201, "{:?}", policy);
        let event = self
            .as_a(
                "POST",
                "/v1/events",
                Some(&json!({"event_type": "risk.assessed", "source_module": MODULE_TABLE, "source_entity_type": "risk", "source_entity_id": risk.body["id"]})),
            )
            .await;
        assert_eq!(event.status, 201, "{:?}", event);
        risk.body
    }

    /// The status of a live stream and what it sent within `duration` (it never ends by itself).
    async fn stream(
        &self,
        token: &str,
        path: &str,
        last_event_id: Option<&str>,
        duration: std::time::Duration,
    ) -> (u16, String) {
        let mut request = self
            .server
            .http
            .get(format!("{}{path}", self.server.url))
            .bearer_auth(token);
        if let Some(id) = last_event_id {
            request = request.header("last-event-id", id);
        }
        let mut response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let mut text = Vec::new();
        let deadline = tokio::time::Instant::now() + duration;
        if status == 200 {
            assert_eq!(response.headers()["content-type"], "text/event-stream");
            while let Ok(Ok(Some(chunk))) =
                tokio::time::timeout_at(deadline, response.chunk()).await
            {
                text.extend_from_slice(&chunk);
            }
        } else {
            text = response.bytes().await.unwrap().to_vec();
        }
        (status, String::from_utf8(text).unwrap())
    }
}

/// A transition's body for a workflow `resource`: a move to one of its statuses.
fn transition_body(resource: &Value) -> Value {
    let status = resource["columns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "status")
        .and_then(|c| c["allowed"].as_array())
        .and_then(|allowed| allowed.last().cloned())
        .expect("a workflow resource has statuses");
    json!({ "to": status })
}

/// `path` with `{id}` replaced.
fn with_id(path: &str, id: &str) -> String {
    path.replace("{id}", id)
}

/// A body for `resource` whose fields are filled (text unique to each call) and whose uuid
/// fields all name `id`.
fn body_naming(resource: &Value, id: &str) -> Value {
    let unique = Uuid::now_v7().simple().to_string();
    let mut body = serde_json::Map::new();
    for column in resource["columns"].as_array().unwrap() {
        let name = column["name"].as_str().unwrap();
        if !column["writable"].as_bool().unwrap() {
            continue;
        }
        let value = match (column["kind"].as_str(), column["allowed"].as_array()) {
            (Some("uuid"), _) => json!(id),
            (_, Some(allowed)) => allowed[0].clone(),
            (Some("text"), _) => json!(format!("probe{unique}@example.test")),
            _ => continue,
        };
        body.insert(name.to_owned(), value);
    }
    Value::Object(body)
}

#[tokio::test]
async fn a_token_is_needed_and_a_bad_one_is_refused_alike() {
    let api = Api::start().await;
    let admin = api.db.admin().await;
    let user = api.a.user;
    let revoked: String = admin
        .query_one("SELECT token FROM maturion.create_token($1)", &[&user])
        .await
        .unwrap()
        .get(0);
    admin
        .execute(
            "SELECT maturion.revoke_token(token_id) FROM (SELECT t.id AS token_id FROM maturion.api_tokens t ORDER BY t.created_at DESC LIMIT 1) s",
            &[],
        )
        .await
        .unwrap();
    let expired: String = admin
        .query_one(
            "SELECT token FROM maturion.create_token($1, interval '1 second')",
            &[&user],
        )
        .await
        .unwrap()
        .get(0);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;

    let unknown = format!("mt_{}", "A".repeat(43));
    let mut bodies = Vec::new();
    for token in [
        None,
        Some("nonsense"),
        Some(unknown.as_str()),
        Some(revoked.as_str()),
        Some(expired.as_str()),
    ] {
        let reply = api.call(token, "GET", "/v1/users", None).await;
        assert_eq!(reply.status, 401, "{token:?}: {reply:?}");
        bodies.push(reply.body);
    }
    assert!(
        bodies.windows(2).all(|pair| pair[0] == pair[1]),
        "{bodies:?}"
    );

    let mine = api.as_a("GET", "/v1/users", None).await;
    assert_eq!(mine.status, 200, "{mine:?}");
    let ids: Vec<&str> = mine.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [api.a.user.to_string()]);
}

#[tokio::test]
async fn a_module_table_is_created_read_paged_changed_deleted_and_restored() {
    let api = Api::start().await;
    let created = api
        .as_a(
            "POST",
            "/v1/risks",
            Some(&json!({"title": "Flood", "score": 3})),
        )
        .await;
    assert_eq!(created.status, 201, "{created:?}");
    let id = created.body["id"].as_str().unwrap().to_owned();
    assert_eq!(
        created.body["organisation_id"],
        json!(api.a.organisation.to_string())
    );
    assert_eq!(created.body["created_by"], json!(api.a.user.to_string()));
    assert_eq!(created.body["status"], "draft");

    let changed = api
        .as_a(
            "PATCH",
            &format!("/v1/risks/{id}"),
            Some(&json!({"status": "approved", "score": 9})),
        )
        .await;
    assert_eq!(
        (
            changed.status,
            &changed.body["score"],
            &changed.body["status"]
        ),
        (200, &json!(9), &json!("approved"))
    );

    for title in ["B", "C", "D", "E"] {
        let reply = api
            .as_a("POST", "/v1/risks", Some(&json!({"title": title})))
            .await;
        assert_eq!(reply.status, 201);
    }
    let mut seen = Vec::new();
    let mut path = "/v1/risks?order=created_at.desc&limit=2".to_owned();
    loop {
        let page = api.as_a("GET", &path, None).await;
        assert_eq!(page.status, 200, "{page:?}");
        let items = page.body["items"].as_array().unwrap();
        assert!(items.len() <= 2);
        seen.extend(
            items
                .iter()
                .map(|r| r["title"].as_str().unwrap().to_owned()),
        );
        match page.body["next_cursor"].as_str() {
            Some(cursor) => {
                path = format!("/v1/risks?order=created_at.desc&limit=2&cursor={cursor}")
            }
            None => break,
        }
    }
    assert_eq!(seen, ["E", "D", "C", "B", "Flood"]);

    let filtered = api
        .as_a(
            "GET",
            "/v1/risks?status=eq.approved&score=gte.5&title=in.(Flood,B)",
            None,
        )
        .await;
    assert_eq!(
        filtered.body["items"].as_array().unwrap().len(),
        1,
        "{filtered:?}"
    );
    let nulls = api.as_a("GET", "/v1/risks?score=is.null", None).await;
    assert_eq!(
        nulls.body["items"].as_array().unwrap().len(),
        4,
        "{nulls:?}"
    );

    assert_eq!(
        api.as_a("DELETE", &format!("/v1/risks/{id}"), None)
            .await
            .status,
        204
    );
    assert_eq!(
        api.as_a("GET", &format!("/v1/risks/{id}"), None)
            .await
            .status,
        404
    );
    assert_eq!(
        api.as_a("GET", "/v1/risks?title=eq.Flood", None).await.body["items"],
        json!([])
    );
    let deleted = api
        .as_a("GET", &format!("/v1/risks/{id}?include_deleted=true"), None)
        .await;
    assert_eq!(deleted.body["deleted_by"], json!(api.a.user.to_string()));
    let restored = api
        .as_a("POST", &format!("/v1/risks/{id}/restore"), None)
        .await;
    assert_eq!(
        (restored.status, &restored.body["deleted_at"]),
        (200, &Value::Null)
    );

    let history = api
        .as_a("GET", &format!("/v1/risks/{id}/history"), None)
        .await;
    let actions: Vec<&str> = history.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["updated", "deleted", "updated", "created"],
        "{history:?}"
    );
}

#[tokio::test]
async fn another_organisations_ids_answer_404_on_every_route_and_change_nothing() {
    let api = Api::start().await;
    let (routes, resources) = api.index().await;
    api.seed_a().await;
    let b_token = api.b.token.expose();
    // One row of B per resource, where B has one, for changes that name A's ids.
    let b_risk = api
        .call(
            Some(b_token),
            "POST",
            "/v1/risks",
            Some(&json!({"title": "B's own"})),
        )
        .await;
    assert_eq!(b_risk.status, 201);

    let mut a_ids = BTreeMap::new();
    for name in resources.keys() {
        let rows = api
            .as_a(
                "GET",
                &format!("/v1/{name}?include_deleted=true&limit=1"),
                None,
            )
            .await;
        if let Some(id) = rows.body["items"][0]["id"].as_str() {
            a_ids.insert(name.clone(), id.to_owned());
        }
    }
    let events = api.as_a("GET", "/v1/events?limit=1", None).await;
    let a_event = events.body["items"][0]["id"].as_str().unwrap().to_owned();
    a_ids.insert("events".to_owned(), a_event.clone());
    let tokens = api.as_a("GET", "/v1/tokens", None).await;
    let a_token_id = tokens.body["items"][0]["id"].as_str().unwrap();
    a_ids.insert("tokens".to_owned(), a_token_id.to_owned());
    for name in [
        "organisations",
        "users",
        "user_permissions",
        "organisation_settings",
        MODULE_TABLE,
        "tokens",
    ] {
        assert!(a_ids.contains_key(name), "A has no row of {name}");
    }
    let a_user = api.a.user.to_string();
    let before = api.snapshot(api.a.organisation.as_uuid(), &resources).await;

    let mut tried = 0;
    for route in &routes {
        let name = route["resource"].as_str().unwrap();
        let method = route["method"].as_str().unwrap();
        let path = route["path"].as_str().unwrap();
        // The token routes have no table: a body of theirs names a user; an event names
        // entities.
        let fill = |id: &str| match resources.get(name) {
            Some(resource) => body_naming(resource, id),
            None if name == "events" => json!({
                "event_type": "probe.sent", "source_module": MODULE_TABLE,
                "source_entity_id": id, "target_entity_id": id,
            }),
            None => json!({ "user_id": id }),
        };
        if path.contains("{id}") {
            let Some(a_id) = a_ids.get(name) else {
                continue;
            };
            let body = match route["operation"].as_str() {
                Some("update") => Some(fill(&a_user)),
                Some("transition") => Some(transition_body(&resources[name])),
                _ => None,
            };
            let theirs = api
                .call(Some(b_token), method, &with_id(path, a_id), body.as_ref())
                .await;
            let nobodys = api
                .call(
                    Some(b_token),
                    method,
                    &with_id(path, &Uuid::now_v7().to_string()),
                    body.as_ref(),
                )
                .await;
            assert_eq!(theirs.status, 404, "{method} {path}: {theirs:?}");
            assert_eq!(theirs.body, nobodys.body, "{method} {path}");
            let deleted_too = format!("{}?include_deleted=true", with_id(path, a_id));
            if method == "GET" && !path.ends_with("/history") {
                assert_eq!(
                    api.call(Some(b_token), method, &deleted_too, None)
                        .await
                        .status,
                    404
                );
            }
        } else if name == "audit_log" {
            let entities: Vec<&str> = a_ids.values().map(String::as_str).collect();
            let listed = api
                .call(
                    Some(b_token),
                    "GET",
                    &format!("{path}?entity_id=in.({})", entities.join(",")),
                    None,
                )
                .await;
            assert_eq!(
                (listed.status, &listed.body["items"]),
                (200, &json!([])),
                "{path}"
            );
        } else if route["operation"] == "stream" {
            // From the oldest event kept: B's stream shows B's events only.
            let (status, text) = api
                .stream(
                    b_token,
                    &format!("{path}?after=0"),
                    None,
                    std::time::Duration::from_secs(2),
                )
                .await;
            assert_eq!(status, 200, "{text}");
            assert!(!text.contains(&a_event), "{text}");
            assert!(!text.contains(&api.a.organisation.to_string()), "{text}");
        } else if method == "GET" && name == "tokens" {
            let listed = api.call(Some(b_token), "GET", path, None).await;
            let items = listed.body["items"].as_array().unwrap();
            assert!(
                items.iter().all(|t| t["id"] != json!(a_ids["tokens"])),
                "{listed:?}"
            );
        } else if method == "GET" {
            let Some(a_id) = a_ids.get(name) else {
                continue;
            };
            let listed = api
                .call(
                    Some(b_token),
                    "GET",
                    &format!("{path}?id=in.({a_id},{a_user})&include_deleted=true"),
                    None,
                )
                .await;
            assert_eq!(
                (listed.status, &listed.body["items"]),
                (200, &json!([])),
                "{path}"
            );
        } else {
            // A new row of B that names A's user wherever it takes a uuid answers exactly as
            // one that names an id nobody has.
            let theirs = api
                .call(Some(b_token), method, path, Some(&fill(&a_user)))
                .await;
            let nobodys = api
                .call(
                    Some(b_token),
                    method,
                    path,
                    Some(&fill(&Uuid::now_v7().to_string())),
                )
                .await;
            assert_eq!(
                theirs.status, nobodys.status,
                "{method} {path}: {theirs:?} {nobodys:?}"
            );
            if theirs.status >= 400 {
                assert_eq!(theirs.body, nobodys.body, "{method} {path}");
            }
        }
        tried += 1;
    }
    assert!(
        tried >= routes.len() - 4,
        "{tried} of {} routes tried",
        routes.len()
    );
    let b_risk_id = b_risk.body["id"].as_str().unwrap();
    let naming_a = api
        .call(
            Some(b_token),
            "PATCH",
            &format!("/v1/risks/{b_risk_id}"),
            Some(&json!({"owner_id": a_user})),
        )
        .await;
    let naming_nobody = api
        .call(
            Some(b_token),
            "PATCH",
            &format!("/v1/risks/{b_risk_id}"),
            Some(&json!({"owner_id": Uuid::now_v7()})),
        )
        .await;
    assert_eq!(
        (naming_a.status, &naming_a.body),
        (naming_nobody.status, &naming_nobody.body)
    );
    assert_eq!(naming_a.status, 422, "{naming_a:?}");

    assert_eq!(
        api.snapshot(api.a.organisation.as_uuid(), &resources).await,
        before
    );
}

/// The levels a user may hold on a module, `None` for no grant.
const LEVELS: [Option<&str>; 4] = [None, Some("read"), Some("write"), Some("admin")];

fn rank(level: Option<&str>) -> u8 {
    match level {
        None => 0,
        Some("read") => 1,
        Some("write") => 2,
        Some("admin") => 3,
        Some(other) => panic!("unknown level {other}"),
    }
}

#[tokio::test]
async fn every_route_needs_the_permission_it_declares_and_nothing_is_granted_by_default() {
    let api = Api::start().await;
    let (routes, resources) = api.index().await;
    // The declarations themselves: reads need read; a module's writes need write; the
    // platform's own tables (users, permissions) need admin to change, tokens admin at all.
    for route in &routes {
        let (method, module) = (
            route["method"].as_str().unwrap(),
            route["module"].as_str().unwrap(),
        );
        let restore = route["path"].as_str().unwrap().ends_with("/restore");
        let tokens = route["resource"] == "tokens";
        let events = route["resource"] == "events";
        let expected = match (method, module) {
            _ if tokens => "admin",
            ("POST", _) if events => "write",
            ("GET", _) => "read",
            _ if restore => "admin",
            (_, "platform") => "admin",
            _ => "write",
        };
        assert_eq!(route["requires"], expected, "{route}");
    }
    let modules: Vec<String> = {
        let mut modules: Vec<String> = routes
            .iter()
            .map(|r| r["module"].as_str().unwrap().to_owned())
            .collect();
        modules.sort();
        modules.dedup();
        modules
    };
    assert!(modules.contains(&"risks".to_owned()) && modules.contains(&"platform".to_owned()));

    let user = api
        .as_a(
            "POST",
            "/v1/users",
            Some(&json!({"email": "member@a.example", "full_name": "Member", "role": "member"})),
        )
        .await;
    assert_eq!(user.status, 201, "{user:?}");
    let user_id = user.body["id"].as_str().unwrap().to_owned();
    let admin = api.db.admin().await;
    let token = maturion_testing::token_for(
        &admin,
        user_id
            .parse()
            .map(maturion_tenancy::UserId::from_uuid)
            .unwrap(),
    )
    .await
    .unwrap();

    let mut grants: Vec<String> = Vec::new();
    for level in LEVELS {
        for grant in grants.drain(..) {
            let revoked = api
                .as_a("DELETE", &format!("/v1/user_permissions/{grant}"), None)
                .await;
            assert_eq!(revoked.status, 204, "{revoked:?}");
        }
        if let Some(level) = level {
            for module in &modules {
                let grant = json!({"user_id": user_id, "module": module, "permission": level});
                let granted = api.as_a("POST", "/v1/user_permissions", Some(&grant)).await;
                assert_eq!(granted.status, 201, "{granted:?}");
                grants.push(granted.body["id"].as_str().unwrap().to_owned());
            }
        }
        for route in &routes {
            let method = route["method"].as_str().unwrap();
            let path = with_id(route["path"].as_str().unwrap(), &Uuid::now_v7().to_string());
            // Harmless input: an id nobody has, a field nobody has.
            let body = matches!(method, "POST" | "PATCH").then(|| json!({"no_such_field": 1}));
            let body = match route["operation"].as_str() {
                Some("restore") => None,
                // A valid move, so that only the permission or the made-up id can refuse it.
                Some("transition") => Some(transition_body(
                    &resources[route["resource"].as_str().unwrap()],
                )),
                _ => body,
            };
            let allowed = rank(level) >= rank(route["requires"].as_str());
            if route["operation"] == "stream" {
                let short = std::time::Duration::from_millis(300);
                let (status, text) = api.stream(token.expose(), &path, None, short).await;
                assert_eq!(
                    status,
                    if allowed { 200 } else { 403 },
                    "{level:?} {path}: {text}"
                );
                continue;
            }
            let reply = api
                .call(Some(token.expose()), method, &path, body.as_ref())
                .await;
            assert_eq!(
                reply.status == 403,
                !allowed,
                "{level:?} {method} {path}: {reply:?}"
            );
            if allowed {
                // A collection's path is /v1/<name>: the GET lists, the POST refuses the field;
                // a row's routes find no row of that id.
                let collection = !route["path"].as_str().unwrap().contains("{id}");
                let expected = match (method, collection) {
                    ("GET", true) => 200,
                    ("POST", true) | ("PATCH", _) => 422,
                    _ => 404,
                };
                assert_eq!(
                    reply.status, expected,
                    "{level:?} {method} {path}: {reply:?}"
                );
            }
            if method == "GET" && !path.contains("/history") {
                let deleted = format!("{path}?include_deleted=true");
                let reply = api.call(Some(token.expose()), "GET", &deleted, None).await;
                assert_eq!(
                    reply.status == 403,
                    rank(level) < 3,
                    "{level:?} {deleted}: {reply:?}"
                );
            }
        }
    }
}

#[tokio::test]
async fn bad_input_is_refused_naming_the_field_and_changes_nothing() {
    let api = Api::start().await;
    let (_, resources) = api.index().await;
    let risk = api.seed_a().await;
    let id = risk["id"].as_str().unwrap();
    let before = api.snapshot(api.a.organisation.as_uuid(), &resources).await;
    let item = format!("/v1/risks/{id}");

    let token = Some(api.a.token.expose());
    let refused = |status: u16, field: &'static str| {
        move |reply: Reply| {
            assert_eq!(
                (reply.status, reply.body["field"].as_str()),
                (status, Some(field)),
                "{reply:?}"
            );
        }
    };
    let malformed = api
        .raw(token, "POST", "/v1/risks", Some(b"{\"title\": ".to_vec()))
        .await;
    refused(400, "body")(malformed);
    let deep = format!("{}1{}", "[".repeat(200), "]".repeat(200));
    refused(400, "body")(
        api.raw(
            token,
            "POST",
            "/v1/risks",
            Some(format!("{{\"title\": {deep}}}").into_bytes()),
        )
        .await,
    );
    refused(400, "body")(
        api.call(
            token,
            "POST",
            "/v1/risks",
            Some(&json!(["not", "an", "object"])),
        )
        .await,
    );
    refused(422, "colour")(
        api.call(
            token,
            "POST",
            "/v1/risks",
            Some(&json!({"title": "x", "colour": "red"})),
        )
        .await,
    );
    refused(422, "organisation_id")(
        api.call(
            token,
            "POST",
            "/v1/risks",
            Some(&json!({"title": "x", "organisation_id": api.b.organisation.to_string()})),
        )
        .await,
    );
    refused(422, "created_by")(
        api.call(
            token,
            "PATCH",
            &item,
            Some(&json!({"created_by": api.a.user.to_string()})),
        )
        .await,
    );
    refused(422, "title")(
        api.call(token, "POST", "/v1/risks", Some(&json!({"score": 2})))
            .await,
    );
    refused(422, "score")(
        api.call(
            token,
            "POST",
            "/v1/risks",
            Some(&json!({"title": "x", "score": "high"})),
        )
        .await,
    );
    refused(422, "score")(
        api.call(token, "PATCH", &item, Some(&json!({"score": 1e10})))
            .await,
    );
    refused(422, "status")(
        api.call(token, "PATCH", &item, Some(&json!({"status": "published"})))
            .await,
    );
    refused(422, "owner_id")(
        api.call(
            token,
            "PATCH",
            &item,
            Some(&json!({"owner_id": "not-a-uuid"})),
        )
        .await,
    );
    refused(422, "title")(
        api.call(token, "PATCH", &item, Some(&json!({"title": "a\u{0}b"})))
            .await,
    );
    refused(422, "title")(
        api.call(token, "PATCH", &item, Some(&json!({"title": null})))
            .await,
    );
    refused(400, "id")(api.call(token, "GET", "/v1/risks/not-a-uuid", None).await);
    refused(400, "id")(
        api.call(
            token,
            "PATCH",
            "/v1/risks/1'%20OR%201=1",
            Some(&json!({"score": 2})),
        )
        .await,
    );
    refused(422, "owner_id")(
        api.call(token, "GET", "/v1/risks?owner_id=eq.nope", None)
            .await,
    );
    refused(422, "status")(
        api.call(token, "GET", "/v1/risks?status=eq.published", None)
            .await,
    );
    refused(422, "colour")(
        api.call(token, "GET", "/v1/risks?colour=eq.red", None)
            .await,
    );
    refused(400, "score")(api.call(token, "GET", "/v1/risks?score=like.5", None).await);
    refused(400, "cursor")(api.call(token, "GET", "/v1/risks?cursor=abc", None).await);
    let forged = "eyJvcmRlciI6ImlkLmFzYyIsInZhbHVlIjoiJzsgZHJvcCIsImlkIjoiMCJ9";
    refused(400, "cursor")(
        api.call(token, "GET", &format!("/v1/risks?cursor={forged}"), None)
            .await,
    );
    refused(400, "limit")(api.call(token, "GET", "/v1/risks?limit=0", None).await);
    refused(400, "limit")(api.call(token, "GET", "/v1/risks?limit=ten", None).await);
    refused(400, "limit")(
        api.call(token, "GET", "/v1/risks?limit=1&limit=2", None)
            .await,
    );
    refused(400, "order")(
        api.call(token, "GET", "/v1/risks?order=title.asc", None)
            .await,
    );
    refused(400, "order")(
        api.call(token, "GET", "/v1/risks?order=created_at.sideways", None)
            .await,
    );
    refused(400, "include_deleted")(
        api.call(token, "GET", "/v1/risks?include_deleted=yes", None)
            .await,
    );
    // What only the database knows: its CHECK and foreign keys.
    let check = api
        .call(token, "PATCH", &item, Some(&json!({"score": 30})))
        .await;
    assert_eq!(check.status, 422, "{check:?}");
    let country = api
        .call(
            token,
            "PATCH",
            &format!("/v1/organisations/{}", api.a.organisation),
            Some(&json!({"country_code": "ZAF"})),
        )
        .await;
    assert_eq!(country.status, 422, "{country:?}");

    let capped = api.call(token, "GET", "/v1/risks?limit=5000", None).await;
    assert_eq!(capped.status, 200);
    let oversize = api
        .server
        .post_oversize("/v1/risks", Some(api.a.token.expose()))
        .await;
    assert_eq!(oversize, (413, "application/problem+json".to_owned()));
    let wrong_method = api.call(token, "PUT", &item, Some(&json!({}))).await;
    assert_eq!(wrong_method.status, 405, "{wrong_method:?}");

    assert_eq!(
        api.snapshot(api.a.organisation.as_uuid(), &resources).await,
        before
    );
}

#[tokio::test]
async fn every_route_is_in_the_openapi_document_with_its_columns_schema() {
    let api = Api::start().await;
    let (routes, _) = api.index().await;
    let document = api.call(None, "GET", "/openapi.json", None).await;
    assert_eq!(document.status, 200);
    let document = document.body;
    assert_eq!(document["openapi"], "3.1.0");
    for route in &routes {
        let (path, method) = (
            route["path"].as_str().unwrap(),
            route["method"].as_str().unwrap(),
        );
        let operation = &document["paths"][path][method.to_lowercase()];
        assert!(operation.is_object(), "{method} {path} is not documented");
        assert!(operation["responses"]["401"].is_object(), "{method} {path}");
    }
    let documented = document["paths"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|path| path.as_object().unwrap().values())
        .filter(|operation| operation["tags"] != json!(["service"]))
        .count();
    assert_eq!(
        documented,
        routes.len(),
        "nothing documented that is not served"
    );
    let risks = &document["components"]["schemas"]["risks_new"];
    assert_eq!(risks["required"], json!(["title"]), "{risks}");
    assert_eq!(
        risks["properties"]["status"]["enum"],
        json!(["draft", "approved", "retired"])
    );
    assert_eq!(
        risks["properties"]["title"]["description"],
        "What it is called."
    );
    assert_eq!(risks["additionalProperties"], false);
    assert!(risks["properties"].get("organisation_id").is_none());
}

#[tokio::test]
async fn the_administrator_makes_lists_and_revokes_tokens_of_its_own_organisation_only() {
    let api = Api::start().await;
    let member = api
        .as_a(
            "POST",
            "/v1/users",
            Some(&json!({"email": "member@a.example", "full_name": "Member", "role": "member"})),
        )
        .await;
    let member_id = member.body["id"].as_str().unwrap();
    let issued = api
        .as_a(
            "POST",
            "/v1/tokens",
            Some(&json!({"user_id": member_id, "expires_in_days": 7})),
        )
        .await;
    assert_eq!(issued.status, 201, "{issued:?}");
    let token = issued.body["token"].as_str().unwrap().to_owned();
    let token_id = issued.body["token_id"].as_str().unwrap().to_owned();

    // The member's token works, and the member (no grant) may not manage tokens.
    let own = api.call(Some(&token), "GET", "/v1/tokens", None).await;
    assert_eq!(own.status, 403, "{own:?}");
    let listed = api.as_a("GET", "/v1/tokens", None).await;
    let items = listed.body["items"].as_array().unwrap();
    assert!(items
        .iter()
        .any(|t| t["id"] == json!(token_id) && t["user_id"] == json!(member_id)));
    assert!(
        !listed.body.to_string().contains(&token),
        "secrets are never listed"
    );

    // B's administrator can neither revoke it nor make a token for A's member.
    let b_token = Some(api.b.token.expose());
    let revoke = format!("/v1/tokens/{token_id}");
    assert_eq!(api.call(b_token, "DELETE", &revoke, None).await.status, 404);
    let for_a = api
        .call(
            b_token,
            "POST",
            "/v1/tokens",
            Some(&json!({"user_id": member_id})),
        )
        .await;
    assert_eq!(
        (for_a.status, for_a.body["field"].as_str()),
        (422, None),
        "{for_a:?}"
    );
    assert_eq!(
        api.call(Some(&token), "GET", "/v1/users", None)
            .await
            .status,
        403
    );

    assert_eq!(api.as_a("DELETE", &revoke, None).await.status, 204);
    assert_eq!(
        api.call(Some(&token), "GET", "/v1/users", None)
            .await
            .status,
        401
    );
}

#[tokio::test]
async fn the_audit_log_is_paged_newest_first_filtered_and_limited_to_readable_modules() {
    let api = Api::start().await;
    let risk = api.seed_a().await;
    let risk_id = risk["id"].as_str().unwrap();
    for score in [6, 7, 8] {
        let changed = api
            .as_a(
                "PATCH",
                &format!("/v1/risks/{risk_id}"),
                Some(&json!({ "score": score })),
            )
            .await;
        assert_eq!(changed.status, 200);
    }
    let entity = format!("/v1/audit-log?entity_type=eq.risks&entity_id=eq.{risk_id}&limit=2");
    let mut actions = Vec::new();
    let mut path = entity.clone();
    loop {
        let page = api.as_a("GET", &path, None).await;
        assert_eq!(page.status, 200, "{page:?}");
        for entry in page.body["items"].as_array().unwrap() {
            actions.push(entry["action"].as_str().unwrap().to_owned());
        }
        match page.body["next_cursor"].as_str() {
            Some(cursor) => path = format!("{entity}&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(actions, ["updated", "updated", "updated", "created"]);
    let user = api.a.user;
    let filtered = api
        .as_a(
            "GET",
            &format!("/v1/audit-log?action=eq.created&module=eq.risks&user_id=eq.{user}&timestamp=gte.2000-01-01T00:00:00Z&timestamp=lt.2999-01-01T00:00:00Z"),
            None,
        )
        .await;
    assert_eq!(
        filtered.body["items"].as_array().unwrap().len(),
        1,
        "{filtered:?}"
    );

    // B sees none of A's entries, whatever it asks for.
    let b = api
        .call(
            Some(api.b.token.expose()),
            "GET",
            &format!("/v1/audit-log?entity_id=in.({risk_id},{user})"),
            None,
        )
        .await;
    assert_eq!((b.status, &b.body["items"]), (200, &json!([])), "{b:?}");

    // A member who may read the platform sees its entries, not those of the risks module.
    let member = api
        .as_a(
            "POST",
            "/v1/users",
            Some(&json!({"email": "reader@a.example", "full_name": "Reader", "role": "auditor"})),
        )
        .await;
    let member_id = member.body["id"].as_str().unwrap();
    let grant = json!({"user_id": member_id, "module": "platform", "permission": "read"});
    assert_eq!(
        api.as_a("POST", "/v1/user_permissions", Some(&grant))
            .await
            .status,
        201
    );
    let admin = api.db.admin().await;
    let token = maturion_testing::token_for(
        &admin,
        maturion_tenancy::UserId::from_uuid(member_id.parse().unwrap()),
    )
    .await
    .unwrap();
    let seen = api
        .call(
            Some(token.expose()),
            "GET",
            "/v1/audit-log?limit=1000",
            None,
        )
        .await;
    let modules: Vec<&str> = seen.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["module"].as_str().unwrap())
        .collect();
    assert!(
        modules.contains(&"platform") && !modules.contains(&"risks"),
        "{modules:?}"
    );
}

#[tokio::test]
async fn a_change_with_a_stale_etag_is_412_and_changes_nothing() {
    let api = Api::start().await;
    let risk = api.seed_a().await;
    let item = format!(
        "{}/v1/risks/{}",
        api.server.url,
        risk["id"].as_str().unwrap()
    );
    let token = api.a.token.expose();
    let read = api
        .server
        .http
        .get(&item)
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let etag = read.headers()["etag"].to_str().unwrap().to_owned();
    let patch = |etag: String, score: i32| {
        api.server
            .http
            .patch(&item)
            .bearer_auth(token)
            .header("if-match", etag)
            .json(&json!({ "score": score }))
            .send()
    };
    let changed = patch(etag.clone(), 11).await.unwrap();
    assert_eq!(changed.status().as_u16(), 200);
    let fresh = changed.headers()["etag"].to_str().unwrap().to_owned();
    assert_ne!(fresh, etag);
    let stale = patch(etag, 12).await.unwrap();
    assert_eq!(stale.status().as_u16(), 412);
    assert_eq!(
        patch("\"yesterday\"".to_owned(), 12)
            .await
            .unwrap()
            .status()
            .as_u16(),
        422
    );
    let current = api
        .as_a("GET", item.trim_start_matches(&api.server.url), None)
        .await;
    assert_eq!(current.body["score"], 11);
    assert_eq!(patch(fresh, 13).await.unwrap().status().as_u16(), 200);
    // Another organisation's row answers 404 whatever the version.
    let theirs = api
        .server
        .http
        .patch(&item)
        .bearer_auth(api.b.token.expose())
        .header("if-match", "\"2026-01-01T00:00:00+00:00\"")
        .json(&json!({ "score": 1 }))
        .send()
        .await
        .unwrap();
    assert_eq!(theirs.status().as_u16(), 404);
}

#[tokio::test]
async fn a_module_table_that_maturion_check_faults_is_not_served() {
    let db = maturion_testing::migrated_database().await;
    let admin = db.admin().await;
    maturion_testing::module_table(&admin, "incidents", "incidents")
        .await
        .unwrap();
    maturion_testing::module_table(&admin, "audits", "audits")
        .await
        .unwrap();
    // A foreign key without its index: a finding of maturion check.
    admin
        .batch_execute("DROP INDEX audits_organisation_id_owner_id_idx")
        .await
        .unwrap();
    let tenant = organisation_with_admin(&admin, "Organisation A")
        .await
        .unwrap();
    let server = RunningServer::start(&db);
    let (status, index) = server.json("/v1").await;
    assert_eq!(status, 200);
    let served: Vec<&str> = index["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert!(served.contains(&"incidents"), "{served:?}");
    assert!(!served.contains(&"audits"), "{served:?}");
    let refused = server
        .http
        .get(format!("{}/v1/audits", server.url))
        .bearer_auth(tenant.token.expose())
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status().as_u16(), 404);
}

#[tokio::test]
async fn what_the_databases_own_rules_refuse_is_a_4xx_saying_why_and_changes_nothing() {
    let api = Api::start().await;
    let (_, resources) = api.index().await;
    api.seed_a().await;
    let before = api.snapshot(api.a.organisation.as_uuid(), &resources).await;

    // A workflow's status is the server's: a new row cannot start past review.
    let reviewed = api
        .as_a(
            "POST",
            "/v1/policies",
            Some(&json!({"title": "Skipping review", "status": "pending_review"})),
        )
        .await;
    assert_eq!(
        (reviewed.status, reviewed.body["field"].as_str()),
        (422, Some("status")),
        "{reviewed:?}"
    );
    // The grantor's stamp: a grant is made in the name of the bound user, never of nobody.
    let grants = api.as_a("GET", "/v1/user_permissions", None).await;
    let grant = grants.body["items"][0]["id"].as_str().unwrap();
    let nobody = api
        .as_a(
            "PATCH",
            &format!("/v1/user_permissions/{grant}"),
            Some(&json!({"granted_by": null})),
        )
        .await;
    assert_eq!(nobody.status, 422, "{nobody:?}");
    assert_eq!(
        api.snapshot(api.a.organisation.as_uuid(), &resources).await,
        before
    );

    // Legal protection: a protected row is not deleted, not even softly.
    let protected = api
        .as_a(
            "POST",
            "/v1/policies",
            Some(&json!({"title": "Held", "content": "Kept.", "language": "en", "is_legally_protected": true})),
        )
        .await;
    assert_eq!(protected.status, 201, "{protected:?}");
    let item = format!("/v1/policies/{}", protected.body["id"].as_str().unwrap());
    let deleted = api.as_a("DELETE", &item, None).await;
    assert_eq!(deleted.status, 409, "{deleted:?}");
    assert!(
        deleted.body["detail"]
            .as_str()
            .unwrap()
            .contains("legally protected"),
        "{deleted:?}"
    );
    let still = api.as_a("GET", &item, None).await;
    assert_eq!(
        (still.status, &still.body["deleted_at"]),
        (200, &Value::Null),
        "{still:?}"
    );
}
