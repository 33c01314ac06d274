//! Domain events. Every write that other parts of the CRM react to records an event in the
//! `outbox` table, in the same transaction as the write itself: an event exists if and only
//! if its change was committed. The dispatcher that delivers them to subscribers reads the
//! outbox in id order.

use serde::Serialize;

use crate::error::Result;
use crate::store::{Id, now_ms};

/// An event to record.
#[derive(Debug, Clone)]
pub struct Event<'a, P: Serialize> {
    pub org_id: Id,
    /// e.g. `customer.created`, `contact.updated`, `activity.created`.
    pub topic: &'a str,
    /// The kind of record it is about (`customer`, `contact`, `activity`), and its id. Events
    /// of one aggregate are delivered in order.
    pub aggregate: (&'a str, Id),
    pub actor_user_id: Option<Id>,
    pub payload: &'a P,
}

impl<P: Serialize> Event<'_, P> {
    /// Appends the event inside `tx`.
    pub async fn record(&self, tx: &mut sqlx::Transaction<'static, sqlx::Any>) -> Result<Id> {
        let payload = serde_json::to_string(self.payload).map_err(|e| crate::Error::Internal(e.to_string()))?;
        let id: Id = sqlx::query_scalar(
            "INSERT INTO outbox (org_id, topic, aggregate_type, aggregate_id, actor_user_id, payload, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(self.org_id)
        .bind(self.topic)
        .bind(self.aggregate.0)
        .bind(self.aggregate.1)
        .bind(self.actor_user_id)
        .bind(payload)
        .bind(now_ms())
        .fetch_one(&mut **tx)
        .await?;
        Ok(id)
    }
}
