//! `/v1/events` over HTTP: publishing through the platform, the organisation's listing and its
//! live stream (Server-Sent Events), each only ever of the caller's organisation and of the
//! modules the caller may read; the stream's resumption, its end at shutdown, and that open
//! streams hold no database connection.

use std::time::Duration;

use maturion_testing::{organisation_with_admin, Tenant, TestDatabase};
use serde_json::{json, Value};
use tokio::task::JoinHandle;

use crate::server::RunningServer;

struct Bus {
    db: TestDatabase,
    server: RunningServer,
    a: Tenant,
    b: Tenant,
}

impl Bus {
    async fn start() -> Bus {
        let db = maturion_testing::migrated_database().await;
        let admin = db.admin().await;
        maturion_testing::module_table(&admin, "risks", "risks")
            .await
            .unwrap();
        let a = organisation_with_admin(&admin, "Organisation A")
            .await
            .unwrap();
        let b = organisation_with_admin(&admin, "Organisation B")
            .await
            .unwrap();
        let server = RunningServer::start(&db);
        let (status, readiness) = server.ready().await;
        assert_eq!(status, 200, "{readiness}");
        Bus { db, server, a, b }
    }

    async fn call(
        &self,
        token: &str,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self
            .server
            .http
            .request(method, format!("{}{path}", self.server.url))
            .bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        assert!(status < 500, "{path}: {status} {text}");
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    async fn publish(&self, tenant: &Tenant, event_type: &str, module: &str) -> Value {
        let body = json!({"event_type": event_type, "source_module": module, "payload": {"n": 1}});
        let (status, event) = self
            .call(tenant.token.expose(), "POST", "/v1/events", Some(body))
            .await;
        assert_eq!(status, 201, "{event}");
        event
    }

    /// A stream read in the background for `duration` once its response has begun (so it
    /// follows from a known moment): its status and text.
    async fn follow(
        &self,
        token: &str,
        path: &str,
        last_event_id: Option<&str>,
        duration: Duration,
    ) -> JoinHandle<(u16, String)> {
        let mut request = self
            .server
            .http
            .get(format!("{}{path}", self.server.url))
            .bearer_auth(token)
            .timeout(duration + Duration::from_secs(10));
        if let Some(id) = last_event_id {
            request = request.header("last-event-id", id);
        }
        let mut response = request.send().await.unwrap();
        tokio::spawn(async move {
            let status = response.status().as_u16();
            let deadline = tokio::time::Instant::now() + duration;
            let mut text = Vec::new();
            while let Ok(Ok(Some(chunk))) =
                tokio::time::timeout_at(deadline, response.chunk()).await
            {
                text.extend_from_slice(&chunk);
            }
            (status, String::from_utf8(text).unwrap())
        })
    }
}

/// Each event of a stream's text: its id and its data as JSON (or the named event's data).
fn events_of(text: &str) -> Vec<(String, Value)> {
    let mut events = Vec::new();
    for block in text.split("\n\n") {
        let field = |name: &str| {
            block
                .lines()
                .find_map(|line| line.strip_prefix(name))
                .map(|value| value.trim().to_owned())
        };
        if let (Some(id), Some(data)) = (field("id:"), field("data:")) {
            events.push((id, serde_json::from_str(&data).unwrap()));
        }
    }
    events
}

/// Now as an event key's timestamp.
fn since_now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

fn ids(events: &[(String, Value)]) -> Vec<String> {
    events
        .iter()
        .map(|(_, event)| event["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn events_are_published_listed_and_streamed_for_the_callers_organisation_only() {
    let bus = Bus::start().await;
    let (a, b) = (bus.a.token.expose(), bus.b.token.expose());
    let window = Duration::from_secs(4);
    let a_stream = bus.follow(a, "/v1/events/stream", None, window).await;
    let b_stream = bus.follow(b, "/v1/events/stream", None, window).await;
    let a_risks = bus
        .follow(a, "/v1/events/stream?type=risk.*", None, window)
        .await;

    let first = bus.publish(&bus.a, "risk.created", "risks").await;
    let second = bus.publish(&bus.a, "policy.approved", "policies").await;
    let theirs = bus.publish(&bus.b, "risk.created", "risks").await;
    let third = bus.publish(&bus.a, "risk.closed", "risks").await;
    // The database, not the body, says whose and by whom.
    assert_eq!(
        first["organisation_id"],
        json!(bus.a.organisation.to_string())
    );
    assert_eq!(first["published_by"], json!(bus.a.user.to_string()));
    assert!(first.get("transaction_id").is_none(), "{first}");

    let (status, text) = a_stream.await.unwrap();
    assert_eq!(status, 200);
    let streamed = events_of(&text);
    assert_eq!(
        ids(&streamed),
        [&first["id"], &second["id"], &third["id"]].map(|id| id.as_str().unwrap().to_owned()),
        "{text}"
    );
    let (_, text) = b_stream.await.unwrap();
    assert_eq!(
        ids(&events_of(&text)),
        [theirs["id"].as_str().unwrap()],
        "{text}"
    );
    let (_, text) = a_risks.await.unwrap();
    assert_eq!(
        ids(&events_of(&text)),
        [&first["id"], &third["id"]].map(|id| id.as_str().unwrap().to_owned()),
        "{text}"
    );

    // A reconnecting client resumes after the last event it saw, by its SSE id.
    let resumed = bus
        .follow(
            a,
            "/v1/events/stream",
            Some(&streamed[0].0),
            Duration::from_secs(2),
        )
        .await;
    let (_, text) = resumed.await.unwrap();
    assert_eq!(
        ids(&events_of(&text)),
        [&second["id"], &third["id"]].map(|id| id.as_str().unwrap().to_owned())
    );

    // No position of the bus in what a client sees; A's key is nothing to B.
    assert!(streamed
        .iter()
        .all(|(_, event)| event.get("position").is_none()));
    let (status, refused) = bus
        .call(
            b,
            "GET",
            &format!(
                "/v1/events/stream?after={}",
                streamed[0].0.replace('+', "%2B")
            ),
            None,
        )
        .await;
    let made_up = format!("{}/{}", since_now(), uuid::Uuid::now_v7());
    let (_, nobodys) = bus
        .call(
            b,
            "GET",
            &format!("/v1/events/stream?after={made_up}"),
            None,
        )
        .await;
    assert_eq!((status, &refused), (410, &nobodys));

    // The listing: newest first, in pages, filtered; B's event nowhere.
    let mut listed = Vec::new();
    let mut path = "/v1/events?limit=2".to_owned();
    loop {
        let (status, page) = bus.call(a, "GET", &path, None).await;
        assert_eq!(status, 200, "{page}");
        listed.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["id"].clone()),
        );
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/v1/events?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(
        listed,
        [&third["id"], &second["id"], &first["id"]].map(Value::clone)
    );
    let since = first["timestamp"].as_str().unwrap();
    let (_, filtered) = bus
        .call(
            a,
            "GET",
            &format!(
                "/v1/events?event_type=in.(risk.created,risk.closed)&timestamp=gte.{}",
                since.replace('+', "%2B")
            ),
            None,
        )
        .await;
    let types: Vec<&str> = filtered["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event_type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["risk.closed", "risk.created"], "{filtered}");
}

#[tokio::test]
async fn a_published_event_names_nothing_the_server_sets_and_nothing_of_the_platform() {
    let bus = Bus::start().await;
    let a = bus.a.token.expose();
    let admin = bus.db.admin().await;
    let count = async || -> i64 {
        admin
            .query_one("SELECT count(*) FROM event_log", &[])
            .await
            .unwrap()
            .get(0)
    };
    let before = count().await;
    for (body, field) in [
        (
            json!({"event_type": "risk.created", "source_module": "risks", "organisation_id": bus.b.organisation.to_string()}),
            "organisation_id",
        ),
        (
            json!({"event_type": "risk.created", "source_module": "risks", "published_by": bus.b.user.to_string()}),
            "published_by",
        ),
        (
            json!({"event_type": "risk.created", "source_module": "risks", "timestamp": "2020-01-01T00:00:00Z"}),
            "timestamp",
        ),
        (
            json!({"event_type": "permission.granted", "source_module": "risks"}),
            "event_type",
        ),
        (
            json!({"event_type": "risk.created", "source_module": "platform"}),
            "source_module",
        ),
        (
            json!({"event_type": "Risk Created", "source_module": "risks"}),
            "event_type",
        ),
        (json!({"event_type": "risk.created"}), "source_module"),
        (
            json!({"event_type": "risk.created", "source_module": "risks", "colour": "red"}),
            "colour",
        ),
    ] {
        let (status, problem) = bus.call(a, "POST", "/v1/events", Some(body)).await;
        assert_eq!(
            (status, problem["field"].as_str()),
            (422, Some(field)),
            "{problem}"
        );
    }
    let (status, _) = bus.call(a, "GET", "/v1/events/stream?after=-1", None).await;
    assert_eq!(status, 400);
    let (status, _) = bus
        .call(a, "GET", "/v1/events/stream?type=risk", None)
        .await;
    assert_eq!(status, 400);
    assert_eq!(count().await, before, "a refused event is not published");
}

#[tokio::test]
async fn a_member_reads_and_publishes_the_events_of_the_modules_granted_only() {
    let bus = Bus::start().await;
    let a = bus.a.token.expose();
    bus.publish(&bus.a, "risk.created", "risks").await;
    bus.publish(&bus.a, "policy.approved", "policies").await;
    let (_, member) = bus
        .call(
            a,
            "POST",
            "/v1/users",
            Some(json!({"email": "member@a.example", "full_name": "Member", "role": "member"})),
        )
        .await;
    let member_id = member["id"].as_str().unwrap().to_owned();
    for (module, permission) in [("platform", "write"), ("risks", "read")] {
        let grant = json!({"user_id": member_id, "module": module, "permission": permission});
        let (status, granted) = bus
            .call(a, "POST", "/v1/user_permissions", Some(grant))
            .await;
        assert_eq!(status, 201, "{granted}");
    }
    let admin = bus.db.admin().await;
    let token = maturion_testing::token_for(
        &admin,
        maturion_tenancy::UserId::from_uuid(member_id.parse().unwrap()),
    )
    .await
    .unwrap();
    let token = token.expose();

    let (_, listed) = bus.call(token, "GET", "/v1/events?limit=1000", None).await;
    let modules: Vec<&str> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["source_module"].as_str().unwrap())
        .collect();
    assert!(
        modules.contains(&"risks") && !modules.contains(&"policies"),
        "{listed}"
    );
    let (_, text) = bus
        .follow(
            token,
            "/v1/events/stream?after=0",
            None,
            Duration::from_secs(2),
        )
        .await
        .await
        .unwrap();
    let streamed: Vec<String> = events_of(&text)
        .iter()
        .map(|(_, e)| e["source_module"].as_str().unwrap().to_owned())
        .collect();
    assert!(streamed.contains(&"risks".to_owned()), "{text}");
    assert!(!streamed.contains(&"policies".to_owned()), "{text}");

    let publish = |module: &str| json!({"event_type": "risk.created", "source_module": module});
    let (status, _) = bus
        .call(token, "POST", "/v1/events", Some(publish("risks")))
        .await;
    assert_eq!(status, 403, "read on risks does not publish its events");
    let (status, _) = bus
        .call(token, "POST", "/v1/events", Some(publish("policies")))
        .await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn open_streams_hold_no_connection_and_end_when_the_server_stops() {
    let bus = Bus::start().await;
    let a = bus.a.token.expose();
    // More streams than the pool has connections (16), for longer than the test runs.
    let streams = futures_util::future::join_all(
        (0..24).map(|_| bus.follow(a, "/v1/events/stream", None, Duration::from_secs(60))),
    )
    .await;
    let started = std::time::Instant::now();
    let (status, _) = bus.call(a, "GET", "/v1/users", None).await;
    assert_eq!(status, 200);
    let published = bus.publish(&bus.a, "risk.created", "risks").await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    tokio::time::sleep(Duration::from_secs(2)).await;

    let stopping = std::time::Instant::now();
    let stopped = tokio::task::spawn_blocking(move || bus.server.terminate())
        .await
        .unwrap();
    assert!(stopped.status.success(), "{}", crate::stderr(&stopped));
    assert!(
        stopping.elapsed() < Duration::from_secs(10),
        "{:?}",
        stopping.elapsed()
    );
    for stream in streams {
        let (status, text) = stream.await.unwrap();
        assert_eq!(status, 200);
        assert_eq!(
            ids(&events_of(&text)),
            [published["id"].as_str().unwrap()],
            "{text}"
        );
    }
}

/// The value of the sample `name` in a Prometheus text.
fn sample(metrics: &str, name: &str) -> Option<f64> {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(name)?.trim().parse().ok())
}

#[tokio::test]
async fn the_server_delivers_the_platforms_subscription_and_reports_every_backlog() {
    let bus = Bus::start().await;
    let maintenance = bus.db.admin().await;
    maintenance
        .batch_execute("SET ROLE maturion_maintenance")
        .await
        .unwrap();
    let module_subscription = maturion_events::Subscription::new("risks.notify_owner", &["risk.*"]);
    maturion_events::subscribe(&maintenance, &module_subscription)
        .await
        .unwrap();
    bus.publish(&bus.a, "risk.created", "risks").await;
    let grant = json!({"user_id": bus.a.user.to_string(), "module": "risks", "permission": "read"});
    let (status, _) = bus
        .call(
            bus.a.token.expose(),
            "POST",
            "/v1/user_permissions",
            Some(grant),
        )
        .await;
    assert_eq!(status, 201);

    let platform = r#"maturion_event_backlog_commits{subscription="platform.permission_log"}"#;
    let module = r#"maturion_event_backlog_commits{subscription="risks.notify_owner"}"#;
    let mut metrics = String::new();
    for _ in 0..100 {
        metrics = bus.server.get("/metrics").await.text().await.unwrap();
        if sample(&metrics, platform) == Some(0.0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(sample(&metrics, platform), Some(0.0), "{metrics}");
    // A module's subscription is its own process's to consume: its work waits.
    assert_eq!(sample(&metrics, module), Some(2.0), "{metrics}");
    assert_eq!(
        sample(
            &metrics,
            r#"maturion_event_dead_letters{subscription="platform.permission_log"}"#
        ),
        Some(0.0),
        "{metrics}"
    );
    let processed: bool = bus
        .db
        .admin()
        .await
        .query_one(
            "SELECT processed_at IS NOT NULL FROM event_log WHERE event_type = 'permission.granted'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(
        processed,
        "the server's worker delivered the permission event"
    );

    let stopped = tokio::task::spawn_blocking(move || bus.server.terminate())
        .await
        .unwrap();
    assert!(stopped.status.success(), "{}", crate::stderr(&stopped));
}
