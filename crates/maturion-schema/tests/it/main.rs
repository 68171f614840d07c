//! Integration tests of the global schema against a real PostgreSQL.

mod binding;
mod isolation;
mod patterns;
mod schema;
