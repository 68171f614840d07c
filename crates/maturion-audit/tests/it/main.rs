//! The audit trail against a real PostgreSQL: the trigger, immutability, sealing, tamper
//! detection and retention.

mod attribution;
mod ids;
mod immutability;
mod migrations;
mod retention;
mod seal;
mod support;
mod tamper;
mod trigger;
