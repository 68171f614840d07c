//! Advisory locks taken with a bounded wait: a run that finds another one holding the lock
//! gives up after a while and can say who holds it, instead of waiting for ever.

use std::time::Duration;

use tokio_postgres::error::SqlState;
use tokio_postgres::Client;

/// Takes the session advisory lock `key`, waiting at most `wait` for whoever holds it. False
/// when it was still held after that. `client` must not be inside a transaction.
pub async fn lock_session(
    client: &Client,
    key: i64,
    wait: Duration,
) -> Result<bool, tokio_postgres::Error> {
    // A session lock taken inside a transaction outlives its COMMIT; SET LOCAL bounds the wait
    // without touching the session's own lock_timeout.
    let taken = client
        .batch_execute(&format!(
            "BEGIN; SET LOCAL lock_timeout = '{}ms'; SELECT pg_advisory_lock({key}); COMMIT",
            wait.as_millis().clamp(1, i32::MAX as u128)
        ))
        .await;
    match taken {
        Ok(()) => Ok(true),
        Err(error) => {
            client.batch_execute("ROLLBACK").await?;
            if error.code() == Some(&SqlState::LOCK_NOT_AVAILABLE) {
                Ok(false)
            } else {
                Err(error)
            }
        }
    }
}

/// Who holds the advisory lock `key` in this database (one bigint key, session or transaction
/// level; advisory locks of other databases are other locks), for an error message:
/// `pid 4242 (user postgres, application "maturion", in a transaction since 00:12:03 UTC)`,
/// or a note that nobody holds it any more.
pub async fn lock_holders(client: &Client, key: i64) -> Result<String, tokio_postgres::Error> {
    let rows = client
        .query(
            "SELECT l.pid, coalesce(a.usename::text, '?'), coalesce(a.application_name, ''), \
                    coalesce(to_char(a.xact_start AT TIME ZONE 'UTC', 'HH24:MI:SS') || ' UTC', '') \
             FROM pg_catalog.pg_locks l \
             LEFT JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid \
             WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 \
               AND l.database = (SELECT d.oid FROM pg_catalog.pg_database d \
                                 WHERE d.datname = current_database()) \
               AND ((l.classid::bigint << 32) | l.objid::bigint) = $1 \
             ORDER BY l.pid",
            &[&key],
        )
        .await?;
    if rows.is_empty() {
        return Ok("no holder left (released meanwhile, or the wait was for another lock)".into());
    }
    let holders: Vec<String> = rows
        .iter()
        .map(|row| {
            let since: String = row.get(3);
            format!(
                "pid {} (user {}, application {:?}{})",
                row.get::<_, i32>(0),
                row.get::<_, String>(1),
                row.get::<_, String>(2),
                if since.is_empty() {
                    String::new()
                } else {
                    format!(", in a transaction since {since}")
                }
            )
        })
        .collect();
    Ok(holders.join(", "))
}
