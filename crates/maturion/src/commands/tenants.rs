//! `maturion org create` and `maturion token create | revoke`: organisations and API tokens,
//! made as the maintenance role through the platform's functions. Output is one JSON object.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::Subcommand;
use maturion_config::DatabaseTarget;
use maturion_tenancy::provision::{self, IssuedToken};
use maturion_tenancy::UserId;
use serde_json::json;
use uuid::Uuid;

#[derive(Debug, Subcommand)]
pub enum OrgCommand {
    /// Create an organisation, its first administrator and an API token for them (printed
    /// once, never stored).
    Create {
        name: String,
        #[arg(long, value_name = "EMAIL")]
        admin_email: String,
        /// The administrator's name (default: the part of the e-mail before the @).
        #[arg(long, value_name = "NAME")]
        admin_name: Option<String>,
        #[arg(long, value_name = "DURATION", default_value = "90d", value_parser = parse_lifetime)]
        expires_in: Duration,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// A new API token for an active user (printed once, never stored).
    Create {
        #[arg(long, value_name = "ID")]
        user: String,
        /// How long it lives: a whole number of days (90d) or hours (12h), at most 3650d.
        #[arg(long, value_name = "DURATION", default_value = "90d", value_parser = parse_lifetime)]
        expires_in: Duration,
    },
    /// Revoke a token: it binds nothing any more.
    Revoke {
        #[arg(value_name = "TOKEN_ID")]
        token_id: String,
    },
}

pub async fn run_org(target: &DatabaseTarget, command: OrgCommand) -> Result<ExitCode> {
    let OrgCommand::Create {
        name,
        admin_email,
        admin_name,
        expires_in,
    } = command;
    let admin_name =
        admin_name.unwrap_or_else(|| admin_email.split('@').next().unwrap_or_default().to_owned());
    let client = maintenance(target).await?;
    let created =
        provision::create_organisation(&client, &name, &admin_email, &admin_name, expires_in)
            .await
            .context("cannot create the organisation")?;
    let mut output = token_json(&created.token);
    output["organisation_id"] = json!(created.organisation_id.to_string());
    output["user_id"] = json!(created.user_id.to_string());
    println!("{output}");
    Ok(ExitCode::SUCCESS)
}

pub async fn run_token(target: &DatabaseTarget, command: TokenCommand) -> Result<ExitCode> {
    let client = maintenance(target).await?;
    match command {
        TokenCommand::Create { user, expires_in } => {
            let user: UserId = user.parse()?;
            let issued = provision::create_token(&client, user, expires_in)
                .await
                .context("cannot create the token")?;
            println!("{}", token_json(&issued));
        }
        TokenCommand::Revoke { token_id } => {
            let id: Uuid = token_id
                .parse()
                .with_context(|| format!("malformed token id {token_id:?}: expected a UUID"))?;
            if !provision::revoke_token(&client, id).await? {
                eprintln!("no token {id}");
                return Ok(ExitCode::FAILURE);
            }
            println!("{}", json!({ "token_id": id.to_string(), "revoked": true }));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// An administrator session acting as the maintenance role, which the functions are for.
async fn maintenance(target: &DatabaseTarget) -> Result<tokio_postgres::Client> {
    let client = target.admin().await?;
    client
        .batch_execute(&format!("SET ROLE {}", maturion_schema::MAINTENANCE_ROLE))
        .await
        .context(
            "cannot act as the maintenance role (apply the migrations first: maturion migrate up)",
        )?;
    Ok(client)
}

fn token_json(issued: &IssuedToken) -> serde_json::Value {
    let expires_at: chrono::DateTime<chrono::Utc> = issued.expires_at.into();
    json!({
        "token_id": issued.id.to_string(),
        "token": issued.token.expose(),
        "expires_at": expires_at.to_rfc3339(),
    })
}

/// `90d` or `12h`: a whole, positive number of days or hours, at most 3650 days.
fn parse_lifetime(input: &str) -> Result<Duration> {
    let (number, unit_seconds) = match input.char_indices().last() {
        Some((at, 'd')) => (&input[..at], 24 * 3600),
        Some((at, 'h')) => (&input[..at], 3600),
        _ => bail!("{input:?} is not a duration: use a whole number of days (90d) or hours (12h)"),
    };
    let count: u64 = match number.parse() {
        Ok(count) if number.bytes().all(|b| b.is_ascii_digit()) => count,
        _ => bail!("{input:?} is not a duration: use a whole number of days (90d) or hours (12h)"),
    };
    let lifetime = Duration::from_secs(count.saturating_mul(unit_seconds));
    if count == 0 || lifetime > provision::MAX_TOKEN_LIFETIME {
        bail!("{input:?}: a token lives at least 1h and at most 3650d");
    }
    Ok(lifetime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetimes_are_whole_positive_days_or_hours_up_to_ten_years() {
        assert_eq!(
            parse_lifetime("90d").unwrap(),
            Duration::from_secs(90 * 86_400)
        );
        assert_eq!(
            parse_lifetime("12h").unwrap(),
            Duration::from_secs(12 * 3_600)
        );
        assert_eq!(
            parse_lifetime("3650d").unwrap(),
            provision::MAX_TOKEN_LIFETIME
        );
        for bad in [
            "",
            "d",
            "0d",
            "-1d",
            "+1d",
            "NaN",
            "NaNd",
            "infd",
            "1.5d",
            "3651d",
            "99999999999999999999d",
            "18446744073709551615d",
            "90",
            "90 d",
            "90D",
            "٣d",
        ] {
            assert!(parse_lifetime(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
