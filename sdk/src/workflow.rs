//! Approval processes on the host's workflow kernel (capability `workflow`). The outcome of an
//! approval arrives later as a `workflow.completed` event.

pub use crate::bindings::tessera::plugin::workflow::{Approval, get, start};
use crate::{Result, from_json};

impl Approval {
    /// Whether the approval still waits for a decision.
    pub fn is_pending(&self) -> bool {
        self.state == "pending"
    }

    /// The whole instance as JSON, with its history.
    pub fn data_value(&self) -> Result<serde_json::Value> {
        from_json("approval data", &self.data)
    }
}
