//! `/v1/tokens`: the organisation's administrator lists, makes and revokes its API tokens,
//! through the platform's `maturion.admin_*_token` functions (which check the grant again).

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use maturion_api::{ApiError, Level, NewToken, PLATFORM_MODULE};
use serde_json::{json, Value};
use uuid::Uuid;

use super::auth::Session;
use super::problem::Problem;
use super::AppState;

const LIST: &str =
    "SELECT coalesce(jsonb_agg(to_jsonb(t)), '[]') FROM maturion.admin_list_tokens() AS t";
const CREATE: &str = "SELECT token_id, token, expires_at \
                      FROM maturion.admin_create_token($1, make_interval(days => $2))";
const REVOKE: &str = "SELECT maturion.admin_revoke_token($1)";

pub async fn list(
    State(state): State<AppState>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    as_administrator(&state, &headers, client, async |session| {
        let row = session.transaction.query_one(LIST, &[]).await?;
        let items: Value = row.get(0);
        Ok(Json(json!({ "items": items })).into_response())
    })
    .await
}

pub async fn create(
    State(state): State<AppState>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    as_administrator(&state, &headers, client, async |session| {
        let body: Value = serde_json::from_slice(&body)
            .map_err(|error| ApiError::MalformedBody(format!("not JSON: {error}")))?;
        let request = NewToken::parse(&body)?;
        let row = session
            .transaction
            .query_one(CREATE, &[&request.user_id, &request.expires_in_days])
            .await?;
        let token_id: Uuid = row.get(0);
        let expires_at: chrono::DateTime<chrono::Utc> =
            row.get::<_, std::time::SystemTime>(2).into();
        let issued = json!({
            "token_id": token_id,
            "user_id": request.user_id,
            "token": row.get::<_, &str>(1),
            "expires_at": expires_at.to_rfc3339(),
        });
        Ok((StatusCode::CREATED, Json(issued)).into_response())
    })
    .await
}

pub async fn revoke(
    State(state): State<AppState>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    id: Result<Path<String>, axum::extract::rejection::PathRejection>,
) -> Response {
    as_administrator(&state, &headers, client, async |session| {
        let id = id
            .ok()
            .and_then(|Path(id)| Uuid::try_parse(&id).ok())
            .ok_or_else(|| Problem::from(ApiError::parameter("id", "expected a UUID")))?;
        let revoked: bool = session.transaction.query_one(REVOKE, &[&id]).await?.get(0);
        if revoked {
            Ok(StatusCode::NO_CONTENT.into_response())
        } else {
            Err(Problem::not_found("tokens"))
        }
    })
    .await
}

/// Opens the request's session, requires `platform` `admin`, runs `work`, commits or rolls back.
async fn as_administrator(
    state: &AppState,
    headers: &HeaderMap,
    client: SocketAddr,
    work: impl AsyncFnOnce(&Session) -> Result<Response, Problem>,
) -> Response {
    let session = match Session::open(&state.database, headers, client).await {
        Ok(session) => session,
        Err(problem) => return problem.into_response(),
    };
    let outcome = match session.require(PLATFORM_MODULE, Level::Admin) {
        Ok(()) => work(&session).await,
        Err(problem) => Err(problem),
    };
    match session.finish(outcome).await {
        Ok(response) => response,
        Err(problem) => problem.into_response(),
    }
}
