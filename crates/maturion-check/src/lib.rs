//! The conformance checker behind `maturion check`: reads the live catalog of a database and
//! reports every table, view, function and role setting that breaks the global database
//! architecture (spec §3.3, §3.4, §5.1, §6.2, §7), including tables that modules add later.
//!
//! It only reads. Loading the catalog (`catalog`, a few set-wise queries) is kept apart from
//! judging it (`rules`, plain functions of what was loaded).

mod catalog;
mod pattern_rules;
mod policy;
mod report;
mod rules;
mod runtime_rules;

pub use report::{Report, Violation};

/// What to check against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckOptions {
    /// The runtime role that must stay subject to RLS (owns nothing, no superuser, no BYPASSRLS).
    pub app_role: String,
    /// The read-only runtime role: subject to RLS like the app role, and able to change nothing.
    pub readonly_role: String,
}

impl Default for CheckOptions {
    fn default() -> Self {
        Self {
            app_role: "maturion_app".into(),
            readonly_role: "maturion_readonly".into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error("cannot read {what} from the catalog")]
    Catalog {
        what: &'static str,
        #[source]
        source: tokio_postgres::Error,
    },
}

/// Checks the database `client` is connected to, reading only its catalog.
pub async fn check(
    client: &tokio_postgres::Client,
    options: &CheckOptions,
) -> Result<Report, CheckError> {
    let catalog = catalog::load(client, options).await?;
    let violations = rules::evaluate(&catalog);
    Ok(Report::new(
        catalog.database,
        catalog.tables.len(),
        violations,
    ))
}
