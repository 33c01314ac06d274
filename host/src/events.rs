//! Domain events. Every write that other parts of the CRM react to records an event in the
//! `outbox` table, in the same transaction as the write itself: an event exists if and only
//! if its change was committed. The dispatcher (`dispatch`) fans events out to their
//! subscribers, the outbound webhooks an organisation configures (`webhooks`), and delivers
//! each at least once, in order per record; administrators read the delivery log and send
//! again what failed (`deliveries`).

pub mod deliveries;
pub mod dispatch;
mod routes;
pub mod webhooks;

use serde::Serialize;

pub use dispatch::{DispatchConfig, spawn_dispatcher};

/// Counts events recorded in this process: the dispatcher watches it to fan events out as
/// soon as they are written, instead of on its next look.
static RECORDED: std::sync::LazyLock<tokio::sync::watch::Sender<u64>> =
    std::sync::LazyLock::new(|| tokio::sync::watch::channel(0).0);

/// A watch on events recorded in this process.
pub(crate) fn recorded() -> tokio::sync::watch::Receiver<u64> {
    RECORDED.subscribe()
}
pub(crate) use routes::routes;

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
        let id = self.insert(tx, None).await?;
        id.ok_or_else(|| crate::Error::Internal("an event without a key was not recorded".into()))
    }

    /// Appends the event inside `tx` unless an event of its organisation and topic was
    /// recorded with the same idempotency key: its id, or None when the key was used before.
    pub async fn record_once(&self, tx: &mut sqlx::Transaction<'static, sqlx::Any>, key: &str) -> Result<Option<Id>> {
        self.insert(tx, Some(key)).await
    }

    async fn insert(&self, tx: &mut sqlx::Transaction<'static, sqlx::Any>, key: Option<&str>) -> Result<Option<Id>> {
        let payload = serde_json::to_string(self.payload).map_err(|e| crate::Error::Internal(e.to_string()))?;
        let id: Option<Id> = sqlx::query_scalar(
            "INSERT INTO outbox (org_id, topic, aggregate_type, aggregate_id, actor_user_id, payload, created_at, \
             idempotency_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (org_id, topic, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING RETURNING id",
        )
        .bind(self.org_id)
        .bind(self.topic)
        .bind(self.aggregate.0)
        .bind(self.aggregate.1)
        .bind(self.actor_user_id)
        .bind(payload)
        .bind(now_ms())
        .bind(key)
        .fetch_optional(&mut **tx)
        .await?;
        if id.is_some() {
            RECORDED.send_modify(|n| *n = n.wrapping_add(1));
        }
        Ok(id)
    }
}

/// Appends many events of one topic inside `tx`, each about one record of `aggregate_type`
/// with its payload already written as JSON: a bulk change announces every record it changed
/// in a few statements instead of one per record.
pub async fn record_many(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    org_id: Id,
    topic: &str,
    aggregate_type: &str,
    actor_user_id: Option<Id>,
    events: &[(Id, String)],
) -> Result<()> {
    // Seven parameters a row: 500 rows stay far below both backends' limits on parameters.
    for chunk in events.chunks(500) {
        let mut sql = crate::store::SqlBuf::new(
            "INSERT INTO outbox (org_id, topic, aggregate_type, aggregate_id, actor_user_id, payload, created_at) VALUES ",
        );
        let now = now_ms();
        for (i, (aggregate_id, payload)) in chunk.iter().enumerate() {
            sql.push(if i == 0 { "(" } else { ", (" });
            sql.bind(org_id).push(", ").bind(topic).push(", ").bind(aggregate_type).push(", ").bind(*aggregate_id);
            sql.push(", ").bind(actor_user_id).push(", ").bind(payload.as_str()).push(", ").bind(now).push(")");
        }
        sql.query().execute(&mut **tx).await?;
    }
    if !events.is_empty() {
        RECORDED.send_modify(|n| *n = n.wrapping_add(1));
    }
    Ok(())
}
