//! The event log as a cross-module bus (spec §4.4, §12).
//!
//! - **Publishing is transactional** (outbox): [`publish`] calls `maturion.publish_events`
//!   inside the caller's [`TenantTransaction`], so the event exists if and only if that
//!   transaction commits. The organisation and the publishing user are the transaction's
//!   verified binding's; the application role cannot write `event_log` itself.
//! - **Ordering without skipping**: a deferred trigger numbers each publishing transaction at
//!   COMMIT, per organisation, under a lock held until the commit is visible; per organisation,
//!   positions therefore become visible in commit order and a cursor never skips an event
//!   whose transaction committed late (see the migration's header for the full argument).
//! - **Subscriptions** ([`subscribe`]) have one durable cursor per organisation. A [`Worker`]
//!   claims organisation streams (leases, `FOR UPDATE SKIP LOCKED`, least recently served
//!   first, so one busy organisation cannot starve the others), reads their events in one
//!   query and hands them to the [`Handler`]. A handler that writes does so through the tenant
//!   transaction of the event's organisation ([`Delivery::transaction`]: under RLS), and the
//!   cursor moves in that same transaction; streams whose handlers did not write are
//!   acknowledged together. Delivery is at least once; failures are retried with exponential
//!   back-off and dead-lettered after `max_attempts` ([`dead_letters`], [`replay`]).
//! - **Wake-ups**: publishers NOTIFY only while a worker sleeps on LISTEN; busy workers poll. A
//!   wake-up carries no data and workers trust none: it only makes them claim.
//! - **Event sourcing**: [`permissions`] grants and revokes user permissions; the database
//!   publishes each change in the same transaction; [`permissions::rebuild`] replays the log.
//!
//! [`TenantTransaction`]: maturion_tenancy::TenantTransaction

mod backlog;
mod dead_letters;
mod error;
mod event;
mod listen;
mod publish;
mod stream;
mod subscription;
mod tail;
mod worker;

pub mod permissions;

use include_dir::{include_dir, Dir};
use maturion_migrate::{AppliedMigration, MigrateError, MigrationSet, Migrator, Options};
use tokio_postgres::Client;

pub use backlog::{backlog, subscriptions, Backlog};
pub use dead_letters::{dead_letters, replay, DeadLetter};
pub use error::EventError;
pub use event::{Event, UndecodableEvent};
pub use publish::{publish, publish_all, NewEvent, PublishedEvent};
pub use stream::{
    stream_after, stream_head, stream_position, type_patterns, EventKey, StreamCursor, StreamRead,
    MAX_READ,
};
pub use subscription::{subscribe, unsubscribe, StartFrom, Subscription};
pub use tail::{Tail, TailFilter, Tailed};
pub use worker::{Delivery, Handler, HandlerError, Round, Worker, WorkerOptions};

static MIGRATIONS: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/migrations");

/// Scope of this crate's migrations in `schema_migrations`; they apply after the platform's.
pub const SCOPE: &str = "events";

/// Channel that publishers NOTIFY when a worker sleeps.
pub const NOTIFY_CHANNEL: &str = "maturion_events";

/// Role the bus's privileged side (claims, operators' views) runs as.
pub const MAINTENANCE_ROLE: &str = "maturion_maintenance";

/// The event bus migrations embedded in this build.
pub fn migrations() -> MigrationSet {
    MigrationSet::from_embedded(SCOPE, &MIGRATIONS)
        .expect("the embedded event bus migrations are laid out correctly (checked by tests)")
}

/// Applies the pending event bus migrations as `maturion_owner`. The platform schema must be
/// applied first (`maturion_schema::migrate_global_schema`); `client` is an administrator.
pub async fn migrate_event_bus(client: &mut Client) -> Result<Vec<AppliedMigration>, MigrateError> {
    // The platform's options, spelled out: maturion-schema will list this scope, so this crate
    // cannot depend on it.
    let options = Options {
        owner_role: Some("maturion_owner".into()),
        ..Options::default()
    };
    Migrator::new(&migrations(), options).up(client, None).await
}
