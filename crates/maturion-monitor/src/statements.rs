//! Slow queries, from pg_stat_statements: this database's statements, slowest mean first.

use serde::Serialize;
use tokio_postgres::Client;

use crate::error::server_message;
use crate::extensions::{self, STATEMENTS};
use crate::figure::Figure;

/// Statement texts are cut here: enough to recognise the statement, not a page of SQL.
const QUERY_TEXT_CHARS: i32 = 200;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Statement {
    /// pg_stat_statements' id of the normalised statement.
    pub queryid: i64,
    /// The normalised text (constants as `$1`), shortened.
    pub query: String,
    pub calls: i64,
    pub mean_seconds: f64,
    pub max_seconds: f64,
    pub total_seconds: f64,
}

/// The `top` statements of the current database with the longest mean execution time.
pub async fn slowest(client: &Client, top: i64) -> Figure<Vec<Statement>> {
    let schema = match extensions::schema_of(client, STATEMENTS).await {
        Figure::Available(schema) => schema,
        Figure::NotAvailable(reason) => return Figure::NotAvailable(reason),
    };
    let sql = format!(
        "SELECT queryid, left(regexp_replace(query, '\\s+', ' ', 'g'), $2), calls,
                mean_exec_time / 1000, max_exec_time / 1000, total_exec_time / 1000
         FROM {schema}.pg_stat_statements
         WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
           AND toplevel AND queryid IS NOT NULL
         ORDER BY mean_exec_time DESC, queryid LIMIT $1"
    );
    match client.query(&sql, &[&top, &QUERY_TEXT_CHARS]).await {
        Ok(rows) => Figure::Available(
            rows.iter()
                .map(|row| Statement {
                    queryid: row.get(0),
                    query: row.get(1),
                    calls: row.get(2),
                    mean_seconds: row.get(3),
                    max_seconds: row.get(4),
                    total_seconds: row.get(5),
                })
                .collect(),
        ),
        // Created but not preloaded: the view says so itself.
        Err(error) => Figure::NotAvailable(format!(
            "{} (shared_preload_libraries must name pg_stat_statements: the embedded cluster \
             does from its next start)",
            server_message(&error)
        )),
    }
}
