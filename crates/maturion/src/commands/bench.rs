//! `maturion bench …`: each benchmark's arguments, run by `maturion_bench`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use maturion_bench::{api, audit, backup, binding, events, ingest, rls};
use maturion_config::DatabaseTarget;

use crate::cli::{BenchCommand, Format};

pub async fn run(server: &DatabaseTarget, command: BenchCommand) -> Result<ExitCode> {
    match command {
        BenchCommand::Rls {
            organisations,
            rows,
            iterations,
        } => {
            let options = rls::Options {
                organisations,
                rows,
                iterations,
            };
            rls::run(server, &options).await?;
        }
        BenchCommand::Binding {
            organisations,
            users,
            iterations,
        } => {
            let options = binding::Options {
                organisations,
                users,
                iterations,
            };
            binding::run(server, &options).await?;
        }
        BenchCommand::Ingest(args) => {
            ingest::run(server, &args.into()).await?;
        }
        BenchCommand::Events(args) => events::run(server, &args.into()).await?,
        BenchCommand::Audit(args) => {
            audit::run(server, &args.into()).await?;
        }
        BenchCommand::Api(args) => api::run(server, &args.try_into()?).await?,
        BenchCommand::Backup(args) => {
            let format = args.format;
            let report = backup::run(&args.into()).await?;
            match format {
                Format::Human => print!("{}", report.render()),
                Format::Json => println!("{}", serde_json::to_string_pretty(&report)?),
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Rows/s of batched inserts into the partitioned audit_log as maturion_app vs COPY into an
/// unpartitioned table without RLS.
#[derive(Debug, Args)]
pub struct IngestArgs {
    /// Rows each method writes per round.
    #[arg(long, default_value_t = 100_000, value_parser = crate::flags::positive)]
    pub rows: usize,
    /// Rows per record_views call (and per transaction) on the application side.
    #[arg(long, default_value_t = 1_000, value_parser = crate::flags::positive)]
    pub batch: usize,
    /// Rounds; each figure is the median.
    #[arg(long, default_value_t = 3, value_parser = crate::flags::positive)]
    pub rounds: usize,
    /// Application connections inserting at once (COPY stays one stream).
    #[arg(long, default_value_t = 1, value_parser = crate::flags::positive)]
    pub connections: usize,
}

impl From<IngestArgs> for ingest::Options {
    fn from(args: IngestArgs) -> Self {
        ingest::Options {
            rows: args.rows,
            batch: args.batch,
            rounds: args.rounds,
            connections: args.connections,
        }
    }
}

/// `maturion bench events`: publish→consume throughput and latency against graphile-worker,
/// and what a NOTIFY per publishing transaction costs.
#[derive(Debug, Args)]
pub struct EventsBenchArgs {
    #[arg(long, default_value_t = 16, value_parser = crate::flags::positive)]
    pub organisations: usize,
    /// Concurrent publishing connections (both systems).
    #[arg(long, default_value_t = 8, value_parser = crate::flags::positive)]
    pub publishers: usize,
    /// Events of the run with one event per transaction.
    #[arg(long, default_value_t = 10_000, value_parser = crate::flags::positive)]
    pub events_single: usize,
    /// Events of the run with 100 events per transaction.
    #[arg(long, default_value_t = 50_000, value_parser = crate::flags::positive)]
    pub events_batched: usize,
    /// Bus worker counts to try.
    #[arg(long, value_delimiter = ',', default_values_t = [2, 4],
          value_parser = crate::flags::positive)]
    pub workers: Vec<usize>,
    /// graphile-worker concurrency levels to try (local queue enabled).
    #[arg(long, value_delimiter = ',', default_values_t = [4, 16, 64],
          value_parser = crate::flags::positive)]
    pub graphile_concurrency: Vec<usize>,
    /// Scratch folder graphile-worker is installed into with npm (never committed).
    #[arg(long, default_value = "target/bench-node")]
    pub node_dir: PathBuf,
    /// Run the bus alone, without the graphile-worker baseline (no Node needed).
    #[arg(long)]
    pub skip_graphile: bool,
    /// Length of each steady-rate latency run.
    #[arg(long, default_value = "5", value_parser = crate::flags::seconds,
          allow_hyphen_values = true)]
    pub latency_seconds: f64,
    /// Length of each NOTIFY measurement.
    #[arg(long, default_value = "5", value_parser = crate::flags::seconds,
          allow_hyphen_values = true)]
    pub notify_seconds: f64,
    /// Alternating runs of both systems at their best configuration (medians compared).
    #[arg(long, default_value_t = 3, value_parser = crate::flags::positive)]
    pub repeats: usize,
}

impl From<EventsBenchArgs> for events::Options {
    fn from(args: EventsBenchArgs) -> Self {
        events::Options {
            organisations: args.organisations,
            publishers: args.publishers,
            events_single: args.events_single,
            events_batched: args.events_batched,
            workers: args.workers,
            graphile_concurrency: args.graphile_concurrency,
            node_dir: (!args.skip_graphile).then_some(args.node_dir),
            latency_seconds: args.latency_seconds,
            notify_seconds: args.notify_seconds,
            repeats: args.repeats,
            ..events::Options::default()
        }
    }
}

/// `maturion bench audit`: the same insert and update workload on a table with and without
/// the audit trigger, synchronous_commit on and off.
#[derive(Debug, Args)]
pub struct AuditBenchArgs {
    /// Concurrent sessions, each for its own organisation.
    #[arg(long, default_value_t = 4, value_parser = crate::flags::positive)]
    pub clients: usize,
    /// Transactions per client and table in each phase (timed in alternating blocks of 50).
    #[arg(long, default_value_t = 500, value_parser = crate::flags::positive)]
    pub transactions: usize,
    /// Rows each transaction inserts or updates (one statement per row).
    #[arg(long, default_value_t = 1, value_parser = crate::flags::positive)]
    pub rows_per_transaction: usize,
    /// Repetitions of every phase (alternating which table goes first).
    #[arg(long, default_value_t = 3, value_parser = crate::flags::positive)]
    pub rounds: usize,
}

impl From<AuditBenchArgs> for audit::Options {
    fn from(args: AuditBenchArgs) -> Self {
        audit::Options {
            clients: args.clients,
            transactions: args.transactions,
            rows_per_transaction: args.rows_per_transaction,
            rounds: args.rounds,
        }
    }
}

/// `maturion bench api`: the server's throughput against pgbench, its memory and start-up.
#[derive(Debug, Args)]
pub struct ApiBenchArgs {
    #[arg(long, default_value_t = 10, value_parser = crate::flags::positive)]
    pub organisations: usize,
    /// Policies per organisation.
    #[arg(long, default_value_t = 1_000, value_parser = crate::flags::positive)]
    pub policies: usize,
    /// Length of each timed run, the API's and pgbench's alike (at least 1 s).
    #[arg(long, default_value = "10", value_parser = crate::flags::seconds,
          allow_hyphen_values = true)]
    pub seconds: f64,
    /// Concurrent connections of the load generator and of pgbench.
    #[arg(long, default_value_t = 10, value_parser = crate::flags::positive)]
    pub connections: usize,
}

impl TryFrom<ApiBenchArgs> for api::Options {
    type Error = anyhow::Error;

    /// The server runs from this very executable.
    fn try_from(args: ApiBenchArgs) -> Result<Self> {
        Ok(api::Options {
            organisations: args.organisations,
            policies: args.policies,
            seconds: args.seconds,
            connections: args.connections,
            server_program: std::env::current_exe()?,
        })
    }
}

/// `maturion bench backup`: pgBackRest against pg_basebackup, restore, RTO and RPO, on a
/// scratch cluster (never the configured one).
#[derive(Debug, Args)]
pub struct BackupBenchArgs {
    /// Size of the platform database written before the backups (GiB; fractions allowed).
    #[arg(long, default_value_t = 1.0, value_parser = size_gib)]
    pub size_gib: f64,
    /// Folder the scratch folder is made in (needs about 4× --size-gib free).
    #[arg(long, value_name = "DIR", default_value_os_t = std::env::temp_dir())]
    pub scratch_dir: PathBuf,
    /// The scratch server's archive_timeout in seconds: it bounds the RPO.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=900))]
    pub archive_timeout: u32,
    /// How long the writer commits before the primary is killed with kill -9.
    #[arg(long, default_value = "30", value_parser = crate::flags::seconds,
          allow_hyphen_values = true)]
    pub writer_seconds: f64,
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
}

impl From<BackupBenchArgs> for backup::Options {
    fn from(args: BackupBenchArgs) -> Self {
        backup::Options {
            size_gib: args.size_gib,
            scratch_parent: args.scratch_dir,
            archive_timeout_secs: args.archive_timeout,
            writer_seconds: args.writer_seconds,
        }
    }
}

fn size_gib(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(size) if size.is_finite() && size > 0.0 && size <= 1024.0 => Ok(size),
        _ => Err(format!("{text:?} is not a size in GiB between 0 and 1024")),
    }
}
