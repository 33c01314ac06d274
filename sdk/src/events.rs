//! Host events the plugin subscribes to in its manifest (`events = [...]`, capability
//! `events:subscribe`), and events it publishes (capability `events:publish`).

use serde::Serialize;
use serde::de::DeserializeOwned;

pub use crate::bindings::tessera::plugin::events::{Event, publish};
use crate::{Id, Result, from_json, to_json};

impl Event {
    /// The payload as a JSON value.
    pub fn payload_value(&self) -> Result<serde_json::Value> {
        from_json(&self.topic, &self.payload)
    }

    /// The payload, read into a type of the plugin's own.
    pub fn payload_as<T: DeserializeOwned>(&self) -> Result<T> {
        from_json(&self.topic, &self.payload)
    }
}

/// Publishes the event `<plugin-id>.<name>` about a record, with a value serialized as its
/// payload.
pub fn publish_json<T: Serialize + ?Sized>(name: &str, subject_kind: &str, subject_id: Id, payload: &T) -> Result<()> {
    publish(name, subject_kind, subject_id, &to_json(payload)?)
}
