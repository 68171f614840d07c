//! The HTTP API's resource model, generated from the live catalog: every tenant table the
//! application role can read becomes a resource (`/v1/<table>`), its operations following from
//! the table's shape and the role's privileges, and its module from the audit trail's arguments
//! (`maturion.enable_tenant_isolation(table, module)`). For each operation this crate builds
//! parameterised SQL (identifiers from the catalog, quoted; values as parameters) and checks
//! the client's input first, so a bad value is refused naming its field before anything runs.
//!
//! It knows no HTTP framework: the server maps [`Route`]s to handlers and [`ApiError`]s to
//! problem documents.

mod catalog;
mod error;
mod events;
mod listing;
mod model;
mod openapi;
mod patterns;
mod permissions;
mod statements;
mod tokens;
mod values;

pub use catalog::{load, Catalog, Skipped, AUDIT_LOG};
pub use error::{ApiError, CatalogError};
pub use events::{event_routes, EventToPublish, EVENTS, EVENT_LOG};
pub use listing::{
    Comparison, Condition, Cursor, Filter, ListQuery, Order, DEFAULT_LIMIT, MAX_LIMIT,
};
pub use model::{
    audit_log_route, token_routes, Column, Level, Method, Operation, Resource, Route, ValueKind,
    PLATFORM_MODULE, TOKENS,
};
pub use patterns::{
    Change, Search, SearchTerms, Transition, Versioning, Workflow, MAX_SEARCH_CHARS, VERSIONS_LIMIT,
};
pub use permissions::{Permissions, PERMISSIONS_OF_BOUND_USER};
pub use statements::{Statement, HISTORY_LIMIT};
pub use tokens::NewToken;

impl Catalog {
    /// Every route of every resource, then the audit log's, the token and the event routes,
    /// in a fixed order.
    pub fn routes(&self) -> Vec<Route> {
        let resources = self.resources.iter().flat_map(Resource::routes);
        let audit_log = self.audit_log.as_ref().map(|_| audit_log_route());
        let events = self.event_log.iter().flat_map(|_| event_routes());
        resources
            .chain(audit_log)
            .chain(token_routes())
            .chain(events)
            .collect()
    }

    /// A served resource, the audit log included.
    pub fn resource(&self, name: &str) -> Option<&Resource> {
        self.resources
            .iter()
            .chain(&self.audit_log)
            .chain(&self.event_log)
            .find(|resource| resource.name == name)
    }
}
