//! RFC 9457 problem documents for every error the API answers, and the mapping of the
//! libraries' errors to them. Nothing here tells one organisation about another's rows: a
//! row of another organisation is "not found" with the same body as a row that never existed,
//! and a unique or foreign-key conflict names only the constraint (whose keys all hold the
//! organisation, see maturion-api's catalog).

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use maturion_api::ApiError;
use maturion_tenancy::TenancyError;
use serde_json::{json, Value};
use tokio_postgres::error::SqlState;

/// An error answered as `application/problem+json`, with the field at fault when there is one.
#[derive(Debug)]
pub struct Problem {
    status: StatusCode,
    detail: String,
    field: Option<String>,
}

impl Problem {
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        Problem {
            status,
            detail: detail.into(),
            field: None,
        }
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn detail(&self) -> &str {
        &self.detail
    }

    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    pub fn unauthorized() -> Self {
        Problem::new(
            StatusCode::UNAUTHORIZED,
            "a valid API token is needed: Authorization: Bearer mt_…",
        )
    }

    /// The same for a row that never existed and for a row of another organisation.
    pub fn not_found(resource: &str) -> Self {
        Problem::new(StatusCode::NOT_FOUND, format!("no {resource} with this id"))
    }

    pub fn forbidden(module: &str, level: maturion_api::Level) -> Self {
        Problem::new(
            StatusCode::FORBIDDEN,
            format!(
                "this needs the {} permission on module {module}",
                level.name()
            ),
        )
    }

    fn body(&self) -> Value {
        let mut body = json!({
            "type": "about:blank",
            "title": self.status.canonical_reason().unwrap_or("error"),
            "status": self.status.as_u16(),
            "detail": self.detail,
        });
        if let Some(field) = &self.field {
            body["field"] = json!(field);
        }
        body
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let mut response = (
            self.status,
            [(header::CONTENT_TYPE, "application/problem+json")],
            self.body().to_string(),
        )
            .into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// Input refused before any SQL ran: 400 for the query string, the path and a body that is
/// not JSON; 422 for a JSON body whose fields do not fit the resource.
impl From<ApiError> for Problem {
    fn from(error: ApiError) -> Self {
        let status = match &error {
            ApiError::InvalidParameter { .. } | ApiError::BadCursor => StatusCode::BAD_REQUEST,
            ApiError::MalformedBody(_) => StatusCode::BAD_REQUEST,
            _ => StatusCode::UNPROCESSABLE_ENTITY,
        };
        Problem::new(status, error.to_string()).with_field(error.field())
    }
}

impl From<TenancyError> for Problem {
    fn from(error: TenancyError) -> Self {
        match error {
            TenancyError::InvalidToken(_) | TenancyError::BindingMismatch(_) => {
                Problem::unauthorized()
            }
            TenancyError::Conflict { constraint } => conflict(constraint),
            TenancyError::ReferenceNotFound { constraint } => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "a referenced row does not exist in this organisation",
            )
            .with_field(constraint.unwrap_or_default()),
            TenancyError::InvalidValue(message) => {
                Problem::new(StatusCode::UNPROCESSABLE_ENTITY, message)
            }
            TenancyError::PermissionDenied(_) => {
                Problem::new(StatusCode::FORBIDDEN, "the database refused this change")
            }
            TenancyError::Pool(message) => {
                tracing::warn!(%message, "no database connection");
                Problem::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the database is not reachable",
                )
            }
            TenancyError::TransitionRefused { message, allowed } => {
                Problem::new(StatusCode::CONFLICT, refused_transition(&message, &allowed))
                    .with_field("status")
            }
            // The row's state forbids the change (an older version, legal protection,
            // retention): the request is sound, the row is not in a state to take it.
            TenancyError::NotCurrentVersion(message)
            | TenancyError::Immutable(message)
            | TenancyError::Retained(message) => Problem::new(StatusCode::CONFLICT, message),
            // A value the database's stamps refuse (a grantor other than the bound user): the
            // request's own organisation and user, nothing of another's.
            TenancyError::CrossTenant(message) => {
                Problem::new(StatusCode::UNPROCESSABLE_ENTITY, message)
            }
            TenancyError::Database(error) => database_error(&error),
            other => internal(&other),
        }
    }
}

/// The database's refusal and the statuses the row may move to from where it is.
fn refused_transition(message: &str, allowed: &[String]) -> String {
    if allowed.is_empty() {
        message.to_owned()
    } else {
        format!("{message}; allowed: {}", allowed.join(", "))
    }
}

fn conflict(constraint: Option<String>) -> Problem {
    Problem::new(
        StatusCode::CONFLICT,
        "a row with the same unique key already exists in this organisation",
    )
    .with_field(constraint.unwrap_or_default())
}

/// Data exceptions (a value PostgreSQL cannot take: too long, out of range, bad text) are the
/// client's; lost races and timeouts are temporary; anything else is ours.
fn database_error(error: &tokio_postgres::Error) -> Problem {
    let Some(db) = error.as_db_error() else {
        return internal(error);
    };
    let code = db.code();
    if code.code().starts_with("22") {
        let problem = Problem::new(StatusCode::UNPROCESSABLE_ENTITY, db.message().to_owned());
        return match db.column() {
            Some(column) => problem.with_field(column),
            None => problem,
        };
    }
    if *code == SqlState::T_R_SERIALIZATION_FAILURE || *code == SqlState::T_R_DEADLOCK_DETECTED {
        return Problem::new(StatusCode::CONFLICT, "a concurrent change won; try again");
    }
    if *code == SqlState::QUERY_CANCELED || *code == SqlState::LOCK_NOT_AVAILABLE {
        return Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the database took too long; try again",
        );
    }
    internal(error)
}

pub fn internal(error: &dyn std::fmt::Display) -> Problem {
    tracing::error!(%error, "request failed");
    Problem::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal error; see the server's log",
    )
}
