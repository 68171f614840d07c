use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Maturion data platform: database lifecycle, migrations and conformance checks.
///
/// Settings come from built-in defaults, then a configuration file (--config, MATURION_CONFIG,
/// or ./maturion.toml if present), then environment variables, then the flags below.
/// Without DATABASE_URL, commands use a private PostgreSQL cluster in MATURION_HOME
/// (default ./.maturion), started with the PostgreSQL binaries on this machine.
#[derive(Debug, Parser)]
#[command(name = "maturion", version)]
pub struct Cli {
    /// Configuration file (TOML); it must exist.
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,

    /// Administrator connection URL of an existing server, as DATABASE_URL; unset = the
    /// embedded cluster.
    #[arg(long, global = true)]
    pub database_url: Option<String>,

    /// Folder of the embedded cluster, as MATURION_HOME.
    #[arg(long, global = true)]
    pub home: Option<PathBuf>,

    /// How long to wait for a lock another run holds (migrations, maintenance, the audit
    /// seal) before failing with who holds it: 30s, 500ms, 2m…
    #[arg(long, global = true, value_name = "DURATION", default_value = "30s",
          value_parser = crate::flags::duration, allow_hyphen_values = true)]
    pub lock_wait: Duration,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start the database (embedded by default), apply all migrations, say where it is.
    Up,
    /// Run the platform as a service: HTTP (health, readiness, metrics) and the periodic job.
    /// This is what `maturion` does with no command.
    Serve(crate::commands::serve::ServeArgs),
    /// Manage the embedded PostgreSQL cluster.
    #[command(subcommand)]
    Db(DbCommand),
    /// Versioned schema migrations.
    #[command(subcommand)]
    Migrate(MigrateCommand),
    /// Check the live schema against the architecture (RLS, tenant keys, indexes, roles).
    Check(CheckArgs),
    /// The audit trail: seal it into the hash chain, verify the chain.
    #[command(subcommand)]
    Audit(crate::commands::audit::AuditCommand),
    /// The event bus: follow events, inspect and replay dead letters.
    #[command(subcommand)]
    Events(crate::commands::events::EventsCommand),
    /// Keep the time-partitioned logs in shape: partitions ahead, retention, rollups, then
    /// the audit seal.
    Maintain(crate::commands::maintain::MaintainArgs),
    /// Legal holds: an organisation's log partitions outlive their retention while held.
    #[command(subcommand)]
    LegalHold(crate::commands::hold::HoldCommand),
    /// Organisations: create one with its first administrator and an API token.
    #[command(subcommand)]
    Org(crate::commands::tenants::OrgCommand),
    /// API tokens: create one for a user, revoke one.
    #[command(subcommand)]
    Token(crate::commands::tenants::TokenCommand),
    /// Benchmarks that print figures and ratios measured in one run.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Backups with pgBackRest: set-up, runs, list, verify, restore drill.
    #[command(subcommand)]
    Backup(crate::commands::backup::BackupCommand),
    /// Point-in-time recovery of the embedded cluster into a new folder, started and checked.
    Restore(crate::commands::restore::RestoreArgs),
    /// Data keys of the encrypted fields: their ages, and rotation (master key, 90 days).
    #[command(subcommand)]
    Keys(crate::commands::keys::KeysCommand),
    /// Slow queries, connections, index use, bloat, WAL archiving, backups, replication and key
    /// ages (spec §13), with the alerts that fire.
    Monitor(crate::commands::monitor::MonitorArgs),
}

#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Start the embedded cluster (initialising it on first use); reuses a running one.
    Start,
    /// Stop the embedded cluster.
    Stop,
    /// Say whether the database is running and where.
    Status,
    /// Print a connection URL, password included (for scripts).
    Url {
        /// Role to connect as; default: the administrator. On an external server, a role
        /// without a configured URL is an error.
        #[arg(long)]
        role: Option<String>,
    },
}

/// Which migrations: the platform's own (embedded), or a module's folder.
#[derive(Debug, Args)]
pub struct MigrationSource {
    /// Folder of a module's migrations (`<MAJOR.MINOR.PATCH>_<name>/up.sql|down.sql`).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// With --dir: the module, recorded as the scope in schema_migrations and labelling the
    /// module's tables in the audit trail (default: the folder's name).
    /// Without: one of the platform's sets (platform, maintenance, …); default all of them.
    #[arg(long)]
    pub scope: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum MigrateCommand {
    /// List migrations and whether each is applied.
    Status(MigrationSource),
    /// Apply pending migrations (up to --to).
    Up {
        #[command(flatten)]
        source: MigrationSource,
        #[arg(long)]
        to: Option<semver::Version>,
    },
    /// Revert applied migrations newer than --to (0.0.0 reverts all).
    Down {
        #[command(flatten)]
        source: MigrationSource,
        #[arg(long)]
        to: semver::Version,
    },
    /// Create the next migration folder with empty up/down scripts.
    New {
        name: String,
        /// Folder of the migrations.
        #[arg(long, default_value = "migrations")]
        dir: PathBuf,
        /// The module the migrations belong to, named in the template (default: the folder's
        /// name, as `migrate up --dir` does).
        #[arg(long)]
        scope: Option<String>,
        /// Kind of change; MINOR unless said otherwise.
        #[arg(long, value_enum, default_value_t = Bump::Minor)]
        bump: Bump,
    },
    /// Run the zero-regression lint on .sql files or migration folders.
    Lint {
        /// Files or folders; default: the platform's own migrations.
        paths: Vec<PathBuf>,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Bump {
    Major,
    Minor,
    Patch,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Format {
    Human,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// RLS overhead: PK lookup and tenant list as maturion_app under RLS vs explicit
    /// WHERE organisation_id as a BYPASSRLS role.
    Rls {
        #[arg(long, default_value_t = 1_000, value_parser = crate::flags::positive)]
        organisations: usize,
        #[arg(long, default_value_t = 1_000_000, value_parser = crate::flags::positive)]
        rows: usize,
        /// Timed repetitions of each query.
        #[arg(long, default_value_t = 2_000, value_parser = crate::flags::positive)]
        iterations: usize,
    },
    /// Tenant binding: a GET-by-id transaction bound with an API token against the same
    /// transaction with the former set_config context, as maturion_app.
    Binding {
        #[arg(long, default_value_t = 100)]
        organisations: usize,
        /// Users per organisation.
        #[arg(long, default_value_t = 100)]
        users: usize,
        /// Timed transactions of each side.
        #[arg(long, default_value_t = 4_000)]
        iterations: usize,
    },
    /// Ingest: batched INSERTs into partitioned audit_log as maturion_app vs COPY into an
    /// unpartitioned table without RLS.
    Ingest(crate::commands::bench::IngestArgs),
    /// Event bus: publish→consume throughput and latency against graphile-worker (Node.js),
    /// and what a NOTIFY per publishing transaction costs writers.
    Events(crate::commands::bench::EventsBenchArgs),
    /// Audit trigger overhead: the same insert and update workload with and without the
    /// audit trigger, synchronous_commit on and off.
    Audit(crate::commands::bench::AuditBenchArgs),
    /// The HTTP API against pgbench: GET by id, create and a 100-row page through
    /// `maturion serve` (a child process) and as the same transactions in pgbench; the
    /// server's memory and start-up time.
    Api(crate::commands::bench::ApiBenchArgs),
    /// Backups on a scratch cluster of its own: a database of the platform's tables, a full
    /// backup with pgBackRest against pg_basebackup, restore with WAL replay, the RTO
    /// extrapolated to 100 GiB, and the RPO of a `kill -9` of the primary mid-load.
    Backup(crate::commands::bench::BackupBenchArgs),
}
