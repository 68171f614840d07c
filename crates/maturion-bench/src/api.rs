//! The HTTP API against pgbench: the real server (`maturion serve`, a child process given by
//! path, so that its memory is its own) on a scratch database with the reference module
//! `policies`, loaded by 10 concurrent connections for a fixed time per scenario, and pgbench
//! running the same transactions in the same run. pgbench's scripts are built from
//! maturion-api's own statement builder, the values the API binds written in as literals.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use maturion_api::{ListQuery, Resource, PERMISSIONS_OF_BOUND_USER};
use maturion_config::DatabaseTarget;
use maturion_schema::APP_ROLE;
use rand::seq::SliceRandom;
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use uuid::Uuid;

use crate::bar;
use crate::scratch::Scratch;

const BENCH_DATABASE: &str = "maturion_bench_api";
const BAR: &str = "{msg:>20} [{bar:40}] {pos}/{len} {eta}";
const RESOURCE: &str = "policies";
/// pgbench picks one of at most 128 scripts per transaction; the GET samples stay below that.
const GET_SAMPLES: usize = 100;
const LIST_LIMIT: i64 = 100;
const GET_GOAL: f64 = 0.8;
const GET_P99_GOAL_MS: f64 = 5.0;
const CREATE_GOAL: f64 = 0.6;
const MEMORY_GOAL_MB: f64 = 100.0;
const STARTUP_GOAL_S: f64 = 1.0;
const READY_WAIT: Duration = Duration::from_secs(60);

#[derive(Debug, Clone)]
pub struct Options {
    pub organisations: usize,
    /// Policies per organisation.
    pub policies: usize,
    /// Length of each timed run (API and pgbench alike).
    pub seconds: f64,
    /// Concurrent connections of the load generator and of pgbench.
    pub connections: usize,
    /// The `maturion` executable the server runs from.
    pub server_program: PathBuf,
}

/// One request and the same transaction for pgbench.
struct Case {
    token: String,
    method: reqwest::Method,
    path: String,
    body: Option<String>,
    /// The statement the API runs for it, with the values written in.
    sql: String,
}

struct Throughput {
    per_second: f64,
    p50_ms: Option<f64>,
    p99_ms: Option<f64>,
}

pub async fn run(server: &DatabaseTarget, options: &Options) -> Result<()> {
    ensure!(
        options.organisations > 0 && options.policies > 0 && options.connections > 0,
        "organisations, policies and connections must be positive"
    );
    ensure!(options.seconds >= 1.0, "--seconds must be at least 1");
    let scratch = Scratch::create(server, BENCH_DATABASE).await?;
    let outcome = measure(&scratch, options).await;
    scratch.remove().await?;
    outcome
}

async fn measure(scratch: &Scratch, options: &Options) -> Result<()> {
    let tokens = load(scratch, options).await?;
    let resource = policies_resource(scratch).await?;
    let gets = get_cases(scratch, &resource, &tokens).await?;
    let creates = create_cases(&resource, &tokens)?;
    let lists = list_cases(&resource, &tokens)?;

    let started = Instant::now();
    let server = ServerProcess::start(&options.server_program, scratch).await?;
    let startup = started.elapsed();
    let idle_kb = server.resident_kb()?;
    let outcome = async {
        let base = server.url.clone();
        let pgbench = Pgbench::new(scratch, options)?;
        let scenarios = [
            ("GET one policy by id", &gets),
            ("create a policy", &creates),
            ("list a 100-row page", &lists),
        ];
        let mut results = Vec::new();
        for (name, cases) in scenarios {
            let api = load_api(&base, cases, options).await?;
            let mut baselines = Vec::new();
            for variant in Variant::ALL {
                baselines.push(pgbench.run(name, cases, variant).await?);
            }
            results.push((name, api, baselines));
        }
        Ok::<_, anyhow::Error>(results)
    }
    .await;
    let end_kb = server.resident_kb();
    server.stop().await;
    let results = outcome?;
    print(options, &results, startup, idle_kb, end_kb?);
    Ok(())
}

/// The organisations (each with its first user and token, through the platform's function)
/// and their policies, written by that user.
async fn load(scratch: &Scratch, options: &Options) -> Result<Vec<(Uuid, String)>> {
    let admin = &scratch.admin;
    let progress = bar(options.organisations as u64, BAR).with_message("loading policies");
    let mut tokens = Vec::with_capacity(options.organisations);
    let count = options.policies as i32;
    for n in 1..=options.organisations {
        let tenant =
            maturion_testing::organisation_with_admin(admin, &format!("Organisation {n}")).await?;
        maturion_testing::begin_as(admin, &tenant).await?;
        admin
            .execute(
                "INSERT INTO policies (organisation_id, title, content) \
                 SELECT $1::uuid, 'Policy ' || n, repeat('Clause ' || n || '. ', 20) \
                 FROM generate_series(1, $2) n",
                &[&tenant.organisation, &count],
            )
            .await?;
        admin.batch_execute("COMMIT").await?;
        tokens.push((
            tenant.organisation.as_uuid(),
            tenant.token.expose().to_owned(),
        ));
        progress.inc(1);
    }
    progress.finish_and_clear();
    admin.batch_execute("VACUUM ANALYZE policies").await?;
    Ok(tokens)
}

/// `policies` as the server serves it: from the catalog as the application role reads it.
async fn policies_resource(scratch: &Scratch) -> Result<Resource> {
    let app = scratch.target.connect_as(APP_ROLE).await?;
    let catalog = maturion_api::load(&app).await?;
    catalog
        .resource(RESOURCE)
        .cloned()
        .context("the catalog serves no policies table")
}

async fn get_cases(
    scratch: &Scratch,
    resource: &Resource,
    tokens: &[(Uuid, String)],
) -> Result<Vec<Case>> {
    let mut rng = rand::thread_rng();
    let mut cases = Vec::with_capacity(GET_SAMPLES);
    for n in 0..GET_SAMPLES {
        let (organisation, token) = &tokens[n % tokens.len()];
        let ids: Vec<Uuid> = scratch
            .admin
            .query(
                "SELECT id FROM policies WHERE organisation_id = $1",
                &[organisation],
            )
            .await?
            .iter()
            .map(|row| row.get(0))
            .collect();
        let id = *ids
            .choose(&mut rng)
            .context("an organisation has no policy")?;
        let statement = resource.select_one(id, false);
        cases.push(Case {
            token: token.clone(),
            method: reqwest::Method::GET,
            path: format!("/v1/{RESOURCE}/{id}"),
            body: None,
            sql: inline(
                &statement.sql,
                statement.params().len(),
                &[literal(&id.to_string())],
            )?,
        });
    }
    Ok(cases)
}

fn create_cases(resource: &Resource, tokens: &[(Uuid, String)]) -> Result<Vec<Case>> {
    let body = json!({ "title": "Benchmark policy", "content": "Written by the benchmark." });
    let statement = resource.insert(&body)?;
    let sql = inline(
        &statement.sql,
        statement.params().len(),
        &[format!("{}::jsonb", literal(&body.to_string()))],
    )?;
    Ok(tokens
        .iter()
        .map(|(_, token)| Case {
            token: token.clone(),
            method: reqwest::Method::POST,
            path: format!("/v1/{RESOURCE}"),
            body: Some(body.to_string()),
            sql: sql.clone(),
        })
        .collect())
}

fn list_cases(resource: &Resource, tokens: &[(Uuid, String)]) -> Result<Vec<Case>> {
    let query = ListQuery::parse(resource, &[("limit".into(), LIST_LIMIT.to_string())])?;
    let statement = resource.list(&query);
    // The API asks for one row more than the page, to tell whether another page follows.
    let sql = inline(
        &statement.sql,
        statement.params().len(),
        &[(LIST_LIMIT + 1).to_string()],
    )?;
    Ok(tokens
        .iter()
        .map(|(_, token)| Case {
            token: token.clone(),
            method: reqwest::Method::GET,
            path: format!("/v1/{RESOURCE}?limit={LIST_LIMIT}"),
            body: None,
            sql: sql.clone(),
        })
        .collect())
}

/// `sql` with its placeholders `$1…$n` replaced by `values` (the last first, so `$1` never
/// eats the start of `$10`).
fn inline(sql: &str, placeholders: usize, values: &[String]) -> Result<String> {
    ensure!(
        placeholders == values.len(),
        "the statement binds {placeholders} values, the benchmark writes in {}",
        values.len()
    );
    let mut text = sql.to_owned();
    for (n, value) in values.iter().enumerate().rev() {
        text = text.replace(&format!("${}", n + 1), value);
    }
    Ok(text)
}

fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// `maturion serve` on the scratch database, on a free port.
struct ServerProcess {
    child: Child,
    url: String,
}

impl ServerProcess {
    async fn start(program: &Path, scratch: &Scratch) -> Result<Self> {
        let app = scratch
            .target
            .url_for(APP_ROLE)
            .context("the server runs requests as maturion_app")?;
        let mut child = Command::new(program)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env("DATABASE_URL", scratch.target.admin_url().expose())
            .env("MATURION_DATABASE_APP_URL", app.expose())
            .env("MATURION_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start {}", program.display()))?;
        let stdout = child.stdout.take().context("the server's output")?;
        let mut lines = BufReader::new(stdout).lines();
        let url = tokio::time::timeout(READY_WAIT, async {
            while let Some(line) = lines.next_line().await? {
                if let Some(url) = line.strip_prefix("Maturion is serving on ") {
                    return Ok(url.trim().to_owned());
                }
            }
            bail!("the server stopped before serving")
        })
        .await
        .context("the server did not start in time")??;
        // Keeps reading, so that the server never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let client = reqwest::Client::new();
        let deadline = Instant::now() + READY_WAIT;
        loop {
            let ready = client.get(format!("{url}/readyz")).send().await;
            if ready.is_ok_and(|reply| reply.status().is_success()) {
                break;
            }
            ensure!(Instant::now() < deadline, "the server never became ready");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        Ok(ServerProcess { child, url })
    }

    /// VmRSS of /proc/PID/status, in kB.
    fn resident_kb(&self) -> Result<u64> {
        let pid = self.child.id().context("the server has exited")?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
            .context("no VmRSS in the server's /proc status")
    }

    async fn stop(mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }
}

/// A case as the load generator sends it.
struct Request {
    method: reqwest::Method,
    url: String,
    body: Option<String>,
    authorization: String,
}

/// `connections` workers, each on its own HTTP connection, sending random cases for
/// `seconds`; every reply must be a success.
async fn load_api(base: &str, cases: &[Case], options: &Options) -> Result<Throughput> {
    let requests: Arc<Vec<Request>> = Arc::new(
        cases
            .iter()
            .map(|case| Request {
                method: case.method.clone(),
                url: format!("{base}{}", case.path),
                body: case.body.clone(),
                authorization: format!("Bearer {}", case.token),
            })
            .collect(),
    );
    let duration = Duration::from_secs_f64(options.seconds);
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..options.connections {
        let requests = requests.clone();
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(1)
            .build()?;
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while started.elapsed() < duration {
                let Request {
                    method,
                    url,
                    body,
                    authorization,
                } = requests
                    .choose(&mut rand::thread_rng())
                    .expect("cases are never empty");
                let mut request = client
                    .request(method.clone(), url)
                    .header("authorization", authorization);
                if let Some(body) = body {
                    request = request
                        .header("content-type", "application/json")
                        .body(body.clone());
                }
                let sent = Instant::now();
                let reply = request.send().await?;
                let status = reply.status();
                reply.bytes().await?;
                latencies.push(sent.elapsed());
                ensure!(status.is_success(), "{method} {url} answered {status}");
            }
            Ok::<_, anyhow::Error>(latencies)
        }));
    }
    let mut latencies = Vec::new();
    for worker in workers {
        latencies.extend(worker.await??);
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort();
    let quantile = |q: f64| {
        let at = ((latencies.len() as f64 * q).ceil() as usize).clamp(1, latencies.len());
        latencies[at - 1].as_secs_f64() * 1e3
    };
    Ok(Throughput {
        per_second: latencies.len() as f64 / elapsed,
        p50_ms: Some(quantile(0.50)),
        p99_ms: Some(quantile(0.99)),
    })
}

/// Debian's pgbench as maturion_app, `-c connections -j 2 -T seconds -n` (simple query
/// protocol, its default), over the unix socket on the embedded cluster.
struct Pgbench {
    connection: Vec<String>,
    password: Option<String>,
    options: Options,
    folder: PathBuf,
}

impl Pgbench {
    fn new(scratch: &Scratch, options: &Options) -> Result<Self> {
        let config = scratch.target.config_for(APP_ROLE)?;
        let mut connection = Vec::new();
        match config.get_hosts().first() {
            #[cfg(unix)]
            Some(tokio_postgres::config::Host::Unix(folder)) => {
                connection.extend(["-h".to_owned(), folder.display().to_string()]);
            }
            Some(tokio_postgres::config::Host::Tcp(host)) => {
                connection.extend(["-h".to_owned(), host.clone()]);
            }
            None => {}
        }
        if let Some(port) = config.get_ports().first() {
            connection.extend(["-p".to_owned(), port.to_string()]);
        }
        connection.extend(["-U".to_owned(), APP_ROLE.to_owned()]);
        connection.push(config.get_dbname().unwrap_or(BENCH_DATABASE).to_owned());
        let folder =
            std::env::temp_dir().join(format!("maturion-bench-api-{}", std::process::id()));
        std::fs::create_dir_all(&folder)?;
        Ok(Pgbench {
            connection,
            password: config
                .get_password()
                .map(|p| String::from_utf8_lossy(p).into_owned()),
            options: options.clone(),
            folder,
        })
    }

    /// One script per case, picked at random per transaction.
    async fn run(&self, scenario: &str, cases: &[Case], variant: Variant) -> Result<Throughput> {
        let mut scripts = Vec::new();
        for (n, case) in cases.iter().enumerate() {
            let path = self
                .folder
                .join(format!("{}-{n}.sql", scenario.replace(' ', "-")));
            std::fs::write(&path, script(case, variant))?;
            scripts.extend(["-f".to_owned(), format!("{}@1", path.display())]);
        }
        let mut command = Command::new("pgbench");
        command
            .args(["-n", "-c", &self.options.connections.to_string()])
            // pgbench refuses more threads than clients.
            .args(["-j", &self.options.connections.min(2).to_string()])
            .args([
                "-T",
                &(self.options.seconds.round() as u64).max(1).to_string(),
            ])
            .args(["-M", variant.protocol()])
            .args(&scripts)
            .args(&self.connection)
            .kill_on_drop(true);
        if let Some(password) = &self.password {
            command.env("PGPASSWORD", password);
        }
        let output = command.output().await.context("cannot run pgbench")?;
        let report = String::from_utf8_lossy(&output.stdout);
        ensure!(
            output.status.success(),
            "pgbench failed ({scenario}): {}{}",
            report,
            String::from_utf8_lossy(&output.stderr)
        );
        let per_second = report
            .lines()
            .find_map(|line| line.strip_prefix("tps = "))
            .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
            .with_context(|| format!("no tps in pgbench's report: {report}"))?;
        Ok(Throughput {
            per_second,
            p50_ms: None,
            p99_ms: None,
        })
    }
}

impl Drop for Pgbench {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.folder);
    }
}

/// What pgbench runs for each case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Variant {
    /// The transaction as the server runs it: the binding with the request's metadata, the
    /// permissions query, the statement (pgbench's default simple protocol; goals are judged
    /// against this one).
    AsApi,
    /// The same, each statement prepared once per connection, as the server keeps the binding,
    /// the permissions query and a GET's statement prepared.
    AsApiPrepared,
    /// The binding and the statement alone.
    Bare,
}

impl Variant {
    const ALL: [Variant; 3] = [Variant::AsApi, Variant::AsApiPrepared, Variant::Bare];

    fn protocol(self) -> &'static str {
        match self {
            Variant::AsApiPrepared => "prepared",
            Variant::AsApi | Variant::Bare => "simple",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Variant::AsApi => "pgbench as the API",
            Variant::AsApiPrepared => "pgbench prepared  ",
            Variant::Bare => "pgbench bare      ",
        }
    }
}

fn script(case: &Case, variant: Variant) -> String {
    let token = literal(&case.token);
    let bind = if variant != Variant::Bare {
        format!(
            "SELECT b.organisation_id, b.user_id, set_config('app.ip_address', '127.0.0.1', true), \
             set_config('app.user_agent', '', true) FROM maturion.bind_tenant({token}) b;\n{PERMISSIONS_OF_BOUND_USER};"
        )
    } else {
        format!("SELECT maturion.bind_tenant({token});")
    };
    format!("BEGIN;\n{bind}\n{};\nCOMMIT;\n", case.sql)
}

/// A scenario's name, the API's figures and pgbench's, in the order of [`Variant::ALL`].
type Scenario<'a> = (&'a str, Throughput, Vec<Throughput>);

fn print(options: &Options, results: &[Scenario], startup: Duration, idle_kb: u64, end_kb: u64) {
    println!();
    println!(
        "HTTP API (maturion serve, child process) against pgbench, {} organisations × {} policies, {} connections, {} s per run",
        options.organisations, options.policies, options.connections, options.seconds
    );
    println!("  pgbench as the API: BEGIN; bind_tenant + set_config (address, agent); the permissions query; the API's statement; COMMIT");
    println!("  pgbench prepared:   the same with -M prepared (the server keeps the binding, the permissions query and a GET prepared)");
    println!("  pgbench bare:       BEGIN; bind_tenant; the API's statement; COMMIT");
    for (name, api, baselines) in results {
        let goal = match *name {
            "GET one policy by id" => Some(GET_GOAL),
            "create a policy" => Some(CREATE_GOAL),
            _ => None,
        };
        println!("  {name}:");
        println!(
            "    API {:>9.1} req/s  p50 {:.2} ms  p99 {:.2} ms",
            api.per_second,
            api.p50_ms.unwrap_or_default(),
            api.p99_ms.unwrap_or_default()
        );
        for (variant, baseline) in Variant::ALL.iter().zip(baselines) {
            let ratio = api.per_second / baseline.per_second;
            let verdict = match goal {
                Some(goal) if *variant == Variant::AsApi => {
                    format!(" ({} goal ≥{goal}x)", meets(ratio >= goal))
                }
                _ => String::new(),
            };
            println!(
                "    {} {:>9.1} tps | ratio {ratio:.3}x{verdict}",
                variant.label(),
                baseline.per_second
            );
        }
        if goal == Some(GET_GOAL) {
            let p99 = api.p99_ms.unwrap_or_default();
            println!(
                "    p99 {p99:.2} ms ({} goal ≤{GET_P99_GOAL_MS} ms)",
                meets(p99 <= GET_P99_GOAL_MS)
            );
        }
    }
    let startup = startup.as_secs_f64();
    println!(
        "  start-up to a ready /readyz on the migrated database: {startup:.3} s ({} goal ≤{STARTUP_GOAL_S} s)",
        meets(startup <= STARTUP_GOAL_S)
    );
    for (when, kb) in [("idle", idle_kb), ("after the run", end_kb)] {
        let mb = kb as f64 / 1024.0;
        println!(
            "  server resident memory (VmRSS of the child) {when}: {mb:.1} MB ({} goal ≤{MEMORY_GOAL_MB} MB)",
            meets(mb <= MEMORY_GOAL_MB)
        );
    }
}

fn meets(yes: bool) -> &'static str {
    if yes {
        "meets"
    } else {
        "misses"
    }
}
