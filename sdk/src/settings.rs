//! The plugin's settings: what the organisation's admin filled in the settings form the
//! manifest declares (`[[settings]]`), and values the plugin keeps for itself.

use serde::Serialize;
use serde::de::DeserializeOwned;

pub use crate::bindings::tessera::plugin::settings::{all, get, set};
use crate::{Result, from_json, to_json};

/// One setting read into `T`; `None` when it is unset and has no default.
pub fn get_typed<T: DeserializeOwned>(key: &str) -> Result<Option<T>> {
    get(key).map(|json| from_json(key, &json)).transpose()
}

/// Stores a setting the plugin keeps for itself, serialized as JSON.
pub fn set_typed<T: Serialize + ?Sized>(key: &str, value: &T) -> Result<()> {
    set(key, &to_json(value)?)
}

/// Every setting as one JSON object.
pub fn all_value() -> Result<serde_json::Value> {
    from_json("settings", &all())
}
