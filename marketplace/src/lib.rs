//! `tessera-marketplace`: the marketplace's registry server. Publishers sign up, register
//! their Ed25519 keys, claim plugin ids and get certificates signed by the marketplace's root
//! key; they upload signed `.tpkg` packages, which are checked as a host would check them (the
//! host's own reading of a component: manifest, plugin API range, imports, capabilities) and
//! put on sale with a listing. Anyone browses the catalog, as JSON or as pages in Chinese and
//! English; organisations buy plugins and get license tokens a host checks offline; the
//! operator revokes versions and keys in a signed, numbered list hosts fetch. The formats
//! and their checks are `tessera-package`'s; this crate holds accounts, state and HTTP.
//!
//! It runs on SQLite (a data directory) or PostgreSQL, like the host, with migrations of its
//! own for each (`migrations/`).
//!
//! The crate's second binary, `tessera-plugin`, is the plugin developer's side of the
//! marketplace ([`dev`]): new crate, build, test, keys, packages, signing and publishing.

#![forbid(unsafe_code)]

pub mod accounts;
pub mod catalog;
pub mod dev;
pub mod error;
pub mod packages;
pub mod pages;
pub mod publishers;
pub mod purchases;
pub mod revocations;
pub mod server;
pub mod web;

pub use error::{Error, Result};
