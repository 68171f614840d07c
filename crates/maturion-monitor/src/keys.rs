//! Data key ages, as `maturion keys status` computes them (maturion-crypto).

use serde::Serialize;
use tokio_postgres::Client;

use crate::figure::Figure;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Keys {
    pub key_lines: usize,
    /// Key lines whose newest version is older than the maximum age.
    pub overdue: usize,
    pub oldest_age_days: Option<i64>,
    pub max_age_days: i64,
}

pub async fn keys(client: &mut Client, max_age_days: u32) -> Figure<Keys> {
    let max_age = chrono::Duration::days(max_age_days.into());
    match maturion_crypto::status(client, max_age).await {
        Ok(status) => Figure::Available(Keys {
            key_lines: status.lines.len(),
            overdue: status.overdue,
            oldest_age_days: status.lines.iter().map(|line| line.age_days).max(),
            max_age_days: status.rotation_age_days,
        }),
        Err(error) => Figure::NotAvailable(error.to_string()),
    }
}
