//! Host events the plugin subscribes to in its manifest (`events = [...]`, capability
//! `events:subscribe`), and events it publishes (capability `events:publish`).

use serde::Serialize;
use serde::de::DeserializeOwned;

pub use crate::bindings::tessera::plugin::events::{Event, publish, publish_once};
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

/// Publishes the event `<plugin-id>.<name>` at most once per `key` (e.g. `order-42-v3`), with a
/// value serialized as its payload: true when this call published it, false when the key was
/// used before. Webhooks receive the key in the `idempotency-key` header. Since API 0.1.3.
pub fn publish_once_json<T: Serialize + ?Sized>(
    name: &str,
    key: &str,
    subject_kind: &str,
    subject_id: Id,
    payload: &T,
) -> Result<bool> {
    publish_once(name, key, subject_kind, subject_id, &to_json(payload)?)
}
