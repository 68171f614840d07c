//! The fixture tests and benchmarks start from: an organisation and its first user.

use std::net::IpAddr;

use maturion_tenancy::{ApiToken, OrganisationId, TenancyError, TenantContext, UserId};
use tokio_postgres::Client;
use uuid::Uuid;

/// An organisation and its first user, an administrator who created their own account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    pub organisation: OrganisationId,
    pub user: UserId,
    /// The first user's API token, as `maturion org create` prints it.
    pub token: ApiToken,
    /// What the tenant's tests open transactions with: the first user, bound with their token,
    /// from the client given at creation (if any).
    pub context: TenantContext,
}

/// Creates an organisation named `name`, its first user (e-mail `first@<name in lower case,
/// spaces as dashes>.example`, name First User) and an API token for that user, the way
/// `maturion org create` does: `maturion.create_organisation`, called by `admin` (an
/// administrator, or a session of the maintenance role).
pub async fn organisation_with_admin(admin: &Client, name: &str) -> Result<Tenant, TenancyError> {
    organisation_with_admin_from(admin, name, None, None).await
}

/// [`organisation_with_admin`] from a client, as a sign-up: its address and user agent are on
/// the audit rows of the creation and of the tenant's transactions.
pub async fn organisation_with_admin_from(
    admin: &Client,
    name: &str,
    ip_address: Option<IpAddr>,
    user_agent: Option<String>,
) -> Result<Tenant, TenancyError> {
    let email = format!(
        "first@{}.example",
        name.to_lowercase()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join("-")
    );
    let row = admin
        .query_one(
            "SELECT organisation_id, user_id, token \
             FROM maturion.create_organisation($1, $2, 'First User', client_address => $3, client_agent => $4)",
            &[&name, &email, &ip_address, &user_agent],
        )
        .await?;
    let organisation = OrganisationId::from_uuid(row.get::<_, Uuid>(0));
    let user = UserId::from_uuid(row.get::<_, Uuid>(1));
    let token = parse_token(row.get(2))?;
    let context =
        TenantContext::new(organisation, user, token.clone()).with_client(ip_address, user_agent);
    Ok(Tenant {
        organisation,
        user,
        token,
        context,
    })
}

/// Begins a transaction on `client` bound with `tenant`'s token, for a session outside
/// `maturion_tenancy` (an administrator loading rows as the tenant's first user, whom the
/// stamps and the audit trail then name). The caller ends it with SQL.
pub async fn begin_as(client: &Client, tenant: &Tenant) -> Result<(), TenancyError> {
    client.batch_execute("BEGIN").await?;
    client
        .execute("SELECT maturion.bind_tenant($1)", &[&tenant.token.expose()])
        .await?;
    Ok(())
}

/// A new API token for an active user (`maturion.create_token`, called by `admin`).
pub async fn token_for(admin: &Client, user: UserId) -> Result<ApiToken, TenancyError> {
    let row = admin
        .query_one("SELECT token FROM maturion.create_token($1)", &[&user])
        .await?;
    parse_token(row.get(0))
}

fn parse_token(token: &str) -> Result<ApiToken, TenancyError> {
    token
        .parse()
        .map_err(|error| TenancyError::InvalidToken(format!("{error}")))
}
