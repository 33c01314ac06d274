//! Lines in the host's log, tagged with the plugin's id, version and organisation.
//!
//! `tessera_sdk::log::info("synced 12 orders")`, or with `format!` for values.

pub use crate::bindings::tessera::plugin::log::{Level, write};

/// Writes a line at the `trace` level.
pub fn trace(message: impl AsRef<str>) {
    write(Level::Trace, message.as_ref());
}

/// Writes a line at the `debug` level.
pub fn debug(message: impl AsRef<str>) {
    write(Level::Debug, message.as_ref());
}

/// Writes a line at the `info` level.
pub fn info(message: impl AsRef<str>) {
    write(Level::Info, message.as_ref());
}

/// Writes a line at the `warn` level.
pub fn warn(message: impl AsRef<str>) {
    write(Level::Warn, message.as_ref());
}

/// Writes a line at the `error` level.
pub fn error(message: impl AsRef<str>) {
    write(Level::Error, message.as_ref());
}
