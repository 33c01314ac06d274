//! An order's status history (entity `order_event`): one record per change, linked to the
//! order's customer so that every change is on the customer's timeline under its summary, and
//! owned by the order's owner so that whoever may see the order sees its history.
//!
//! Every change has a `dedupe_key` (unique) naming what caused it (`order-42-approved-v1`,
//! `order-42-shipped`): a handler that runs again, because events and callbacks arrive at least
//! once, records nothing twice.

use serde::{Deserialize, Serialize};
use tessera_sdk::records::{self, Query, Typed};
use tessera_sdk::{Error, Id, Result};

use crate::order::Stored as StoredOrder;
use crate::status::Status;
use crate::text;

pub const ENTITY: &str = "order_event";

/// Who or what made a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// A user in the CRM.
    Crm,
    /// The approval's outcome.
    Workflow,
    /// The ERP's callback.
    Erp,
}

/// A change's fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderEvent {
    pub order_id: Id,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_status: Option<Status>,
    pub to_status: Status,
    pub at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by_user_id: Option<Id>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by_label: Option<Source>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_user_id: Option<Id>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub summary: String,
    pub dedupe_key: String,
}

/// A change to record.
#[derive(Debug, Clone, Copy)]
pub struct Change<'a> {
    pub from: Option<Status>,
    pub to: Status,
    pub at: i64,
    pub by: Option<Id>,
    pub source: Source,
    pub note: Option<&'a str>,
}

/// Records a change of `order` under `key`; false when a change with that key was recorded
/// before (and nothing is recorded again).
pub fn record(order: &StoredOrder, change: &Change<'_>, key: &str) -> Result<bool> {
    let number = order.fields.number_or(order.id);
    let note = change.note.map(str::trim).filter(|n| !n.is_empty()).map(|n| n.chars().take(500).collect::<String>());
    let event = OrderEvent {
        order_id: order.id,
        number: Some(number.clone()),
        from_status: change.from,
        to_status: change.to,
        at: change.at,
        by_user_id: change.by,
        by_label: Some(change.source),
        owner_user_id: order.owner_id,
        summary: text::event_summary(&number, change.from, change.to, note.as_deref()),
        note,
        dedupe_key: key.to_owned(),
    };
    match records::insert_typed(ENTITY, &event, order.customer_id) {
        Ok(_) => Ok(true),
        // The key is unique: the change is there already.
        Err(Error::Conflict(_)) if already_recorded(key)? => Ok(false),
        Err(e) => Err(e),
    }
}

fn already_recorded(key: &str) -> Result<bool> {
    let (found, _) = records::find_typed::<OrderEvent>(&Query::new(ENTITY).eq("dedupe_key", key).limit(1))?;
    Ok(!found.is_empty())
}

/// An order's changes, oldest first.
pub fn of_order(order_id: Id) -> Result<Vec<Typed<OrderEvent>>> {
    let query = Query::new(ENTITY).eq("order_id", order_id).order_by("at").limit(200);
    Ok(records::find_typed::<OrderEvent>(&query)?.0)
}

/// A change as the JSON API answers it.
pub fn to_json(event: &Typed<OrderEvent>) -> serde_json::Value {
    let e = &event.fields;
    serde_json::json!({
        "from": e.from_status,
        "to": e.to_status,
        "at": tessera_sdk::time::rfc3339(e.at),
        "by_user_id": e.by_user_id,
        "source": e.by_label,
        "note": e.note,
    })
}
