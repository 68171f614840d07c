//! Tenant-scoped database access: the only way module code reaches tenant data.
//!
//! A [`TenantTransaction`] opens a transaction and, before anything else runs, binds it to its
//! tenant by presenting a credential the database verifies itself: a user's [`ApiToken`]
//! (`SELECT maturion.bind_tenant(token)`), or for the platform's service a binding its
//! maintenance session makes for that very transaction ([`ServiceBinder`]). The binding ends
//! with the transaction; beginning fails unless the database bound exactly the context's
//! organisation and user; ending sheds the session's state, so nothing reaches the next user
//! of a pooled connection. Row-Level Security in the database does the isolation; this crate
//! makes the binding impossible to forget and turns the database's refusals into clear
//! errors. A [`TenantConnection`] opens the same transactions on a connection the caller holds.

mod connection;
mod database;
mod error;
mod ids;
pub mod provision;
mod token;

pub use connection::{ConnectionTransaction, TenantConnection};
pub use database::{Database, PoolStatus, ServiceBinder, TenantContext, TenantTransaction};
pub use error::TenancyError;
pub use ids::{IdError, OrganisationId, UserId};
pub use token::{ApiToken, TokenError};
