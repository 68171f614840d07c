//! Authentication and permissions of a request: `Authorization: Bearer <token>` opens the
//! request's transaction bound with that token (maturion-tenancy, `maturion.bind_tenant`), as
//! the application role; the bound user's grants decide what it may do.

use std::net::SocketAddr;

use axum::http::{header, HeaderMap};
use maturion_api::{Level, Permissions, PERMISSIONS_OF_BOUND_USER};
use maturion_tenancy::{ApiToken, Database, TenantTransaction};

use super::problem::Problem;

/// A request's open tenant transaction and the bound user's permissions.
pub struct Session {
    pub transaction: TenantTransaction,
    permissions: Permissions,
}

impl Session {
    /// 401 for a missing, malformed, unknown, expired or revoked token, all alike.
    pub async fn open(
        database: &Database,
        headers: &HeaderMap,
        client: SocketAddr,
    ) -> Result<Session, Problem> {
        let token = bearer_token(headers).ok_or_else(Problem::unauthorized)?;
        let user_agent = headers
            .get(header::USER_AGENT)
            .and_then(|agent| agent.to_str().ok())
            .map(str::to_owned);
        let transaction = database
            .transaction_for_token(&token, Some(client.ip()), user_agent)
            .await?;
        let grants = match permissions_of_bound_user(&transaction).await {
            Ok(rows) => rows,
            Err(error) => {
                let _ = transaction.rollback().await;
                return Err(error.into());
            }
        };
        let permissions = Permissions::from_grants(
            grants
                .iter()
                .map(|row| (row.get::<_, &str>(0), row.get::<_, &str>(1))),
        );
        Ok(Session {
            transaction,
            permissions,
        })
    }

    /// 403 unless the bound user holds `level` on `module`.
    pub fn require(&self, module: &str, level: Level) -> Result<(), Problem> {
        if self.permissions.allows(module, level) {
            Ok(())
        } else {
            Err(Problem::forbidden(module, level))
        }
    }

    /// The modules whose rows the user may read; `None` for every module.
    pub fn readable_modules(&self) -> Option<Vec<String>> {
        self.permissions.readable_modules()
    }

    /// Commits `Ok`, rolls back `Err`: nothing a refused request did stays.
    pub async fn finish<T>(self, outcome: Result<T, Problem>) -> Result<T, Problem> {
        match outcome {
            Ok(value) => {
                self.transaction.commit().await?;
                Ok(value)
            }
            Err(problem) => {
                if let Err(error) = self.transaction.rollback().await {
                    tracing::warn!(%error, "rollback failed; the connection was closed");
                }
                Err(problem)
            }
        }
    }
}

/// Prepared once per connection: every request asks it.
async fn permissions_of_bound_user(
    transaction: &TenantTransaction,
) -> Result<Vec<tokio_postgres::Row>, maturion_tenancy::TenancyError> {
    let statement = transaction.prepare(PERMISSIONS_OF_BOUND_USER).await?;
    transaction.query(&statement, &[]).await
}

fn bearer_token(headers: &HeaderMap) -> Option<ApiToken> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    token.trim().parse().ok()
}
