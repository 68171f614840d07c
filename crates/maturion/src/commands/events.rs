//! `maturion events …`: follow the event bus, inspect and replay dead letters.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Result;
use clap::{Args, Subcommand, ValueEnum};
use maturion_config::DatabaseTarget;
use maturion_events::{Event, Tail, TailFilter};
use maturion_tenancy::OrganisationId;
use uuid::Uuid;

use crate::printable::printable;

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
    #[arg(long, value_parser = crate::flags::positive)]
    pub limit: Option<usize>,
    /// Print what is there now (with --from-beginning: the whole log) and exit.
    #[arg(long)]
    pub once: bool,
    /// Exit after this long without a new event: 30s, 500ms, 2m, or plain seconds.
    #[arg(long, value_name = "DURATION", value_parser = crate::flags::duration,
          allow_hyphen_values = true)]
    pub timeout: Option<Duration>,
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
    let mut tail = Tail::start(&target.admin_url(), &filter, args.from_beginning).await?;
    let mut printed = 0;
    let mut last_event = Instant::now();
    let outcome = async {
        loop {
            let events = if args.once {
                tail.poll().await?
            } else {
                let wait = args.timeout.map_or(Duration::from_secs(1), |t| {
                    t.saturating_sub(last_event.elapsed())
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
            for item in &events {
                match item {
                    Ok((event, committed_at)) => print_event(event, committed_at, args.format)?,
                    // A row no event can hold: said on stderr, and the tail goes on.
                    Err(undecodable) => eprintln!("error: {}", printable(&undecodable.to_string())),
                }
                printed += 1;
                if args.limit.is_some_and(|limit| printed >= limit) {
                    return Ok(());
                }
            }
            if args.once || args.timeout.is_some_and(|t| last_event.elapsed() >= t) {
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
            let line = format!(
                "{} {} #{} {} from {}{source}{payload}",
                committed_at.format("%Y-%m-%dT%H:%M:%S%.3fZ"),
                event.organisation_id,
                event.position,
                event.event_type,
                event.source_module,
            );
            println!("{}", printable(&line));
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
            OutputFormat::Line => {
                let line = format!(
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
                );
                println!("{}", printable(&line));
            }
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
