//! Index usage: indexes never scanned since the statistics were reset (those that enforce a
//! constraint are needed anyway and left out), and large tables read by sequential scans.

use serde::Serialize;
use tokio_postgres::Client;

use crate::error::{db, MonitorError};

/// A table this large that is scanned sequentially probably lacks an index.
pub const LARGE_TABLE_ROWS: i64 = 10_000;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IndexUsage {
    /// How many indexes were never scanned, and their size.
    pub unused_count: i64,
    pub unused_bytes: i64,
    /// The largest of them.
    pub unused: Vec<UnusedIndex>,
    /// Large tables read sequentially, most rows read first.
    pub sequential_scans: Vec<SequentialScans>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UnusedIndex {
    pub table: String,
    pub index: String,
    pub bytes: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SequentialScans {
    pub table: String,
    pub live_rows: i64,
    pub seq_scans: i64,
    pub seq_rows_read: i64,
    pub index_scans: i64,
}

const UNUSED: &str = "SELECT format('%I.%I', s.schemaname, s.relname), format('%I.%I', s.schemaname, s.indexrelname),
        pg_relation_size(s.indexrelid), count(*) OVER (), (sum(pg_relation_size(s.indexrelid)) OVER ())::bigint
 FROM pg_stat_user_indexes s JOIN pg_index i ON i.indexrelid = s.indexrelid
 WHERE s.idx_scan = 0 AND NOT i.indisunique AND NOT i.indisprimary
   AND NOT EXISTS (SELECT FROM pg_constraint c WHERE c.conindid = s.indexrelid)
 ORDER BY 3 DESC, 2 LIMIT $1";

const SEQUENTIAL: &str =
    "SELECT format('%I.%I', schemaname, relname), n_live_tup, seq_scan, seq_tup_read,
        coalesce(idx_scan, 0)
 FROM pg_stat_user_tables WHERE n_live_tup >= $1 AND seq_scan > 0
 ORDER BY seq_tup_read DESC, 1 LIMIT $2";

pub async fn usage(client: &Client, top: i64) -> Result<IndexUsage, MonitorError> {
    let unused = client
        .query(UNUSED, &[&top])
        .await
        .map_err(db("reading pg_stat_user_indexes"))?;
    let scans = client
        .query(SEQUENTIAL, &[&LARGE_TABLE_ROWS, &top])
        .await
        .map_err(db("reading pg_stat_user_tables"))?;
    Ok(IndexUsage {
        unused_count: unused.first().map_or(0, |row| row.get(3)),
        unused_bytes: unused.first().map_or(0, |row| row.get(4)),
        unused: unused
            .iter()
            .map(|row| UnusedIndex {
                table: row.get(0),
                index: row.get(1),
                bytes: row.get(2),
            })
            .collect(),
        sequential_scans: scans
            .iter()
            .map(|row| SequentialScans {
                table: row.get(0),
                live_rows: row.get(1),
                seq_scans: row.get(2),
                seq_rows_read: row.get(3),
                index_scans: row.get(4),
            })
            .collect(),
    })
}
