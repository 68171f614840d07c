//! `maturion serve` over HTTP, started as operators start it, against a test database.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use maturion_testing::TestDatabase;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::{maturion, maturion_command, stderr};

/// A running `maturion serve` on a free port; killed when dropped.
pub struct RunningServer {
    child: Option<Child>,
    /// The rest of its stdout, read as it comes so that the server never blocks on the pipe.
    stdout: Option<JoinHandle<Vec<String>>>,
    /// Its stderr (the log) so far, read as it comes for the same reason.
    stderr: Arc<Mutex<Vec<u8>>>,
    stderr_reader: Option<JoinHandle<()>>,
    pub url: String,
    pub http: reqwest::Client,
}

impl RunningServer {
    /// Serves `db` as an external server, the application role logging in with its own URL.
    pub fn start(db: &TestDatabase) -> Self {
        Self::start_with(db, &[])
    }

    /// As [`RunningServer::start`], with these settings (`MATURION_*` variables) too.
    pub fn start_with(db: &TestDatabase, settings: &[(&str, &str)]) -> Self {
        let mut command = maturion_command(&["serve", "--listen", "127.0.0.1:0"]);
        command
            .env("DATABASE_URL", db.url("postgres"))
            .env("MATURION_DATABASE_APP_URL", db.url("maturion_app"))
            .envs(settings.iter().copied());
        Self::spawn(command)
    }

    /// The status and content type of the answer to a POST that announces a body over the
    /// limit and sends none of it: the server must answer from the announced length alone,
    /// before reading anything. (Sending the body would race the server's early answer and
    /// close: a broken pipe, more often the busier the machine.)
    pub async fn post_oversize(&self, path: &str, token: Option<&str>) -> (u16, String) {
        let address = self.url.strip_prefix("http://").expect("plain HTTP");
        let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
        let authorization = token
            .map(|token| format!("Authorization: Bearer {token}\r\n"))
            .unwrap_or_default();
        let request = format!(
            "POST {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\n{authorization}\r\n",
            3 * 1024 * 1024
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut head = Vec::new();
        let mut buffer = [0; 4096];
        while !head.windows(4).any(|window| window == b"\r\n\r\n") {
            let read = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buffer))
                .await
                .expect("an answer before any of the body is sent")
                .unwrap();
            assert!(read > 0, "closed without an answer");
            head.extend_from_slice(&buffer[..read]);
        }
        let head = String::from_utf8_lossy(&head).to_lowercase();
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|code| code.parse().ok())
            .expect("a status line");
        let content_type = head
            .lines()
            .find_map(|line| line.strip_prefix("content-type:"))
            .unwrap_or_default()
            .trim()
            .to_owned();
        (status, content_type)
    }

    /// Runs `command`, a `maturion` that serves, and waits until it says where.
    pub fn spawn(mut command: Command) -> Self {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("maturion serve starts");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = lines.next().and_then(Result::ok).unwrap_or_default();
        let url = first
            .strip_prefix("Maturion is serving on ")
            .unwrap_or_else(|| panic!("unexpected first line {first:?}"))
            .to_owned();
        let stdout = std::thread::spawn(move || lines.map_while(Result::ok).collect());
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let mut pipe = child.stderr.take().unwrap();
        let sink = Arc::clone(&stderr);
        let stderr_reader = std::thread::spawn(move || {
            let mut buffer = [0; 8192];
            while let Ok(read @ 1..) = pipe.read(&mut buffer) {
                sink.lock().unwrap().extend_from_slice(&buffer[..read]);
            }
        });
        RunningServer {
            child: Some(child),
            stdout: Some(stdout),
            stderr,
            stderr_reader: Some(stderr_reader),
            url,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap(),
        }
    }

    /// What the server has logged so far.
    pub fn log(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().unwrap()).into_owned()
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.url))
            .send()
            .await
            .unwrap()
    }

    pub async fn json(&self, path: &str) -> (u16, Value) {
        let response = self.get(path).await;
        let status = response.status().as_u16();
        (status, response.json().await.unwrap())
    }

    /// `/readyz` once the first run of the periodic job (started at once) has finished.
    pub async fn ready(&self) -> (u16, Value) {
        for _ in 0..100 {
            let readiness = self.json("/readyz").await;
            if readiness.1["checks"]["maintenance"]["outcome"].is_string() {
                return readiness;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "the periodic job never reported: {:?}",
            self.json("/readyz").await
        )
    }

    /// What a service manager does: SIGTERM, then wait for the exit.
    pub fn terminate(mut self) -> Output {
        let child = self.child.take().unwrap();
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        let mut output = child.wait_with_output().unwrap();
        let lines = self.stdout.take().unwrap().join().unwrap();
        output.stdout = lines.join("\n").into_bytes();
        self.stderr_reader.take().unwrap().join().unwrap();
        output.stderr = self.log().into_bytes();
        output
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[tokio::test]
async fn a_migrated_database_is_served_ready_with_metrics_by_route_template() {
    let db = maturion_testing::migrated_database().await;
    let server = RunningServer::start(&db);

    let (status, health) = server.json("/healthz").await;
    assert_eq!((status, health["status"].as_str()), (200, Some("ok")));

    let (status, ready) = server.ready().await;
    assert_eq!(status, 200, "{ready}");
    assert_eq!(
        ready["checks"]["maintenance"]["outcome"], "succeeded",
        "{ready}"
    );

    let missing = server.get("/v1/no-such-thing/123").await;
    assert_eq!(missing.status().as_u16(), 404);
    assert!(missing.headers().contains_key("x-request-id"));
    assert_eq!(
        missing.headers()["content-type"],
        "application/problem+json"
    );

    let metrics = server.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains(r#"http_requests_total{method="GET",route="/readyz",status="200"}"#),
        "{metrics}"
    );
    assert!(
        !metrics.contains("no-such-thing"),
        "raw paths never become labels: {metrics}"
    );
    assert!(
        metrics.contains(r#"maturion_job_runs_total{job="maintenance",outcome="succeeded"} 1"#),
        "{metrics}"
    );

    let stopped = server.terminate();
    assert!(stopped.status.success(), "{}", stderr(&stopped));
}

#[tokio::test]
async fn an_oversize_body_is_refused_before_it_is_read() {
    let db = maturion_testing::migrated_database().await;
    let server = RunningServer::start(&db);
    let (status, _) = server.post_oversize("/healthz", None).await;
    assert_eq!(status, 413);
}

#[tokio::test]
async fn a_database_behind_this_build_is_served_but_not_ready() {
    let db = maturion_testing::fresh_database().await;
    let server = RunningServer::start(&db);
    let (status, readiness) = server.json("/readyz").await;
    assert_eq!(status, 503, "{readiness}");
    assert_eq!(
        readiness["checks"]["migrations"]["ok"], false,
        "{readiness}"
    );
    assert!(
        readiness["checks"]["migrations"]["pending"]
            .as_array()
            .is_some_and(|pending| !pending.is_empty()),
        "{readiness}"
    );
}

#[tokio::test]
async fn an_external_server_without_the_application_url_is_refused() {
    let db = maturion_testing::migrated_database().await;
    let output = maturion(
        &["serve", "--listen", "127.0.0.1:0"],
        None,
        Some(&db.url("postgres")),
    );
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("maturion_app"),
        "{}",
        stderr(&output)
    );
}
