//! Table bloat: dead tuples from the statistics, and the space dead tuples and free space take,
//! estimated by `pgstattuple_approx` (which reads only the pages the visibility map does not
//! vouch for).

use serde::Serialize;
use tokio_postgres::Client;

use crate::error::{db, server_message, MonitorError};
use crate::extensions::{self, PGSTATTUPLE};
use crate::figure::Figure;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TableBloat {
    pub table: String,
    pub live_tuples: i64,
    pub dead_tuples: i64,
    pub table_bytes: i64,
    /// Dead tuples and free space, by pgstattuple_approx.
    pub bloat: Figure<EstimatedBloat>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EstimatedBloat {
    pub bytes: i64,
    /// Of the table's size, 0 to 1.
    pub ratio: f64,
}

/// The `top` tables with the most dead tuples (then the largest).
const TABLES: &str =
    "SELECT format('%I.%I', t.schemaname, t.relname), t.relid, t.n_live_tup, t.n_dead_tup,
        pg_table_size(t.relid)
 FROM pg_stat_user_tables t JOIN pg_class c ON c.oid = t.relid
 WHERE c.relkind IN ('r', 'm')
 ORDER BY t.n_dead_tup DESC, pg_table_size(t.relid) DESC, 1 LIMIT $1";

pub async fn tables(client: &Client, top: i64) -> Result<Vec<TableBloat>, MonitorError> {
    let schema = extensions::schema_of(client, PGSTATTUPLE).await;
    let rows = client
        .query(TABLES, &[&top])
        .await
        .map_err(db("reading pg_stat_user_tables"))?;
    let mut tables = Vec::with_capacity(rows.len());
    for row in rows {
        let relid: tokio_postgres::types::Oid = row.get(1);
        tables.push(TableBloat {
            table: row.get(0),
            live_tuples: row.get(2),
            dead_tuples: row.get(3),
            table_bytes: row.get(4),
            bloat: estimate(client, &schema, relid).await,
        });
    }
    Ok(tables)
}

async fn estimate(
    client: &Client,
    schema: &Figure<String>,
    relid: tokio_postgres::types::Oid,
) -> Figure<EstimatedBloat> {
    let schema = match schema {
        Figure::Available(schema) => schema,
        Figure::NotAvailable(reason) => return Figure::NotAvailable(reason.clone()),
    };
    let sql = format!(
        "SELECT (dead_tuple_len + approx_free_space)::bigint,
                (dead_tuple_percent + approx_free_percent) / 100
         FROM {schema}.pgstattuple_approx($1::oid::regclass)"
    );
    match client.query_one(&sql, &[&relid]).await {
        Ok(row) => Figure::Available(EstimatedBloat {
            bytes: row.get(0),
            ratio: row.get(1),
        }),
        Err(error) => Figure::NotAvailable(server_message(&error)),
    }
}
