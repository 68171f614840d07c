//! `maturion events …`: follow the event bus, inspect and replay dead letters; and the
//! `maturion bench events` benchmark.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Result;
use clap::{Args, Subcommand, ValueEnum};
use maturion_config::DatabaseTarget;
use maturion_events::bench::BenchOptions;
use maturion_events::{Event, Tail, TailFilter};
use maturion_tenancy::OrganisationId;
use uuid::Uuid;

#[derive(Debug, Subcommand)]
pub enum EventsCommand {
    /// Follow events as they commit, one line (or JSON object) per event, every organisation's
    /// in commit order. Runs until interrupted unless --limit, --once or --timeout says otherwise.
    Tail(TailArgs),
    /// List dead letters: deliveries a subscription gave up on after its retries.
    DeadLetters {
        /// Only this subscription's.
        #[arg(long)]
        subscription: Option<String>,
        /// Include dead letters already replayed.
        #[arg(long)]
        all: bool,
        #[arg(long, value_enum, default_value_t = OutputFormat::Line)]
        format: OutputFormat,
    },
    /// Queue a dead letter (by its id, from dead-letters) for redelivery by its subscription.
    Replay { id: Uuid },
}

#[derive(Debug, Args)]
pub struct TailArgs {
    /// Event type, prefix (risk.*) or *; repeat for several. Default: all.
    #[arg(long = "type", value_name = "TYPE")]
    pub types: Vec<String>,
    /// Only this organisation's events.
    #[arg(long, value_name = "ID")]
    pub organisation: Option<String>,
    /// Start with every event still in the log instead of those committed from now on.
    #[arg(long)]
    pub from_beginning: bool,
    /// Exit after this many events.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Print what is there now (with --from-beginning: the whole log) and exit.
    #[arg(long)]
    pub once: bool,
    /// Exit after this many seconds without a new event.
    #[arg(long, value_name = "SECONDS")]
    pub timeout: Option<f64>,
    #[arg(long, value_enum, default_value_t = OutputFormat::Line)]
    pub format: OutputFormat,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum OutputFormat {
    /// One readable line per item.
    Line,
    /// One JSON object per line.
    Json,
}

/// `maturion bench events`: publish→consume throughput and latency against graphile-worker,
/// and what a NOTIFY per publishing transaction costs.
#[derive(Debug, Args)]
pub struct EventsBenchArgs {
    #[arg(long, default_value_t = 16)]
    pub organisations: usize,
    /// Concurrent publishing connections (both systems).
    #[arg(long, default_value_t = 8)]
    pub publishers: usize,
    /// Events of the run with one event per transaction.
    #[arg(long, default_value_t = 10_000)]
    pub events_single: usize,
    /// Events of the run with 100 events per transaction.
    #[arg(long, default_value_t = 50_000)]
    pub events_batched: usize,
    /// Bus worker counts to try.
    #[arg(long, value_delimiter = ',', default_values_t = [2, 4])]
    pub workers: Vec<usize>,
    /// graphile-worker concurrency levels to try (local queue enabled).
    #[arg(long, value_delimiter = ',', default_values_t = [4, 16, 64])]
    pub graphile_concurrency: Vec<usize>,
    /// Scratch folder graphile-worker is installed into with npm (never committed).
    #[arg(long, default_value = "target/bench-node")]
    pub node_dir: PathBuf,
    /// Run the bus alone, without the graphile-worker baseline (no Node needed).
    #[arg(long)]
    pub skip_graphile: bool,
    /// Length of each steady-rate latency run.
    #[arg(long, default_value_t = 5.0)]
    pub latency_seconds: f64,
    /// Length of each NOTIFY measurement.
    #[arg(long, default_value_t = 5.0)]
    pub notify_seconds: f64,
    /// Alternating runs of both systems at their best configuration (medians compared).
    #[arg(long, default_value_t = 3)]
    pub repeats: usize,
}

const BENCH_DATABASE: &str = "maturion_bench_events";

pub async fn run(target: &DatabaseTarget, command: EventsCommand) -> Result<ExitCode> {
    match command {
        EventsCommand::Tail(args) => tail(target, args).await,
        EventsCommand::DeadLetters {
            subscription,
            all,
            format,
        } => dead_letters(target, subscription, all, format).await,
        EventsCommand::Replay { id } => replay(target, id).await,
    }
}

async fn tail(target: &DatabaseTarget, args: TailArgs) -> Result<ExitCode> {
    let organisation_id = args
        .organisation
        .as_deref()
        .map(str::parse::<OrganisationId>)
        .transpose()?;
    let filter = TailFilter {
        event_types: args.types,
        organisation_id,
    };
    // The bus opens its own LISTEN connection with the administrator's settings.
    target.ensure_running().await?;
    let mut tail = Tail::start(&target.admin_config(), &filter, args.from_beginning).await?;
    let mut printed = 0;
    let mut last_event = Instant::now();
    let outcome = async {
        loop {
            let events = if args.once {
                tail.poll().await?
            } else {
                let wait = args.timeout.map_or(Duration::from_secs(1), |t| {
                    Duration::from_secs_f64(t)
                        .saturating_sub(last_event.elapsed())
                        .max(Duration::from_millis(1))
                });
                tokio::select! {
                    events = tail.next(wait) => events?,
                    _ = tokio::signal::ctrl_c() => return anyhow::Ok(()),
                }
            };
            if !events.is_empty() {
                last_event = Instant::now();
            }
            for (event, committed_at) in &events {
                print_event(event, committed_at, args.format)?;
                printed += 1;
                if args.limit.is_some_and(|limit| printed >= limit) {
                    return Ok(());
                }
            }
            if args.once
                || args
                    .timeout
                    .is_some_and(|t| last_event.elapsed().as_secs_f64() >= t)
            {
                return Ok(());
            }
        }
    }
    .await;
    tail.close().await?;
    outcome?;
    Ok(ExitCode::SUCCESS)
}

fn print_event(
    event: &Event,
    committed_at: &chrono::DateTime<chrono::Utc>,
    format: OutputFormat,
) -> Result<()> {
    match format {
        OutputFormat::Json => {
            let mut value = serde_json::to_value(event)?;
            value["committed_at"] = serde_json::json!(committed_at);
            println!("{value}");
        }
        OutputFormat::Line => {
            let source = match (&event.source_entity_type, &event.source_entity_id) {
                (Some(kind), Some(id)) => format!(" {kind}/{id}"),
                _ => String::new(),
            };
            let payload = event
                .payload
                .as_ref()
                .map(|p| format!(" {p}"))
                .unwrap_or_default();
            println!(
                "{} {} #{} {} from {}{source}{payload}",
                committed_at.format("%Y-%m-%dT%H:%M:%S%.3fZ"),
                event.organisation_id,
                event.position,
                event.event_type,
                event.source_module,
            );
        }
    }
    Ok(())
}

async fn dead_letters(
    target: &DatabaseTarget,
    subscription: Option<String>,
    all: bool,
    format: OutputFormat,
) -> Result<ExitCode> {
    let client = maintenance(target).await?;
    let letters = maturion_events::dead_letters(&client, subscription.as_deref(), all).await?;
    for letter in &letters {
        match format {
            OutputFormat::Json => println!("{}", serde_json::to_string(letter)?),
            OutputFormat::Line => println!(
                "{} {} {} {} event {} ({}) #{} attempts {} dead {}: {}",
                letter.id,
                letter.status,
                letter.subscription,
                letter.organisation_id,
                letter.event_id,
                letter.event_type,
                letter.position,
                letter.attempts,
                letter.dead_at.format("%Y-%m-%dT%H:%M:%SZ"),
                letter.last_error.lines().next().unwrap_or_default(),
            ),
        }
    }
    if letters.is_empty() && matches!(format, OutputFormat::Line) {
        eprintln!("no dead letters");
    }
    Ok(ExitCode::SUCCESS)
}

async fn replay(target: &DatabaseTarget, id: Uuid) -> Result<ExitCode> {
    let client = maintenance(target).await?;
    if maturion_events::replay(&client, id).await? {
        println!("dead letter {id} queued for redelivery");
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("no dead letter {id} waiting for a replay (unknown, already queued or already replayed)");
        Ok(ExitCode::FAILURE)
    }
}

/// An administrator connection that has become maturion_maintenance.
async fn maintenance(target: &DatabaseTarget) -> Result<tokio_postgres::Client> {
    let client = target.admin().await?;
    client
        .batch_execute(&format!("SET ROLE {}", maturion_events::MAINTENANCE_ROLE))
        .await?;
    Ok(client)
}

/// Runs the benchmark in a scratch database laid out as in production, then drops it.
pub async fn bench(target: &DatabaseTarget, args: EventsBenchArgs) -> Result<ExitCode> {
    let (bench, admin) = super::bench::scratch_database(target, BENCH_DATABASE).await?;

    let admin_url = bench.admin_url().expose().to_owned();
    let app_url = match bench.url_for(maturion_schema::APP_ROLE) {
        Ok(url) => url.expose().to_owned(),
        Err(error) => {
            eprintln!("note: {error}; the bus's application pool logs in as the administrator");
            admin_url.clone()
        }
    };
    let mut options = BenchOptions::new(admin_url, app_url);
    options.organisations = args.organisations;
    options.publishers = args.publishers;
    options.events_single = args.events_single;
    options.events_batched = args.events_batched;
    options.workers = args.workers;
    options.graphile_concurrency = args.graphile_concurrency;
    options.node_dir = (!args.skip_graphile).then_some(args.node_dir);
    options.latency_seconds = args.latency_seconds;
    options.notify_seconds = args.notify_seconds;
    options.repeats = args.repeats;
    let outcome = maturion_events::bench::run(&options).await;
    drop(admin);
    super::bench::drop_scratch_database(target, BENCH_DATABASE).await?;
    outcome?;
    Ok(ExitCode::SUCCESS)
}
