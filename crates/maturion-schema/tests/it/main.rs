//! Integration tests of the global schema against a real PostgreSQL.

mod isolation;
mod schema;
