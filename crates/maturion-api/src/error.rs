/// Why a request cannot be served as asked. Every variant names what was wrong (the field,
/// filter or parameter), and none is raised after anything was written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// A body field, filter or order that the resource does not have.
    #[error("{field}: no such field of {resource}")]
    UnknownField { resource: String, field: String },

    /// A field the server sets itself (ids, tenant key, audit fields).
    #[error("{field}: set by the server, not writable")]
    ReadOnlyField { field: String },

    /// A value of the wrong type or out of range or outside the allowed values.
    #[error("{field}: {reason}")]
    InvalidValue { field: String, reason: String },

    /// A required field left out of a new row.
    #[error("{field}: required")]
    MissingField { field: String },

    /// A query parameter that is not understood (a bad operator, limit or order).
    #[error("{parameter}: {reason}")]
    InvalidParameter { parameter: String, reason: String },

    /// A cursor that this server did not hand out for this listing.
    #[error("cursor: not a cursor of this listing")]
    BadCursor,

    /// The body is not a JSON object.
    #[error("body: {0}")]
    MalformedBody(String),
}

impl ApiError {
    /// The field, filter or parameter at fault, for the problem document.
    pub fn field(&self) -> &str {
        match self {
            ApiError::UnknownField { field, .. }
            | ApiError::ReadOnlyField { field }
            | ApiError::InvalidValue { field, .. }
            | ApiError::MissingField { field } => field,
            ApiError::InvalidParameter { parameter, .. } => parameter,
            ApiError::BadCursor => "cursor",
            ApiError::MalformedBody(_) => "body",
        }
    }

    pub fn invalid(field: &str, reason: impl Into<String>) -> Self {
        ApiError::InvalidValue {
            field: field.to_owned(),
            reason: reason.into(),
        }
    }

    pub fn parameter(parameter: &str, reason: impl Into<String>) -> Self {
        ApiError::InvalidParameter {
            parameter: parameter.to_owned(),
            reason: reason.into(),
        }
    }
}

/// The catalog could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("cannot read the API's resources from the catalog")]
    Query(#[from] tokio_postgres::Error),
    #[error("unexpected column description of table {table}")]
    Decode {
        table: String,
        #[source]
        source: serde_json::Error,
    },
}
