//! Monitoring and alerting (spec §13): the figures an operator watches, read from PostgreSQL's
//! statistics views (`pg_stat_statements`, `pg_stat_activity`, `pg_stat_user_tables` and
//! `_indexes`, `pgstattuple_approx`, `pg_stat_archiver`, `pg_stat_replication`), pgBackRest's
//! `info` and the data keys' ages; the alert rules of §13.2 evaluated against the configured
//! thresholds; and their delivery as Prometheus gauges, a table, JSON and a webhook.
//!
//! [`gather`] takes one [`Snapshot`], [`evaluate`] says which [`Alert`]s fire. What a server
//! cannot give (an extension not loaded, backups not set up, an external server's backups) is
//! a [`Figure::NotAvailable`] with the reason, never an error.
//!
//! Knows no command-line parser and no HTTP framework: the CLI and the server call it.

mod archiving;
mod backups;
mod bloat;
mod connections;
mod error;
mod extensions;
mod figure;
mod human;
mod indexes;
mod keys;
mod prometheus;
mod replication;
mod rules;
mod snapshot;
mod statements;
mod webhook;

pub use archiving::Archiving;
pub use backups::Backups;
pub use bloat::{EstimatedBloat, TableBloat};
pub use connections::Connections;
pub use error::MonitorError;
pub use extensions::MONITORING_SCHEMA;
pub use figure::Figure;
pub use human::render as render_human;
pub use indexes::{IndexUsage, SequentialScans, UnusedIndex, LARGE_TABLE_ROWS};
pub use keys::Keys;
pub use prometheus::render as render_prometheus;
pub use replication::Replica;
pub use rules::{evaluate, Alert, Rule};
pub use snapshot::{gather, Inputs, Snapshot};
pub use statements::Statement;
pub use webhook::Webhook;

/// How many statements, indexes and tables each list keeps unless told otherwise.
pub const DEFAULT_TOP: usize = 10;
