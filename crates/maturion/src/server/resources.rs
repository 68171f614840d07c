//! The generated resources under `/v1`: one set of routes per table of maturion-api's catalog,
//! registered from its route table (no per-table code); `GET /v1`, the route table itself;
//! `GET /openapi.json`, its OpenAPI 3.1 document.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Query, RawPathParams, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, on, MethodFilter};
use axum::{Extension, Json, Router};
use maturion_api::{
    ApiError, Catalog, Level, ListQuery, Method, Operation, Resource, Route, Statement, EVENTS,
    TOKENS,
};
use serde_json::{json, Value};
use uuid::Uuid;

use super::auth::Session;
use super::patterns;
use super::problem::Problem;
use super::AppState;
use super::{events, tokens};

/// What a route's handler needs to know: the route and its resource.
struct Endpoint {
    route: Route,
    resource: Resource,
}

/// Every route of the catalog, and the index at `/v1`.
pub fn router(catalog: &Catalog) -> Router<AppState> {
    let mut by_path: HashMap<String, axum::routing::MethodRouter<AppState>> = HashMap::new();
    for route in catalog.routes() {
        let handler = match catalog.resource(&route.resource) {
            Some(resource) => {
                let endpoint = Arc::new(Endpoint {
                    route: route.clone(),
                    resource: resource.clone(),
                });
                on(filter(route.method), serve).layer(Extension(endpoint))
            }
            None if route.resource == EVENTS => match route.operation {
                Operation::List => get(events::list),
                Operation::Create => axum::routing::post(events::publish),
                _ => get(events::stream),
            },
            None if route.resource == TOKENS => match route.operation {
                Operation::List => get(tokens::list),
                Operation::Create => axum::routing::post(tokens::create),
                _ => axum::routing::delete(tokens::revoke),
            },
            None => continue,
        };
        let merged = match by_path.remove(&route.path) {
            Some(existing) => existing.merge(handler),
            None => handler,
        };
        by_path.insert(route.path.clone(), merged);
    }
    let index = json!({ "resources": catalog.resources, "routes": catalog.routes() });
    let openapi = super::openapi::document(catalog);
    let mut router = Router::new()
        .route("/v1", get(move || async move { Json(index) }))
        .route("/openapi.json", get(move || async move { Json(openapi) }));
    for (path, method_router) in by_path {
        router = router.route(&path, method_router);
    }
    router
}

fn filter(method: Method) -> MethodFilter {
    match method {
        Method::Get => MethodFilter::GET,
        Method::Post => MethodFilter::POST,
        Method::Patch => MethodFilter::PATCH,
        Method::Delete => MethodFilter::DELETE,
    }
}

/// Query-string pairs, or the reason they cannot be read.
type Pairs = Result<Query<Vec<(String, String)>>, axum::extract::rejection::QueryRejection>;
type PathParams = Result<RawPathParams, axum::extract::rejection::RawPathParamsRejection>;

/// Every generated route: authenticate, authorise, check the input, run one statement, commit.
async fn serve(
    State(state): State<AppState>,
    Extension(endpoint): Extension<Arc<Endpoint>>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    path: PathParams,
    pairs: Pairs,
    body: Bytes,
) -> Response {
    let session = match Session::open(&state.database, &headers, client).await {
        Ok(session) => session,
        Err(problem) => return problem.into_response(),
    };
    let outcome = match session.require(&endpoint.route.module, endpoint.route.requires) {
        Ok(()) => {
            let input = Input {
                headers,
                path,
                pairs,
                body,
            };
            run(&session, &endpoint, input).await
        }
        Err(problem) => Err(problem),
    };
    match session.finish(outcome).await {
        Ok(response) => response,
        Err(problem) => problem.into_response(),
    }
}

pub(super) struct Input {
    headers: HeaderMap,
    path: PathParams,
    pairs: Pairs,
    body: Bytes,
}

impl Input {
    /// The `{id}` of the path, a UUID.
    pub(super) fn id(&self) -> Result<Uuid, Problem> {
        let invalid = || Problem::from(ApiError::parameter("id", "expected a UUID"));
        let params = self.path.as_ref().map_err(|_| invalid())?;
        let (_, text) = params
            .iter()
            .find(|(name, _)| *name == "id")
            .ok_or_else(invalid)?;
        Uuid::try_parse(text).map_err(|_| invalid())
    }

    fn pairs(&self) -> Result<&[(String, String)], Problem> {
        match &self.pairs {
            Ok(Query(pairs)) => Ok(pairs),
            Err(_) => Err(ApiError::parameter("query", "not a valid query string").into()),
        }
    }

    /// No query parameter but `include_deleted`, for routes of one row.
    pub(super) fn include_deleted(&self) -> Result<bool, Problem> {
        let mut include_deleted = false;
        for (key, value) in self.pairs()? {
            match (key.as_str(), value.as_str()) {
                ("include_deleted", "true") => include_deleted = true,
                ("include_deleted", "false") => include_deleted = false,
                ("include_deleted", _) => {
                    return Err(ApiError::parameter(key, "expected true or false").into())
                }
                _ => return Err(ApiError::parameter(key, "not a parameter of this route").into()),
            }
        }
        Ok(include_deleted)
    }

    pub(super) fn no_parameters(&self) -> Result<(), Problem> {
        match self.pairs()?.first() {
            Some((key, _)) => Err(ApiError::parameter(key, "not a parameter of this route").into()),
            None => Ok(()),
        }
    }

    /// The version an `If-Match` header names (`"…"`, an ETag of ours), if any.
    pub(super) fn if_match(&self) -> Result<Option<String>, Problem> {
        let Some(value) = self.headers.get(header::IF_MATCH) else {
            return Ok(None);
        };
        let version = value
            .to_str()
            .ok()
            .and_then(|v| v.trim().strip_prefix('"')?.strip_suffix('"'))
            .ok_or_else(|| {
                Problem::from(ApiError::parameter(
                    "If-Match",
                    "expected an ETag of this row",
                ))
            })?;
        Ok(Some(version.to_owned()))
    }

    pub(super) fn json(&self) -> Result<Value, Problem> {
        serde_json::from_slice(&self.body)
            .map_err(|error| ApiError::MalformedBody(format!("not JSON: {error}")).into())
    }
}

async fn run(session: &Session, endpoint: &Endpoint, input: Input) -> Result<Response, Problem> {
    let resource = &endpoint.resource;
    let not_found = || Problem::not_found(&resource.name);
    match endpoint.route.operation {
        Operation::List => {
            let query = ListQuery::parse(resource, input.pairs()?)?;
            if query.include_deleted {
                session.require(&resource.module, Level::Admin)?;
            }
            list(session, resource, &query).await
        }
        Operation::AuditLog => {
            let modules = session.readable_modules();
            let query = ListQuery::parse_audit_log(resource, input.pairs()?, modules)?;
            if query.include_deleted {
                session.require(&resource.module, Level::Admin)?;
            }
            list(session, resource, &query).await
        }
        Operation::Get => {
            let id = input.id()?;
            let include_deleted = input.include_deleted()?;
            if include_deleted {
                session.require(&resource.module, Level::Admin)?;
            }
            let row = one(session, &resource.select_one(id, include_deleted)).await?;
            Ok(versioned(
                resource,
                StatusCode::OK,
                row.ok_or_else(not_found)?,
            ))
        }
        Operation::Create => {
            input.no_parameters()?;
            let statement = resource.insert(&input.json()?)?;
            let row = one(session, &statement).await?.ok_or_else(not_found)?;
            let location = row["id"]
                .as_str()
                .map(|id| format!("/v1/{}/{id}", resource.name))
                .unwrap_or_default();
            let mut response = versioned(resource, StatusCode::CREATED, row);
            if let Ok(location) = header::HeaderValue::from_str(&location) {
                response.headers_mut().insert(header::LOCATION, location);
            }
            Ok(response)
        }
        Operation::Update if resource.versioning.is_some() => {
            patterns::change(session, resource, &input).await
        }
        Operation::Update => {
            let id = input.id()?;
            input.no_parameters()?;
            let version = input.if_match()?;
            let statement = resource.update(id, &input.json()?, version.as_deref())?;
            match one(session, &statement).await? {
                Some(row) => Ok(versioned(resource, StatusCode::OK, row)),
                None if version.is_some() && still_there(session, resource, id).await? => {
                    Err(Problem::new(
                        StatusCode::PRECONDITION_FAILED,
                        "the row changed since this version (If-Match); read it again",
                    )
                    .with_field("If-Match"))
                }
                None => Err(not_found()),
            }
        }
        Operation::Delete => {
            let id = input.id()?;
            input.no_parameters()?;
            one(session, &resource.soft_delete(id))
                .await?
                .ok_or_else(not_found)?;
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        Operation::Restore => {
            let id = input.id()?;
            input.no_parameters()?;
            let row = one(session, &resource.restore(id)).await?;
            Ok(versioned(
                resource,
                StatusCode::OK,
                row.ok_or_else(not_found)?,
            ))
        }
        Operation::History => {
            let id = input.id()?;
            input.no_parameters()?;
            history(session, resource, id).await
        }
        Operation::Versions => patterns::versions(session, resource, &input).await,
        Operation::Transition => patterns::transition(session, resource, &input).await,
        // Only the event routes stream, and they have handlers of their own.
        Operation::Stream => Err(Problem::not_found(&resource.name)),
    }
}

/// A row with its version as the ETag.
pub(super) fn versioned(resource: &Resource, status: StatusCode, row: Value) -> Response {
    let etag = resource
        .version_of(&row)
        .and_then(|version| header::HeaderValue::from_str(&format!("\"{version}\"")).ok());
    let mut response = (status, Json(row)).into_response();
    if let Some(etag) = etag {
        response.headers_mut().insert(header::ETAG, etag);
    }
    response
}

/// Whether a live row of this id exists (in this organisation).
pub(super) async fn still_there(
    session: &Session,
    resource: &Resource,
    id: Uuid,
) -> Result<bool, Problem> {
    Ok(one(session, &resource.select_one(id, false))
        .await?
        .is_some())
}

pub(super) async fn one(
    session: &Session,
    statement: &Statement,
) -> Result<Option<Value>, Problem> {
    let transaction = &session.transaction;
    let row = if statement.reusable {
        let prepared = transaction.prepare(&statement.sql).await?;
        transaction
            .query_opt(&prepared, &statement.params())
            .await?
    } else {
        transaction
            .query_opt(statement.sql.as_str(), &statement.params())
            .await?
    };
    Ok(row.map(|row| row.get(0)))
}

async fn list(
    session: &Session,
    resource: &Resource,
    query: &ListQuery,
) -> Result<Response, Problem> {
    let statement = resource.list(query);
    let rows = session
        .transaction
        .query(statement.sql.as_str(), &statement.params())
        .await?;
    let mut items: Vec<Value> = rows.iter().map(|row| row.get(0)).collect();
    let more = items.len() as i64 > query.limit;
    items.truncate(query.limit as usize);
    let next_cursor = match items.last() {
        Some(last) if more => query.cursor_after(last),
        _ => None,
    };
    Ok(Json(json!({ "items": items, "next_cursor": next_cursor })).into_response())
}

async fn history(session: &Session, resource: &Resource, id: Uuid) -> Result<Response, Problem> {
    let exists = resource.exists(id);
    let row = session
        .transaction
        .query_one(exists.sql.as_str(), &exists.params())
        .await?;
    if !row.get::<_, bool>(0) {
        return Err(Problem::not_found(&resource.name));
    }
    let statement = resource.history(id);
    let rows = session
        .transaction
        .query(statement.sql.as_str(), &statement.params())
        .await?;
    let items: Vec<Value> = rows.iter().map(|row| row.get(0)).collect();
    Ok(Json(json!({ "items": items })).into_response())
}
