use std::net::IpAddr;

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod};
use tokio_postgres::types::ToSql;
use tokio_postgres::{NoTls, Row, ToStatement};

use crate::{OrganisationId, TenancyError, UserId};

/// Who is acting, for which organisation: what every tenant transaction carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantContext {
    pub organisation_id: OrganisationId,
    pub user_id: Option<UserId>,
    pub ip_address: Option<IpAddr>,
    pub user_agent: Option<String>,
}

impl TenantContext {
    pub fn new(organisation_id: OrganisationId) -> Self {
        Self {
            organisation_id,
            user_id: None,
            ip_address: None,
            user_agent: None,
        }
    }

    pub fn with_user(mut self, user_id: UserId) -> Self {
        self.user_id = Some(user_id);
        self
    }

    pub fn with_client(mut self, ip_address: Option<IpAddr>, user_agent: Option<String>) -> Self {
        self.ip_address = ip_address;
        self.user_agent = user_agent;
        self
    }
}

/// Sets the tenant context for the rest of the transaction: organisation, acting user, client
/// address and user agent (`''` for what is unknown), transaction-local (`set_config(…, true)`).
/// The only statement that sets tenant context.
pub(crate) const SET_CONTEXT: &str = "SELECT set_config('app.current_organisation_id', $1, true), \
                                             set_config('app.current_user_id', $2, true), \
                                             set_config('app.ip_address', $3, true), \
                                             set_config('app.user_agent', $4, true)";

/// Opens a transaction on `client` and sets `context` in it, with `set_context` the prepared
/// [`SET_CONTEXT`]: pipelined, so BEGIN and the settings travel in one round trip.
pub(crate) async fn begin(
    client: &tokio_postgres::Client,
    set_context: &tokio_postgres::Statement,
    context: &TenantContext,
) -> Result<(), TenancyError> {
    let organisation = context.organisation_id.to_string();
    let user = context.user_id.map(|u| u.to_string()).unwrap_or_default();
    let ip = context
        .ip_address
        .map(|a| a.to_string())
        .unwrap_or_default();
    let agent = context.user_agent.clone().unwrap_or_default();
    let params: [&(dyn ToSql + Sync); 4] = [&organisation, &user, &ip, &agent];
    let (begun, configured) = futures_util::join!(
        client.batch_execute("BEGIN"),
        client.query_one(set_context, &params)
    );
    begun?;
    configured?;
    Ok(())
}

/// A pool of connections as the runtime role (`maturion_app`).
#[derive(Clone)]
pub struct Database {
    pool: Pool,
}

impl Database {
    pub fn new(
        config: tokio_postgres::Config,
        max_connections: usize,
    ) -> Result<Self, TenancyError> {
        // Fast recycling is safe because tenant settings are transaction-local: a returned
        // connection carries no tenant state.
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(max_connections)
            .build()
            .map_err(|e| TenancyError::Pool(e.to_string()))?;
        Ok(Self { pool })
    }

    /// Opens a transaction for `context`.
    pub async fn transaction(
        &self,
        context: &TenantContext,
    ) -> Result<TenantTransaction, TenancyError> {
        let client = self.pool.get().await?;
        let mut transaction = TenantTransaction {
            client: Some(client),
            context: context.clone(),
        };
        transaction.begin().await?;
        Ok(transaction)
    }
}

/// An open transaction in which `app.current_organisation_id` (and the acting user, client
/// address and user agent) are set. Dropped without `commit`, it rolls back: the connection
/// is closed rather than returned to the pool mid-transaction.
pub struct TenantTransaction {
    client: Option<Object>,
    context: TenantContext,
}

impl TenantTransaction {
    async fn begin(&mut self) -> Result<(), TenancyError> {
        let client = self.client();
        let set_context = client.prepare_cached(SET_CONTEXT).await?;
        begin(client, &set_context, &self.context).await
    }

    pub fn context(&self) -> &TenantContext {
        &self.context
    }

    fn client(&self) -> &Object {
        self.client
            .as_ref()
            .expect("a tenant transaction is used only while open")
    }

    pub async fn query<T: ?Sized + ToStatement>(
        &self,
        statement: &T,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, TenancyError> {
        Ok(self.client().query(statement, params).await?)
    }

    pub async fn query_one<T: ?Sized + ToStatement>(
        &self,
        statement: &T,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Row, TenancyError> {
        Ok(self.client().query_one(statement, params).await?)
    }

    pub async fn query_opt<T: ?Sized + ToStatement>(
        &self,
        statement: &T,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<Row>, TenancyError> {
        Ok(self.client().query_opt(statement, params).await?)
    }

    pub async fn execute<T: ?Sized + ToStatement>(
        &self,
        statement: &T,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<u64, TenancyError> {
        Ok(self.client().execute(statement, params).await?)
    }

    /// A prepared statement cached on this connection.
    pub async fn prepare(&self, sql: &str) -> Result<tokio_postgres::Statement, TenancyError> {
        Ok(self.client().prepare_cached(sql).await?)
    }

    pub async fn commit(mut self) -> Result<(), TenancyError> {
        let client = self.client.take().expect("open");
        client.batch_execute("COMMIT").await?;
        Ok(())
    }

    pub async fn rollback(mut self) -> Result<(), TenancyError> {
        let client = self.client.take().expect("open");
        client.batch_execute("ROLLBACK").await?;
        Ok(())
    }
}

impl Drop for TenantTransaction {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            // Still inside BEGIN: never hand this connection to someone else.
            drop(Object::take(client));
        }
    }
}
