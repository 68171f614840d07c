use std::net::IpAddr;
use std::sync::Arc;
use std::time::SystemTime;

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod};
use tokio_postgres::tls::{MakeTlsConnect, TlsConnect};
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, NoTls, Row, Socket, Statement, ToStatement};
use uuid::Uuid;

use crate::{ApiToken, OrganisationId, TenancyError, UserId};

/// How a transaction proves which tenant it acts for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Credential {
    /// A user's API token, verified by `maturion.bind_tenant`.
    Token(ApiToken),
    /// The platform's service, acting for one organisation with a binding the maintenance
    /// side makes for this very transaction.
    Service(ServiceBinder),
}

/// Who is acting, for which organisation, and the credential that proves it: what every
/// tenant transaction carries. Beginning a transaction binds it with the credential and fails
/// unless the database bound exactly this organisation and user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantContext {
    pub organisation_id: OrganisationId,
    /// `None` when the platform's service acts.
    pub user_id: Option<UserId>,
    pub ip_address: Option<IpAddr>,
    pub user_agent: Option<String>,
    credential: Credential,
}

impl TenantContext {
    /// `user_id` of `organisation_id`, with one of their API tokens.
    pub fn new(organisation_id: OrganisationId, user_id: UserId, token: ApiToken) -> Self {
        Self {
            organisation_id,
            user_id: Some(user_id),
            ip_address: None,
            user_agent: None,
            credential: Credential::Token(token),
        }
    }

    /// The platform's service acting for `organisation_id` (event handlers): no user, and a
    /// binding that `binder`'s maintenance session makes for each transaction.
    pub fn service(organisation_id: OrganisationId, binder: ServiceBinder) -> Self {
        Self {
            organisation_id,
            user_id: None,
            ip_address: None,
            user_agent: None,
            credential: Credential::Service(binder),
        }
    }

    pub fn with_client(mut self, ip_address: Option<IpAddr>, user_agent: Option<String>) -> Self {
        self.ip_address = ip_address;
        self.user_agent = user_agent;
        self
    }

    /// The client address and user agent as the settings take them (`''` when unknown).
    fn client_settings(&self) -> (String, String) {
        let ip = self.ip_address.map(|a| a.to_string()).unwrap_or_default();
        (ip, self.user_agent.clone().unwrap_or_default())
    }
}

/// A session of the maintenance role that makes service bindings
/// (`maturion.service_binding`) for the runtime-role transactions of the platform's service.
#[derive(Clone)]
pub struct ServiceBinder {
    maintenance: Arc<Client>,
}

impl ServiceBinder {
    /// `maintenance` must run as `maturion_maintenance` (e.g. an administrator's session
    /// after `SET ROLE maturion_maintenance`).
    pub fn new(maintenance: Client) -> Self {
        Self {
            maintenance: Arc::new(maintenance),
        }
    }

    async fn binding_for(
        &self,
        organisation: OrganisationId,
        backend_pid: i32,
        transaction_start: SystemTime,
    ) -> Result<String, TenancyError> {
        let row = self
            .maintenance
            .query_one(
                "SELECT maturion.service_binding($1, $2, $3)",
                &[&organisation, &backend_pid, &transaction_start],
            )
            .await?;
        Ok(row.get(0))
    }
}

impl PartialEq for ServiceBinder {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.maintenance, &other.maintenance)
    }
}

impl Eq for ServiceBinder {}

impl std::fmt::Debug for ServiceBinder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServiceBinder")
    }
}

/// Binds the transaction with a token and sets the client's address and user agent
/// (transaction-local request metadata, not authority). The only statement that presents a
/// token; prepared once per connection.
pub(crate) const BIND_TOKEN: &str = "SELECT b.organisation_id, b.user_id, \
                                            set_config('app.ip_address', $2, true), \
                                            set_config('app.user_agent', $3, true) \
                                     FROM maturion.bind_tenant($1) b";

/// Sets a service binding made by the maintenance side for this transaction.
const SET_SERVICE_BINDING: &str = "SELECT set_config('maturion.binding', $1, true), \
                                          set_config('app.ip_address', $2, true), \
                                          set_config('app.user_agent', $3, true)";

/// What a connection must shed after every tenant transaction before anyone else uses it:
/// session-level settings (a `SET` outlives the transaction), session advisory locks, open
/// cursors and LISTENs. A statement prepared with SQL `PREPARE` shares the namespace of the
/// protocol's named statements (tokio-postgres's `s0`, `s1`…), so it could stand in for one of
/// ours: it cannot be removed selectively, so the connection fails this check (division by
/// zero) and is closed.
pub(crate) const SHED_SESSION_STATE: &str = "RESET ALL; SELECT pg_advisory_unlock_all(); \
     CLOSE ALL; UNLISTEN *; \
     SELECT 1 / (NOT EXISTS (SELECT FROM pg_catalog.pg_prepared_statements WHERE from_sql))::int";

/// Opens a transaction on `client` for `context`, with `bind_token` the prepared
/// [`BIND_TOKEN`]: BEGIN and the binding travel in one round trip. Fails unless the database
/// bound the transaction to exactly the context's organisation and user.
pub(crate) async fn begin(
    client: &Client,
    bind_token: &Statement,
    context: &TenantContext,
) -> Result<(), TenancyError> {
    let (ip, agent) = context.client_settings();
    let bound = match &context.credential {
        Credential::Token(token) => {
            begin_with_token(client, bind_token, token, &ip, &agent).await?
        }
        Credential::Service(binder) => {
            let organisation = bind_service(client, binder, context, &ip, &agent).await?;
            (organisation, None)
        }
    };
    verify_binding(context, bound)
}

/// BEGIN and [`BIND_TOKEN`] in one round trip: the organisation and user the database bound the
/// transaction to.
async fn begin_with_token(
    client: &Client,
    bind_token: &Statement,
    token: &ApiToken,
    ip: &str,
    agent: &str,
) -> Result<(Option<OrganisationId>, Option<UserId>), TenancyError> {
    let params: [&(dyn ToSql + Sync); 3] = [&token.expose(), &ip, &agent];
    let (begun, bound) = futures_util::join!(
        client.batch_execute("BEGIN"),
        client.query_one(bind_token, &params)
    );
    begun?;
    let bound = bound?;
    let organisation: Option<Uuid> = bound.get(0);
    let user: Option<Uuid> = bound.get(1);
    Ok((
        organisation.map(OrganisationId::from_uuid),
        user.map(UserId::from_uuid),
    ))
}

async fn bind_service(
    client: &Client,
    binder: &ServiceBinder,
    context: &TenantContext,
    ip: &str,
    agent: &str,
) -> Result<Option<OrganisationId>, TenancyError> {
    let (begun, session) = futures_util::join!(
        client.batch_execute("BEGIN"),
        client.query_one("SELECT pg_backend_pid(), transaction_timestamp()", &[])
    );
    begun?;
    let session = session?;
    let binding = binder
        .binding_for(context.organisation_id, session.get(0), session.get(1))
        .await?;
    let params: [&(dyn ToSql + Sync); 3] = [&binding, &ip, &agent];
    let (set, bound) = futures_util::join!(
        client.query_one(SET_SERVICE_BINDING, &params),
        client.query_one("SELECT maturion.current_organisation_id()", &[])
    );
    set?;
    let organisation: Option<Uuid> = bound?.get(0);
    Ok(organisation.map(OrganisationId::from_uuid))
}

fn verify_binding(
    context: &TenantContext,
    (organisation, user): (Option<OrganisationId>, Option<UserId>),
) -> Result<(), TenancyError> {
    if organisation == Some(context.organisation_id) && user == context.user_id {
        return Ok(());
    }
    Err(TenancyError::BindingMismatch(format!(
        "expected organisation {} and user {}, the database bound {} and {}",
        context.organisation_id,
        shown(context.user_id),
        shown(organisation),
        shown(user)
    )))
}

fn shown<T: std::fmt::Display>(value: Option<T>) -> String {
    value.map_or_else(|| "none".to_owned(), |v| v.to_string())
}

/// Ends the transaction with `end` (COMMIT or ROLLBACK) and sheds the session's state in the
/// same round trip. The transaction's outcome is `end`'s; `Ok(false)` says the connection
/// kept something it must not hand on and has to be closed.
pub(crate) async fn end(client: &Client, end: &str) -> Result<bool, TenancyError> {
    let (ended, shed) = futures_util::join!(
        client.batch_execute(end),
        client.batch_execute(SHED_SESSION_STATE)
    );
    ended?;
    if let Err(error) = &shed {
        tracing::warn!(%error, "a tenant transaction left session state behind; closing its connection");
    }
    Ok(shed.is_ok())
}

/// Startup options of every runtime-role connection: no statement, lock wait or idle open
/// transaction of one tenant holds up the others for long. Options of the session (not of the
/// role), so a role-level setting cannot be needed nor weaken them.
const SESSION_TIMEOUTS: &str = "-c statement_timeout=30s -c lock_timeout=5s \
                                -c idle_in_transaction_session_timeout=60s";

/// `config` with [`SESSION_TIMEOUTS`] after the options it already has (which they override).
fn with_session_timeouts(mut config: tokio_postgres::Config) -> tokio_postgres::Config {
    let options = match config.get_options() {
        Some(existing) if !existing.trim().is_empty() => format!("{existing} {SESSION_TIMEOUTS}"),
        _ => SESSION_TIMEOUTS.to_owned(),
    };
    config.options(&options);
    config
}

/// The state of a [`Database`]'s pool, for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct PoolStatus {
    /// The most connections it may open.
    pub max_size: usize,
    /// Connections open now.
    pub size: usize,
    /// Connections lent out.
    pub in_use: usize,
    /// Callers waiting for a connection.
    pub waiting: usize,
}

/// A pool of connections as a runtime role (`maturion_app`, or `maturion_readonly`), each with
/// [`SESSION_TIMEOUTS`].
#[derive(Clone)]
pub struct Database {
    pool: Pool,
}

impl Database {
    pub fn new(
        config: tokio_postgres::Config,
        max_connections: usize,
    ) -> Result<Self, TenancyError> {
        Self::with_tls(config, max_connections, NoTls)
    }

    /// As [`Database::new`], connecting through `tls` (e.g. rustls verifying the server, for a
    /// URL with `sslmode=verify-full`: `maturion_config::ClientTls::connector`).
    pub fn with_tls<T>(
        config: tokio_postgres::Config,
        max_connections: usize,
        tls: T,
    ) -> Result<Self, TenancyError>
    where
        T: MakeTlsConnect<Socket> + Clone + Sync + Send + 'static,
        T::Stream: Sync + Send,
        T::TlsConnect: Sync + Send,
        <T::TlsConnect as TlsConnect<Socket>>::Future: Send,
    {
        // Fast recycling is safe because every transaction sheds the session's state when it
        // ends (`end`), and a connection that could not is closed instead of returned.
        let manager = Manager::from_config(
            with_session_timeouts(config),
            tls,
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

    /// Opens a transaction bound by `token` alone, for callers that know no more than the
    /// token (an HTTP request): the organisation and user are the ones the database bound it
    /// to, and [`TenantTransaction::context`] tells them. An unknown, expired or revoked token
    /// is [`TenancyError::InvalidToken`].
    pub async fn transaction_for_token(
        &self,
        token: &ApiToken,
        ip_address: Option<IpAddr>,
        user_agent: Option<String>,
    ) -> Result<TenantTransaction, TenancyError> {
        let client = self.pool.get().await?;
        let ip = ip_address.map(|a| a.to_string()).unwrap_or_default();
        let agent = user_agent.clone().unwrap_or_default();
        let bind_token = client.prepare_cached(BIND_TOKEN).await?;
        // Until the binding succeeded the connection is mid-transaction: dropping it (on `?`)
        // closes it rather than returning it to the pool.
        let mut transaction = TenantTransaction {
            client: Some(client),
            context: TenantContext::new(
                OrganisationId::from_uuid(Uuid::nil()),
                UserId::from_uuid(Uuid::nil()),
                token.clone(),
            ),
        };
        let bound = begin_with_token(transaction.client(), &bind_token, token, &ip, &agent).await?;
        let (Some(organisation), Some(user)) = bound else {
            return Err(TenancyError::BindingMismatch(
                "the token bound no organisation and user".to_owned(),
            ));
        };
        transaction.context = TenantContext::new(organisation, user, token.clone())
            .with_client(ip_address, user_agent);
        Ok(transaction)
    }

    /// How many connections the pool holds, how many are in use and how many callers wait.
    pub fn status(&self) -> PoolStatus {
        let status = self.pool.status();
        PoolStatus {
            max_size: status.max_size,
            size: status.size,
            in_use: status.size.saturating_sub(status.available),
            waiting: status.waiting,
        }
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

/// An open transaction bound to its context's tenant (and with its client address and user
/// agent set). Dropped without `commit`, it rolls back: the connection is closed rather than
/// returned to the pool mid-transaction.
pub struct TenantTransaction {
    client: Option<Object>,
    context: TenantContext,
}

impl TenantTransaction {
    async fn begin(&mut self) -> Result<(), TenancyError> {
        let client = self.client();
        let bind_token = client.prepare_cached(BIND_TOKEN).await?;
        begin(client, &bind_token, &self.context).await
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

    pub async fn commit(self) -> Result<(), TenancyError> {
        self.end("COMMIT").await
    }

    pub async fn rollback(self) -> Result<(), TenancyError> {
        self.end("ROLLBACK").await
    }

    async fn end(mut self, command: &str) -> Result<(), TenancyError> {
        let client = self.client.take().expect("open");
        match end(&client, command).await {
            Ok(true) => Ok(()),
            Ok(false) => {
                drop(Object::take(client));
                Ok(())
            }
            Err(error) => {
                drop(Object::take(client));
                Err(error)
            }
        }
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
