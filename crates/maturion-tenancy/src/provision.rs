//! Organisations and API tokens, made by the maintenance side (`maturion org create`,
//! `maturion token create | revoke`) through the platform's functions: the runtime roles can
//! neither call them nor read the tokens' table.

use std::time::{Duration, SystemTime};

use tokio_postgres::{Client, GenericClient};
use uuid::Uuid;

use crate::{ApiToken, OrganisationId, TenancyError, UserId};

/// The longest a token may live (the database refuses more).
pub const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(3650 * 24 * 3600);

/// A token just made: the only time its secret is seen.
#[derive(Debug)]
pub struct IssuedToken {
    pub id: Uuid,
    pub token: ApiToken,
    pub expires_at: SystemTime,
}

/// An organisation with its first user, an administrator, and that user's first token.
#[derive(Debug)]
pub struct NewOrganisation {
    pub organisation_id: OrganisationId,
    pub user_id: UserId,
    pub token: IssuedToken,
}

/// Creates an organisation, its first administrator and a token for them, in one
/// transaction. `client` is an administrator or a session of the maintenance role.
pub async fn create_organisation(
    client: &impl GenericClient,
    name: &str,
    admin_email: &str,
    admin_name: &str,
    expires_in: Duration,
) -> Result<NewOrganisation, TenancyError> {
    let row = client
        .query_one(
            "SELECT organisation_id, user_id, token_id, token, expires_at \
             FROM maturion.create_organisation($1, $2, $3, make_interval(secs => $4))",
            &[&name, &admin_email, &admin_name, &seconds(expires_in)?],
        )
        .await?;
    Ok(NewOrganisation {
        organisation_id: OrganisationId::from_uuid(row.get(0)),
        user_id: UserId::from_uuid(row.get(1)),
        token: issued(row.get(2), row.get(3), row.get(4))?,
    })
}

/// The first organisation of an empty database (a demo on a first start), made as
/// [`create_organisation`] makes one; `None`, and nothing made, when any organisation exists,
/// closed ones included. The check and the creation hold a lock on `organisations` that
/// other creations wait for, so two first starts at once make one organisation. `client` is
/// an administrator or a session of the maintenance role (which sees every organisation).
pub async fn create_first_organisation(
    client: &mut Client,
    name: &str,
    admin_email: &str,
    admin_name: &str,
    expires_in: Duration,
) -> Result<Option<NewOrganisation>, TenancyError> {
    let transaction = client.transaction().await?;
    transaction
        .batch_execute("LOCK TABLE public.organisations IN SHARE ROW EXCLUSIVE MODE")
        .await?;
    let any: bool = transaction
        .query_one("SELECT EXISTS (SELECT FROM public.organisations)", &[])
        .await?
        .get(0);
    if any {
        return Ok(None);
    }
    let created =
        create_organisation(&transaction, name, admin_email, admin_name, expires_in).await?;
    transaction.commit().await?;
    Ok(Some(created))
}

/// A new token for an active user.
pub async fn create_token(
    client: &Client,
    user: UserId,
    expires_in: Duration,
) -> Result<IssuedToken, TenancyError> {
    let row = client
        .query_one(
            "SELECT token_id, token, expires_at \
             FROM maturion.create_token($1, make_interval(secs => $2))",
            &[&user, &seconds(expires_in)?],
        )
        .await?;
    issued(row.get(0), row.get(1), row.get(2))
}

/// Revokes a token; false when there is no such token.
pub async fn revoke_token(client: &Client, token_id: Uuid) -> Result<bool, TenancyError> {
    let row = client
        .query_one("SELECT maturion.revoke_token($1)", &[&token_id])
        .await?;
    Ok(row.get(0))
}

fn seconds(expires_in: Duration) -> Result<f64, TenancyError> {
    if expires_in.is_zero() || expires_in > MAX_TOKEN_LIFETIME {
        return Err(TenancyError::InvalidValue(format!(
            "a token lives more than 0 s and at most 3650 days, not {} s",
            expires_in.as_secs()
        )));
    }
    Ok(expires_in.as_secs_f64())
}

fn issued(id: Uuid, token: &str, expires_at: SystemTime) -> Result<IssuedToken, TenancyError> {
    let token = token
        .parse()
        .map_err(|error| TenancyError::InvalidToken(format!("{error}")))?;
    Ok(IssuedToken {
        id,
        token,
        expires_at,
    })
}
