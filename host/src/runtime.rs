//! The plugin runtime: plugin packages and their manifests, the wasmtime engine that runs
//! them in sandboxes, the capabilities granted to them, and the tables of their records.

pub mod entities;
pub mod manifest;
