//! pg_stat_statements and pgstattuple: found where an administrator installed them, else
//! created in `maturion_monitoring` (schema 3.7.0, no runtime role has USAGE) when this
//! connection may, else not available with what the operator must do.

use tokio_postgres::Client;

use crate::error::server_message;
use crate::figure::Figure;

/// Where the platform puts them (schema 3.7.0).
pub const MONITORING_SCHEMA: &str = "maturion_monitoring";
pub const STATEMENTS: &str = "pg_stat_statements";
pub const PGSTATTUPLE: &str = "pgstattuple";

/// The schema `extension` lives in, quoted for SQL, creating it there when it is missing.
pub async fn schema_of(client: &Client, extension: &str) -> Figure<String> {
    match installed_schema(client, extension).await {
        Ok(Some(schema)) => return Figure::Available(quote_identifier(&schema)),
        Ok(None) => {}
        Err(error) => return Figure::NotAvailable(server_message(&error)),
    }
    let create =
        format!("CREATE EXTENSION IF NOT EXISTS {extension} WITH SCHEMA {MONITORING_SCHEMA}");
    match client.batch_execute(&create).await {
        Ok(()) => Figure::Available(MONITORING_SCHEMA.to_owned()),
        Err(error) => Figure::NotAvailable(format!(
            "{extension} is not installed and could not be ({}); as a superuser run: {create}",
            server_message(&error)
        )),
    }
}

async fn installed_schema(
    client: &Client,
    extension: &str,
) -> Result<Option<String>, tokio_postgres::Error> {
    let row = client
        .query_opt(
            "SELECT n.nspname::text FROM pg_extension e
             JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = $1",
            &[&extension],
        )
        .await?;
    Ok(row.map(|row| row.get(0)))
}

fn quote_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}
