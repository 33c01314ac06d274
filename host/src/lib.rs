//! `tessera-host`: the small core of Tessera CRM. It keeps the customer database, the
//! organisations, users, departments and roles, signs people in, decides record by record
//! who may see and change what, and serves all of it over a versioned REST API. Every other
//! module of the CRM runs as a plugin against this host.

pub mod access;
pub mod audit;
pub mod auth;
pub mod cache;
pub mod cli;
pub mod customers;
pub mod demo;
pub mod error;
pub mod events;
pub mod notifications;
pub mod org;
pub mod runtime;
pub mod scheduler;
pub mod server;
pub mod store;
pub mod timefmt;
pub mod ui;
pub mod web;
pub mod workflow;

pub use error::{Error, Result};
/// Re-exported so that tests and tools use the same time library.
pub use jiff;
