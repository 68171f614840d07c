//! Tenant-scoped database access: the only way module code reaches tenant data.
//!
//! A [`TenantTransaction`] opens a transaction and, before anything else runs, sets
//! `app.current_organisation_id` and `app.current_user_id` with `set_config(…, true)`:
//! transaction-local, so nothing leaks to the next user of a pooled (or PgBouncer) connection.
//! Row-Level Security in the database does the isolation; this crate makes the context
//! impossible to forget and turns the database's refusals into clear errors. A
//! [`TenantConnection`] opens the same transactions on a connection the caller holds.

mod connection;
mod database;
mod error;
mod ids;

pub use connection::{ConnectionTransaction, TenantConnection};
pub use database::{Database, TenantContext, TenantTransaction};
pub use error::TenancyError;
pub use ids::{IdError, OrganisationId, UserId};
