//! The delivery log an administrator reads: deliveries of an endpoint with their attempts,
//! manual redelivery of dead (or delivered) ones, and a test event.

use serde::{Deserialize, Serialize};
use sqlx::Row;
use utoipa::{IntoParams, ToSchema};

use crate::audit::AuditEntry;
use crate::error::{Error, Result};
use crate::store::{Id, SqlBuf, Store, now_ms};
use crate::timefmt::{rfc3339, rfc3339_opt};

/// One event on its way to one endpoint.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Delivery {
    pub id: Id,
    pub event_id: Id,
    /// The `webhook-id` the receiver sees.
    pub message_id: String,
    pub topic: String,
    /// `pending`, `delivered` or `dead`.
    pub status: String,
    pub attempts: i64,
    /// When the next attempt is due (pending deliveries).
    pub next_attempt_at: Option<String>,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: String,
    pub finished_at: Option<String>,
}

/// One attempt at a delivery.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Attempt {
    pub attempt: i64,
    pub at: String,
    pub response_status: Option<i64>,
    pub error: Option<String>,
    pub duration_ms: i64,
    /// The beginning of the receiver's answer (up to 1 KiB), when it sent one.
    pub response_body: Option<String>,
}

/// A delivery with every attempt at it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DeliveryDetail {
    #[serde(flatten)]
    pub delivery: Delivery,
    pub attempts_log: Vec<Attempt>,
}

/// Filters of the delivery log.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeliveryQuery {
    /// `pending`, `delivered` or `dead`.
    pub status: Option<String>,
    /// Deliveries older than this id (the next page, newest first).
    pub before_id: Option<Id>,
    /// 1–500, default 50.
    pub limit: Option<i64>,
}

const COLUMNS: &str = "d.id, d.event_id, o.topic, d.status, d.attempts, d.next_attempt_at, d.last_status, d.last_error, \
    d.created_at, d.finished_at";

fn from_row(r: &sqlx::any::AnyRow) -> Result<Delivery> {
    let event_id: Id = r.try_get(1)?;
    let status: String = r.try_get(3)?;
    let next: i64 = r.try_get(5)?;
    Ok(Delivery {
        id: r.try_get(0)?,
        event_id,
        message_id: super::webhooks::message_id(event_id),
        topic: r.try_get(2)?,
        next_attempt_at: (status == "pending").then(|| rfc3339(next)),
        status,
        attempts: r.try_get(4)?,
        last_status: r.try_get(6)?,
        last_error: r.try_get(7)?,
        created_at: rfc3339(r.try_get(8)?),
        finished_at: rfc3339_opt(r.try_get(9)?),
    })
}

/// An endpoint's deliveries, newest first.
pub async fn list(store: &Store, org_id: Id, endpoint_id: Id, q: &DeliveryQuery) -> Result<Vec<Delivery>> {
    super::webhooks::get(store, org_id, endpoint_id).await?;
    let limit = q.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(Error::invalid("limit", "limit is 1 to 500"));
    }
    let mut sql =
        SqlBuf::new(format!("SELECT {COLUMNS} FROM deliveries d JOIN outbox o ON o.id = d.event_id WHERE d.org_id = "));
    sql.bind(org_id).push(" AND d.endpoint_id = ").bind(endpoint_id);
    if let Some(s) = &q.status {
        if !["pending", "delivered", "dead"].contains(&s.as_str()) {
            return Err(Error::invalid("status", "a status is pending, delivered or dead"));
        }
        sql.push(" AND d.status = ").bind(s.as_str());
    }
    if let Some(before) = q.before_id {
        sql.push(" AND d.id < ").bind(before);
    }
    sql.push(" ORDER BY d.id DESC").limit(limit);
    sql.query().fetch_all(store.pool()).await?.iter().map(from_row).collect()
}

/// One delivery of an endpoint, with its attempts.
pub async fn get(store: &Store, org_id: Id, endpoint_id: Id, id: Id) -> Result<DeliveryDetail> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM deliveries d JOIN outbox o ON o.id = d.event_id \
         WHERE d.org_id = $1 AND d.endpoint_id = $2 AND d.id = $3"
    )))
    .bind(org_id)
    .bind(endpoint_id)
    .bind(id)
    .fetch_optional(store.pool())
    .await?
    .ok_or(Error::NotFound("delivery"))?;
    let delivery = from_row(&row)?;
    let attempts_log = sqlx::query(
        "SELECT attempt, at, response_status, error, duration_ms, response_body FROM delivery_attempts \
         WHERE delivery_id = $1 ORDER BY attempt, id",
    )
    .bind(id)
    .fetch_all(store.pool())
    .await?
    .iter()
    .map(|r| {
        Ok(Attempt {
            attempt: r.try_get(0)?,
            at: rfc3339(r.try_get(1)?),
            response_status: r.try_get(2)?,
            error: r.try_get(3)?,
            duration_ms: r.try_get(4)?,
            response_body: r.try_get(5)?,
        })
    })
    .collect::<Result<_>>()?;
    Ok(DeliveryDetail { delivery, attempts_log })
}

/// Sends a delivery again from the start of the retry schedule: a dead one after the receiver
/// is fixed, or a delivered one the receiver lost. It goes out with the same `webhook-id`, and
/// after any pending events of the same record that came before it.
pub async fn redeliver(store: &Store, org_id: Id, actor: Id, endpoint_id: Id, id: Id) -> Result<DeliveryDetail> {
    let current = get(store, org_id, endpoint_id, id).await?;
    if current.delivery.status == "pending" {
        return Err(Error::Conflict("this delivery is still being attempted; wait for it to finish".into()));
    }
    let mut tx = store.begin_write().await?;
    sqlx::query(
        "UPDATE deliveries SET status = 'pending', attempts = 0, next_attempt_at = $3, leased_until = 0, finished_at = NULL \
         WHERE org_id = $1 AND id = $2",
    )
    .bind(org_id)
    .bind(id)
    .bind(now_ms())
    .execute(&mut *tx)
    .await?;
    AuditEntry::new(org_id, Some(actor), "webhook.redelivered")
        .target("delivery", id)
        .detail(serde_json::json!({ "endpoint_id": endpoint_id, "event_id": current.delivery.event_id }))
        .record(&mut *tx)
        .await?;
    tx.commit().await?;
    get(store, org_id, endpoint_id, id).await
}

/// Queues a `webhook.test` event for one endpoint only, so an administrator can see the
/// receiver answer.
pub async fn send_test(store: &Store, org_id: Id, actor: Id, endpoint_id: Id) -> Result<DeliveryDetail> {
    let endpoint = super::webhooks::get(store, org_id, endpoint_id).await?;
    if !endpoint.enabled {
        return Err(Error::Conflict("the endpoint is disabled; enable it first".into()));
    }
    let now = now_ms();
    let payload = serde_json::json!({ "endpoint_id": endpoint_id, "message": "Tessera webhook test" }).to_string();
    let mut tx = store.begin_write().await?;
    // The event is dispatched already: it goes to this endpoint alone.
    let event_id: Id = sqlx::query_scalar(
        "INSERT INTO outbox (org_id, topic, aggregate_type, aggregate_id, actor_user_id, payload, created_at, dispatched) \
         VALUES ($1, 'webhook.test', 'webhook_endpoint', $2, $3, $4, $5, 1) RETURNING id",
    )
    .bind(org_id)
    .bind(endpoint_id)
    .bind(actor)
    .bind(payload)
    .bind(now)
    .fetch_one(&mut *tx)
    .await?;
    let id: Id = sqlx::query_scalar(
        "INSERT INTO deliveries (org_id, event_id, endpoint_id, ordering_key, status, next_attempt_at, created_at) \
         VALUES ($1, $2, $3, $4, 'pending', $5, $5) RETURNING id",
    )
    .bind(org_id)
    .bind(event_id)
    .bind(endpoint_id)
    .bind(format!("webhook_endpoint:{endpoint_id}:test:{event_id}"))
    .bind(now)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    get(store, org_id, endpoint_id, id).await
}

/// The request body a delivery sends, as the receiver gets it (the event's topic, time and
/// payload), for the delivery log.
pub async fn request_body(store: &Store, org_id: Id, endpoint_id: Id, id: Id) -> Result<String> {
    let detail = get(store, org_id, endpoint_id, id).await?;
    let row = sqlx::query("SELECT topic, created_at, payload FROM outbox WHERE org_id = $1 AND id = $2")
        .bind(org_id)
        .bind(detail.delivery.event_id)
        .fetch_optional(store.pool())
        .await?
        .ok_or(Error::NotFound("event"))?;
    let (topic, created_at, payload): (String, i64, String) = (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
    Ok(super::webhooks::body(&topic, created_at, &payload))
}
