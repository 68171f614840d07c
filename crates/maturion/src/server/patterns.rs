//! The routes of the shared patterns (maturion-api's `patterns`): the change of a versioned
//! row, the versions of its entity, and workflow transitions. The database holds every rule
//! (one current version, the transition graph); these handlers turn its refusals into the
//! problem the client can act on.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use maturion_api::{Change, Level, Resource};
use maturion_tenancy::TenancyError;
use serde_json::{json, Value};
use uuid::Uuid;

use super::auth::Session;
use super::problem::{internal, Problem};
use super::resources::{one, still_there, versioned, Input};

/// PATCH of a versioned table: new content is the next version (200 with it, its path in
/// `Content-Location`); a change of only what is kept in place updates the current version.
/// A version that is not (or no longer) the current one: 412 when `If-Match` named it, else
/// 409.
pub(super) async fn change(
    session: &Session,
    resource: &Resource,
    input: &Input,
) -> Result<Response, Problem> {
    let id = input.id()?;
    input.no_parameters()?;
    let version = input.if_match()?;
    let if_match = version.is_some();
    match resource.change(id, &input.json()?, version.as_deref())? {
        Change::InPlace(statement) => match one(session, &statement).await? {
            Some(row) => Ok(versioned(resource, StatusCode::OK, row)),
            None => Err(unchanged(session, resource, id, if_match).await),
        },
        Change::NextVersion(statement) => {
            let created = session
                .transaction
                .query_opt(statement.sql.as_str(), &statement.params())
                .await;
            let next = match created {
                Ok(Some(row)) => row.get::<_, Value>(0),
                Ok(None) => return Err(unchanged(session, resource, id, if_match).await),
                Err(TenancyError::NotCurrentVersion(_)) => return Err(not_current(if_match)),
                Err(error) => return Err(error.into()),
            };
            let next = next
                .as_str()
                .and_then(|id| Uuid::try_parse(id).ok())
                .ok_or_else(|| internal(&"the next version has no id"))?;
            let row = one(session, &resource.select_one(next, false))
                .await?
                .ok_or_else(|| internal(&"the next version cannot be read back"))?;
            let mut response = versioned(resource, StatusCode::OK, row);
            if let Ok(location) = HeaderValue::from_str(&format!("/v1/{}/{next}", resource.name)) {
                response
                    .headers_mut()
                    .insert(header::CONTENT_LOCATION, location);
            }
            Ok(response)
        }
    }
}

/// Why a change found no row to change: none live (404), not the current version, or not
/// the version `If-Match` named (412).
async fn unchanged(session: &Session, resource: &Resource, id: Uuid, if_match: bool) -> Problem {
    let row = match one(session, &resource.select_one(id, false)).await {
        Ok(row) => row,
        Err(problem) => return problem,
    };
    match row {
        None => Problem::not_found(&resource.name),
        Some(row) if row["is_current_version"] == json!(false) => not_current(if_match),
        Some(_) => stale(),
    }
}

fn not_current(if_match: bool) -> Problem {
    if if_match {
        stale()
    } else {
        Problem::new(
            StatusCode::CONFLICT,
            "this is not the current version of its entity: change the current one (GET …/versions lists them)",
        )
        .with_field("id")
    }
}

fn stale() -> Problem {
    Problem::new(
        StatusCode::PRECONDITION_FAILED,
        "the row changed since this version (If-Match), or a next version was made from it; read it again",
    )
    .with_field("If-Match")
}

/// `GET …/{id}/versions`: 404 unless the row is there (soft-deleted too with
/// `include_deleted`, for admins).
pub(super) async fn versions(
    session: &Session,
    resource: &Resource,
    input: &Input,
) -> Result<Response, Problem> {
    let id = input.id()?;
    let include_deleted = input.include_deleted()?;
    if include_deleted {
        session.require(&resource.module, Level::Admin)?;
    }
    if one(session, &resource.select_one(id, include_deleted))
        .await?
        .is_none()
    {
        return Err(Problem::not_found(&resource.name));
    }
    let statement = resource.versions(id, include_deleted);
    let prepared = session.transaction.prepare(&statement.sql).await?;
    let rows = session
        .transaction
        .query(&prepared, &statement.params())
        .await?;
    let items: Vec<Value> = rows.iter().map(|row| row.get(0)).collect();
    Ok(Json(json!({ "items": items })).into_response())
}

/// `POST …/{id}/transitions {"to": …}`: the database's graph decides; a refused move is 409
/// naming the statuses allowed from where the row is. A stale `If-Match` is 412.
pub(super) async fn transition(
    session: &Session,
    resource: &Resource,
    input: &Input,
) -> Result<Response, Problem> {
    let id = input.id()?;
    input.no_parameters()?;
    let version = input.if_match()?;
    let to = resource.transition_target(&input.json()?)?;
    let current = match one(session, &resource.current_status(id, version.as_deref())?).await? {
        Some(current) => current,
        None if version.is_some() && still_there(session, resource, id).await? => {
            return Err(stale());
        }
        None => return Err(Problem::not_found(&resource.name)),
    };
    let current = current.as_str().unwrap_or_default().to_owned();
    if current == to {
        // Not a move: the trigger lets it pass, but the graph has no such edge.
        let allowed = one(session, &resource.allowed_transitions(&current)).await?;
        let allowed = allowed.as_ref().and_then(Value::as_str).unwrap_or_default();
        return Err(refused(
            &format!("the status is already {current}"),
            allowed,
        ));
    }
    let statement = resource.move_status(id, &to)?;
    match session
        .transaction
        .query_opt(statement.sql.as_str(), &statement.params())
        .await
    {
        Ok(Some(row)) => Ok(versioned(resource, StatusCode::OK, row.get(0))),
        Ok(None) => Err(Problem::not_found(&resource.name)),
        Err(TenancyError::TransitionRefused { message, allowed }) => {
            Err(refused(&message, &allowed.join(", ")))
        }
        Err(error) => Err(error.into()),
    }
}

fn refused(why: &str, allowed: &str) -> Problem {
    let allowed = if allowed.is_empty() {
        "none (the status is final)"
    } else {
        allowed
    };
    Problem::new(StatusCode::CONFLICT, format!("{why}; allowed: {allowed}")).with_field("to")
}
