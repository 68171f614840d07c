//! The event bus against a real PostgreSQL: platform schema, then this crate's migrations.

mod support;

mod attacks;
mod delivery;
mod hostile;
mod ordering;
mod permissions;
mod publishing;
mod resting;
mod retention;
mod schema;
mod tail;
mod wakeups;
