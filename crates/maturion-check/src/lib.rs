//! The conformance checker behind `maturion check`: reads the live catalog of a database and
//! reports every table, view, function and role setting that breaks the global database
//! architecture (spec §3.3, §3.4, §5.1, §6.2, §7), including tables that modules add later.
//!
//! It only reads: loading the catalog ([`catalog`]) is kept apart from judging it ([`rules`]),
//! so every rule sees one consistent picture and is a plain function of it.

mod catalog;
mod policy;
mod report;
mod rules;

pub use report::{Report, Violation};

/// What to check against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckOptions {
    /// The runtime role that must stay subject to RLS (owns nothing, no superuser, no BYPASSRLS).
    pub app_role: String,
}

impl Default for CheckOptions {
    fn default() -> Self {
        Self { app_role: "maturion_app".into() }
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

/// Checks the database `client` is connected to. It only reads the catalog, so any role can
/// run it; `maturion check` uses its administrator connection.
pub async fn check(client: &tokio_postgres::Client, options: &CheckOptions) -> Result<Report, CheckError> {
    let catalog = catalog::load(client, &options.app_role).await?;
    Ok(Report::new(catalog.database.clone(), catalog.tables.len(), rules::evaluate(&catalog)))
}
