//! `/v1/events`: the organisation's events (newest first), publishing one, and the live
//! stream as Server-Sent Events. maturion-api's `events` module says who may do what; the
//! database takes the organisation and the publisher from the request's binding.
//!
//! The stream reads in short tenant transactions of its own, one per poll, each bound again
//! with the request's token (a revoked token or a lost permission ends the stream): it holds
//! no connection between polls, so a client that goes away costs nothing once its response
//! is dropped, and it ends when the server shuts down.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use maturion_api::{ApiError, EventToPublish, Level, ListQuery, PLATFORM_MODULE};
use maturion_events::{EventError, EventKey, NewEvent, StreamCursor};
use maturion_tenancy::{Database, TenancyError};
use serde_json::{json, Value};
use tokio::sync::watch;

use super::auth::Session;
use super::problem::Problem;
use super::AppState;

/// How often an idle stream looks for new commits.
const POLL: Duration = Duration::from_millis(500);
/// Events one poll reads at most; a full read is followed at once by the next.
const READ: i32 = 500;

type Pairs = Result<Query<Vec<(String, String)>>, axum::extract::rejection::QueryRejection>;

/// `GET /v1/events`: newest first, filtered like any listing, the events of the modules the
/// caller may read.
pub async fn list(
    State(state): State<AppState>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    pairs: Pairs,
) -> Response {
    with_session(&state, &headers, client, Level::Read, async |session| {
        let resource = state
            .catalog
            .event_log
            .as_ref()
            .ok_or_else(|| Problem::not_found("events"))?;
        let pairs = query_pairs(pairs)?;
        let query = ListQuery::parse_event_log(resource, &pairs, session.readable_modules())?;
        if query.include_deleted {
            session.require(PLATFORM_MODULE, Level::Admin)?;
        }
        let statement = resource.list(&query);
        let rows = session
            .transaction
            .query(statement.sql.as_str(), &statement.params())
            .await?;
        let mut items: Vec<Value> = rows.iter().map(|row| shown(row.get(0))).collect();
        let more = items.len() as i64 > query.limit;
        items.truncate(query.limit as usize);
        let next_cursor = match items.last() {
            Some(last) if more => query.cursor_after(last),
            _ => None,
        };
        Ok(Json(json!({ "items": items, "next_cursor": next_cursor })).into_response())
    })
    .await
}

/// `POST /v1/events`: one event of a module the caller may write, in the organisation and
/// the name of the token's user; 201 with the event as stored.
pub async fn publish(
    State(state): State<AppState>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    pairs: Pairs,
    body: Bytes,
) -> Response {
    with_session(&state, &headers, client, Level::Write, async |session| {
        if let Some((key, _)) = query_pairs(pairs)?.first() {
            return Err(ApiError::parameter(key, "not a parameter of this route").into());
        }
        let body: Value = serde_json::from_slice(&body)
            .map_err(|error| ApiError::MalformedBody(format!("not JSON: {error}")))?;
        let event = EventToPublish::parse(&body)?;
        session.require(&event.source_module, Level::Write)?;
        let published = maturion_events::publish(&session.transaction, &new_event(event))
            .await
            .map_err(problem)?;
        let row = session
            .transaction
            .query_one(
                "SELECT to_jsonb(e) FROM public.event_log AS e WHERE e.timestamp = $1 AND e.id = $2",
                &[&published.timestamp, &published.id],
            )
            .await?;
        Ok((StatusCode::CREATED, Json(shown(row.get(0)))).into_response())
    })
    .await
}

/// `GET /v1/events/stream`: Server-Sent Events, in commit order, from after `after` (or the
/// `Last-Event-ID` a reconnecting client sends), else from now.
pub async fn stream(
    State(state): State<AppState>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    pairs: Pairs,
) -> Response {
    let session = match Session::open(&state.database, &headers, client).await {
        Ok(session) => session,
        Err(problem) => return problem.into_response(),
    };
    let opened = async {
        session.require(PLATFORM_MODULE, Level::Read)?;
        let request = StreamRequest::parse(&query_pairs(pairs)?, &headers)?;
        let transaction = &session.transaction;
        let start = match request.after {
            Some(Start::Beginning) => StreamCursor::START,
            Some(Start::After(key)) => maturion_events::stream_position(transaction, key)
                .await
                .map_err(problem)?
                .ok_or_else(|| {
                    Problem::new(
                        StatusCode::GONE,
                        "no event of this organisation has this key (any more): follow from now, or after=0",
                    )
                    .with_field("after")
                })?,
            None => maturion_events::stream_head(transaction)
                .await
                .map_err(problem)?,
        };
        Ok((request.patterns, start))
    }
    .await;
    let (patterns, cursor) = match session.finish(opened).await {
        Ok(opened) => opened,
        Err(problem) => return problem.into_response(),
    };
    let follower = Follower {
        database: state.database.clone(),
        headers,
        client,
        patterns,
        cursor,
        pending: VecDeque::new(),
        read_again: true,
        ended: false,
        shutdown: state.shutdown.clone(),
    };
    let events = futures_util::stream::unfold(follower, Follower::next);
    Sse::new(events)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}

/// The stream's query string and headers.
struct StreamRequest {
    after: Option<Start>,
    patterns: Option<Vec<String>>,
}

/// Where a client asked its stream to start.
enum Start {
    /// `after=0`: the oldest event kept.
    Beginning,
    /// After the event of this key (an SSE id the stream sent).
    After(EventKey),
}

impl StreamRequest {
    fn parse(pairs: &[(String, String)], headers: &HeaderMap) -> Result<Self, Problem> {
        let mut after = None;
        let mut selectors = Vec::new();
        for (key, value) in pairs {
            match key.as_str() {
                "after" if after.is_some() => {
                    return Err(ApiError::parameter(key, "given more than once").into())
                }
                "after" => after = Some(cursor(key, value)?),
                "type" => selectors.push(value.clone()),
                _ => return Err(ApiError::parameter(key, "not a parameter of this route").into()),
            }
        }
        if after.is_none() {
            if let Some(last) = headers.get("last-event-id") {
                let text = last.to_str().map_err(|_| {
                    Problem::from(ApiError::parameter("Last-Event-ID", "not a cursor"))
                })?;
                after = Some(cursor("Last-Event-ID", text)?);
            }
        }
        let patterns = maturion_events::type_patterns(&selectors)
            .map_err(|error| Problem::from(ApiError::parameter("type", error.to_string())))?;
        Ok(StreamRequest { after, patterns })
    }
}

fn cursor(name: &str, text: &str) -> Result<Start, Problem> {
    if text == "0" {
        return Ok(Start::Beginning);
    }
    text.parse()
        .map(Start::After)
        .map_err(|error: EventError| ApiError::parameter(name, error.to_string()).into())
}

/// One client's stream: where it is, and what it has read but not sent yet.
struct Follower {
    database: Database,
    headers: HeaderMap,
    client: SocketAddr,
    patterns: Option<Vec<String>>,
    cursor: StreamCursor,
    pending: VecDeque<SseEvent>,
    /// The last read was full: read again without waiting.
    read_again: bool,
    ended: bool,
    shutdown: watch::Receiver<bool>,
}

impl Follower {
    async fn next(mut self) -> Option<(Result<SseEvent, Infallible>, Self)> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Some((Ok(event), self));
            }
            if self.ended || *self.shutdown.borrow() {
                return None;
            }
            if !self.read_again {
                tokio::select! {
                    _ = tokio::time::sleep(POLL) => {}
                    _ = self.shutdown.changed() => return None,
                }
            }
            if let Err(problem) = self.read().await {
                // Said once, then the stream ends; an EventSource reconnects with its
                // Last-Event-ID and gets the refusal as a status.
                self.ended = true;
                let data =
                    json!({ "status": problem.status().as_u16(), "detail": problem.detail() });
                self.pending
                    .push_back(SseEvent::default().event("error").data(data.to_string()));
            }
        }
    }

    /// One poll, in a tenant transaction of its own bound with the request's token.
    async fn read(&mut self) -> Result<(), Problem> {
        let session = Session::open(&self.database, &self.headers, self.client).await?;
        let outcome = async {
            session.require(PLATFORM_MODULE, Level::Read)?;
            let modules = session.readable_modules();
            maturion_events::stream_after(
                &session.transaction,
                self.cursor,
                self.patterns.as_deref(),
                modules.as_deref(),
                READ,
            )
            .await
            .map_err(problem)
        }
        .await;
        let read = session.finish(outcome).await?;
        self.read_again = read.items.len() >= READ as usize;
        for (_, item) in read.items {
            self.pending.push_back(match item {
                Ok(event) => {
                    let mut data = json!(event);
                    if let Some(fields) = data.as_object_mut() {
                        // The bus's commit position: a counter shared by every organisation.
                        fields.remove("position");
                    }
                    SseEvent::default()
                        .id(EventKey::of(&event).to_string())
                        .data(data.to_string())
                }
                // No key to resume after: a client that reconnects sees it again.
                Err(undecodable) => {
                    let data = json!({ "id": undecodable.id, "event_type": undecodable.event_type, "error": undecodable.error });
                    SseEvent::default()
                        .event("undecodable")
                        .data(data.to_string())
                }
            });
        }
        if let Some(next) = read.next {
            self.cursor = next;
        }
        Ok(())
    }
}

/// Opens the request's session, requires `level` on `platform`, runs `work`, commits or rolls
/// back.
async fn with_session(
    state: &AppState,
    headers: &HeaderMap,
    client: SocketAddr,
    level: Level,
    work: impl AsyncFnOnce(&Session) -> Result<Response, Problem>,
) -> Response {
    let session = match Session::open(&state.database, headers, client).await {
        Ok(session) => session,
        Err(problem) => return problem.into_response(),
    };
    let outcome = match session.require(PLATFORM_MODULE, level) {
        Ok(()) => work(&session).await,
        Err(problem) => Err(problem),
    };
    match session.finish(outcome).await {
        Ok(response) => response,
        Err(problem) => problem.into_response(),
    }
}

fn query_pairs(pairs: Pairs) -> Result<Vec<(String, String)>, Problem> {
    match pairs {
        Ok(Query(pairs)) => Ok(pairs),
        Err(_) => Err(ApiError::parameter("query", "not a valid query string").into()),
    }
}

/// An event_log row as clients see it: without the publishing transaction's id, a counter
/// shared by every organisation.
fn shown(mut row: Value) -> Value {
    if let Some(fields) = row.as_object_mut() {
        fields.remove("transaction_id");
    }
    row
}

fn new_event(event: EventToPublish) -> NewEvent {
    NewEvent {
        event_type: event.event_type,
        source_module: event.source_module,
        source_entity_type: event.source_entity_type,
        source_entity_id: event.source_entity_id,
        target_module: event.target_module,
        target_entity_type: event.target_entity_type,
        target_entity_id: event.target_entity_id,
        payload: event.payload,
    }
}

fn problem(error: EventError) -> Problem {
    match error {
        EventError::Tenancy(error) => error.into(),
        EventError::Database(error) => TenancyError::from(error).into(),
        EventError::InvalidEvent(reason) => Problem::new(StatusCode::UNPROCESSABLE_ENTITY, reason),
        other => {
            tracing::error!(error = %other, "event request failed");
            Problem::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal error; see the server's log",
            )
        }
    }
}
