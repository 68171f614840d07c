//! The fixture tests and benchmarks start from: an organisation and its first user.

use std::net::IpAddr;

use maturion_tenancy::{Database, OrganisationId, TenancyError, TenantContext, UserId};

/// An organisation and its first user, an administrator who created their own account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    pub organisation: OrganisationId,
    pub user: UserId,
    /// What the organisation was created in and its tests reuse: its first user acting, from
    /// the client given at creation (if any).
    pub context: TenantContext,
}

/// Creates an organisation named `name` and its first user, e-mail
/// `first@<name in lower case, spaces as dashes>.example`, the way sign-up does: `app` (the
/// application role, or an administrator) writes both in one tenant transaction of the new
/// organisation.
pub async fn organisation_with_admin(app: &Database, name: &str) -> Result<Tenant, TenancyError> {
    organisation_with_admin_from(app, name, None, None).await
}

/// [`organisation_with_admin`] from a client: its address and user agent are on the
/// context, and so on the audit rows of the creation and of the tenant's later transactions.
pub async fn organisation_with_admin_from(
    app: &Database,
    name: &str,
    ip_address: Option<IpAddr>,
    user_agent: Option<String>,
) -> Result<Tenant, TenancyError> {
    let (organisation, user) = (OrganisationId::generate(), UserId::generate());
    let context = TenantContext::new(organisation)
        .with_user(user)
        .with_client(ip_address, user_agent);
    let email = format!(
        "first@{}.example",
        name.to_lowercase()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join("-")
    );
    let tx = app.transaction(&context).await?;
    tx.execute(
        "INSERT INTO organisations (id, name) VALUES ($1, $2)",
        &[&organisation, &name],
    )
    .await?;
    tx.execute(
        "INSERT INTO users (id, organisation_id, email, full_name, role, created_by) \
         VALUES ($1, $2, $3, 'First User', 'admin', $1)",
        &[&user, &organisation, &email],
    )
    .await?;
    tx.commit().await?;
    Ok(Tenant {
        organisation,
        user,
        context,
    })
}
