//! The dispatcher: it fans every committed outbox event out to its subscribers as deliveries,
//! then delivers each at least once.
//!
//! Fan-out takes undispatched events in id order, writes one delivery per subscriber whose
//! topics take the event, and marks the events dispatched, all in one transaction: an event is
//! fanned out exactly once, and a crash in between leaves it to be fanned out again whole.
//! Delivery takes due deliveries whose record has no earlier delivery still pending for the
//! same subscriber (so events of one customer arrive in order), leases them, sends them
//! concurrently, and records each outcome. A crash after sending and before recording sends
//! again when the lease runs out: receivers see each event at least once, and drop repeats by
//! the `webhook-id` header.
//!
//! On PostgreSQL several nodes share the work: each takes events and deliveries no other node
//! holds (`FOR UPDATE SKIP LOCKED`, leases).

use std::time::Duration;

use futures::StreamExt as _;
use rand::Rng as _;
use sqlx::Row;

use super::webhooks::{self, Attempted, Outcome};
use crate::error::Result;
use crate::notifications::{self, reactions};
use crate::store::{Id, SqlArg, SqlBuf, Store, bulk_insert, duration_ms, now_ms};

/// How the dispatcher paces itself.
#[derive(Debug, Clone)]
pub struct DispatchConfig {
    /// The wait after each failed attempt: the first entry after the first failure, and so
    /// on; after the last, the delivery is dead (kept for manual redelivery).
    pub retry_delays: Vec<Duration>,
    /// Each wait is stretched or shrunk by up to this fraction at random, so that retries of
    /// many deliveries do not arrive together.
    pub jitter: f64,
    /// The longest wait a receiver's `Retry-After` may ask for.
    pub max_retry_after: Duration,
    /// How long one request may take.
    pub request_timeout: Duration,
    /// Requests in flight at once, per sender.
    pub concurrency: usize,
    /// Sender tasks per node: while one records a batch's outcomes, another sends.
    pub senders: usize,
    /// Events fanned out, and deliveries taken, per transaction.
    pub batch: i64,
    /// How long a node holds deliveries it is sending.
    pub lease: Duration,
    /// How often an idle dispatcher looks for work.
    pub idle: Duration,
}

impl Default for DispatchConfig {
    /// The schedule documented in `docs/api.md`: retries after 5 s, 1 min, 5 min, 30 min,
    /// 2 h, 6 h, 12 h and 24 h (about 45 h in all), each ±20 %.
    fn default() -> Self {
        let m = 60;
        DispatchConfig {
            retry_delays: [5, m, 5 * m, 30 * m, 2 * 3600, 6 * 3600, 12 * 3600, 24 * 3600]
                .into_iter()
                .map(Duration::from_secs)
                .collect(),
            jitter: 0.2,
            max_retry_after: Duration::from_secs(24 * 3600),
            request_timeout: Duration::from_secs(15),
            concurrency: 32,
            senders: 3,
            batch: 500,
            lease: Duration::from_secs(60),
            idle: Duration::from_millis(50),
        }
    }
}

/// What one fan-out did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FannedOut {
    /// Events taken from the outbox.
    pub events: usize,
    /// Deliveries written for webhooks.
    pub deliveries: usize,
    /// Notifications host reactions made.
    pub notifications: usize,
}

/// Fans out up to one batch of undispatched events: host reactions run in the same
/// transaction (so each takes effect once), webhook deliveries are written, and the events
/// are marked dispatched.
pub async fn fan_out(store: &Store, batch: i64) -> Result<FannedOut> {
    let any: Option<Id> =
        sqlx::query_scalar("SELECT id FROM outbox WHERE dispatched = 0 LIMIT 1").fetch_optional(store.pool()).await?;
    if any.is_none() {
        return Ok(FannedOut::default());
    }
    let lock = store.skip_locked(" FOR UPDATE SKIP LOCKED");
    let mut tx = store.begin_write().await?;
    let events = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT id, org_id, topic, aggregate_type, aggregate_id, actor_user_id FROM outbox WHERE dispatched = 0 \
         ORDER BY id LIMIT {batch}{lock}"
    )))
    .fetch_all(&mut *tx)
    .await?;
    if events.is_empty() {
        return Ok(FannedOut::default());
    }
    let mut orgs: Vec<Id> = Vec::new();
    for e in &events {
        let org: Id = e.try_get(1)?;
        if !orgs.contains(&org) {
            orgs.push(org);
        }
    }
    let mut sql = SqlBuf::new("SELECT id, org_id, topics FROM webhook_endpoints WHERE org_id IN ");
    sql.bind_list(&orgs);
    let endpoints: Vec<(Id, Id, String)> = sql.query_as().fetch_all(&mut *tx).await?;
    let now = now_ms();
    let mut rows = Vec::new();
    let mut ids = Vec::with_capacity(events.len());
    let mut made = Vec::new();
    for e in &events {
        let (id, org_id, topic, kind, aggregate): (Id, Id, String, String, Id) =
            (e.try_get(0)?, e.try_get(1)?, e.try_get(2)?, e.try_get(3)?, e.try_get(4)?);
        ids.push(id);
        if reactions::reacts_to(&topic) {
            let payload: String =
                sqlx::query_scalar("SELECT payload FROM outbox WHERE id = $1").bind(id).fetch_one(&mut *tx).await?;
            let event = reactions::EventRow { id, org_id, topic: topic.clone(), actor_user_id: e.try_get(5)?, payload };
            made.extend(reactions::react(&mut tx, &event).await?);
        }
        for (endpoint_id, _, _) in
            endpoints.iter().filter(|(_, o, t)| *o == org_id && webhooks::topics_match(t, &topic))
        {
            rows.push(vec![
                SqlArg::Int(org_id),
                SqlArg::Int(id),
                SqlArg::Int(*endpoint_id),
                format!("{kind}:{aggregate}").into(),
                "pending".into(),
                SqlArg::Int(now),
                SqlArg::Int(now),
            ]);
        }
    }
    let deliveries = rows.len();
    bulk_insert(
        &mut tx,
        "deliveries",
        &["org_id", "event_id", "endpoint_id", "ordering_key", "status", "next_attempt_at", "created_at"],
        rows,
    )
    .await?;
    for chunk in ids.chunks(1000) {
        let mut sql = SqlBuf::new("UPDATE outbox SET dispatched = 1 WHERE id IN ");
        sql.bind_list(chunk);
        sql.query().execute(&mut *tx).await?;
    }
    tx.commit().await?;
    notifications::announce(store, &made);
    Ok(FannedOut { events: events.len(), deliveries, notifications: made.len() })
}

/// A delivery taken for sending, with what sending needs.
#[derive(Debug, Clone)]
struct Due {
    id: Id,
    event_id: Id,
    endpoint_id: Id,
    attempts: i64,
    url: String,
    secret: String,
    /// The key of an event published once per key.
    idempotency_key: Option<String>,
    body: String,
}

/// Takes up to one batch of due deliveries and leases them to this node. A delivery is due
/// when its time has come, its endpoint is enabled, no node holds it, and no earlier event of
/// its record is still pending for the same endpoint.
async fn take_due(store: &Store, config: &DispatchConfig) -> Result<Vec<Due>> {
    let now = now_ms();
    let lock = store.skip_locked(" FOR UPDATE OF d SKIP LOCKED");
    let any: Option<Id> = sqlx::query_scalar(
        "SELECT id FROM deliveries WHERE status = 'pending' AND next_attempt_at <= $1 AND leased_until <= $1 LIMIT 1",
    )
    .bind(now)
    .fetch_optional(store.pool())
    .await?;
    if any.is_none() {
        return Ok(Vec::new());
    }
    let mut tx = store.begin_write().await?;
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT d.id, d.event_id, d.endpoint_id, d.attempts, w.url, w.secret, o.topic, o.created_at, o.payload, \
         o.idempotency_key \
         FROM deliveries d \
         JOIN webhook_endpoints w ON w.org_id = d.org_id AND w.id = d.endpoint_id \
         JOIN outbox o ON o.id = d.event_id \
         WHERE d.status = 'pending' AND d.next_attempt_at <= $1 AND d.leased_until <= $1 AND w.enabled = 1 \
         AND NOT EXISTS (SELECT 1 FROM deliveries e WHERE e.status = 'pending' AND e.endpoint_id = d.endpoint_id \
             AND e.ordering_key = d.ordering_key AND e.event_id < d.event_id) \
         ORDER BY d.next_attempt_at, d.id LIMIT {}{lock}",
        config.batch
    )))
    .bind(now)
    .fetch_all(&mut *tx)
    .await?;
    let mut due = Vec::with_capacity(rows.len());
    for r in &rows {
        let (topic, created_at, payload): (String, i64, String) = (r.try_get(6)?, r.try_get(7)?, r.try_get(8)?);
        due.push(Due {
            id: r.try_get(0)?,
            event_id: r.try_get(1)?,
            endpoint_id: r.try_get(2)?,
            attempts: r.try_get(3)?,
            url: r.try_get(4)?,
            secret: r.try_get(5)?,
            idempotency_key: r.try_get(9)?,
            body: webhooks::body(&topic, created_at, &payload),
        });
    }
    let lease_until = now + duration_ms(config.lease);
    let ids: Vec<Id> = due.iter().map(|d| d.id).collect();
    for chunk in ids.chunks(1000) {
        let mut sql = SqlBuf::new("UPDATE deliveries SET leased_until = ");
        sql.bind(lease_until).push(" WHERE id IN ").bind_list(chunk);
        sql.query().execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(due)
}

/// The wait before the next attempt after `attempts` failed ones, or `None` when the schedule
/// is used up. A receiver's `Retry-After` wins when it asks for longer (up to a bound).
pub fn next_wait(config: &DispatchConfig, attempts: i64, retry_after: Option<Duration>) -> Option<Duration> {
    let scheduled = *config.retry_delays.get(usize::try_from(attempts - 1).ok()?)?;
    let factor = 1.0 + config.jitter * rand::rng().random_range(-1.0..=1.0);
    let jittered = scheduled.mul_f64(factor.max(0.0));
    Some(match retry_after {
        Some(asked) => jittered.max(asked.min(config.max_retry_after)),
        None => jittered,
    })
}

/// Records what became of the attempts at `sent` deliveries.
async fn record(store: &Store, config: &DispatchConfig, sent: Vec<(Due, Result<Attempted>, i64)>) -> Result<()> {
    let now = now_ms();
    let mut tx = store.begin_write().await?;
    let mut attempts = Vec::with_capacity(sent.len());
    let mut delivered: std::collections::BTreeMap<u16, Vec<Id>> = std::collections::BTreeMap::new();
    for (due, outcome, took_ms) in sent {
        let attempt = due.attempts + 1;
        let (outcome, response) = outcome
            .unwrap_or_else(|e| (Outcome::Failed { status: None, error: e.to_string(), retry_after: None }, None));
        let (status, error) = match &outcome {
            Outcome::Delivered { status } => (Some(i64::from(*status)), None),
            Outcome::Gone => (Some(410), Some("the endpoint answered 410 Gone; it is disabled".to_owned())),
            Outcome::Failed { status, error, .. } => (status.map(i64::from), Some(error.clone())),
        };
        attempts.push(vec![
            SqlArg::Int(due.id),
            SqlArg::Int(attempt),
            SqlArg::Int(now),
            SqlArg::OptInt(status),
            SqlArg::OptText(error.clone()),
            SqlArg::Int(took_ms),
            SqlArg::OptText(response),
        ]);
        match outcome {
            Outcome::Delivered { status } => delivered.entry(status).or_default().push(due.id),
            Outcome::Gone => {
                // The receiver asked for nothing more: the endpoint stops, its other
                // deliveries wait until an administrator enables it again.
                sqlx::query(
                    "UPDATE deliveries SET status = 'dead', attempts = $2, last_status = 410, last_error = $3, \
                     leased_until = 0, finished_at = $4 WHERE id = $1",
                )
                .bind(due.id)
                .bind(attempt)
                .bind(&error)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "UPDATE webhook_endpoints SET enabled = 0, disabled_reason = $2, updated_at = $3 WHERE id = $1",
                )
                .bind(due.endpoint_id)
                .bind("the endpoint answered 410 Gone")
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
            Outcome::Failed { retry_after, .. } => match next_wait(config, attempt, retry_after) {
                Some(wait) => {
                    let at = now + duration_ms(wait);
                    sqlx::query(
                        "UPDATE deliveries SET attempts = $2, last_status = $3, last_error = $4, next_attempt_at = $5, \
                         leased_until = 0 WHERE id = $1",
                    )
                    .bind(due.id)
                    .bind(attempt)
                    .bind(status)
                    .bind(&error)
                    .bind(at)
                    .execute(&mut *tx)
                    .await?;
                }
                None => {
                    sqlx::query(
                        "UPDATE deliveries SET status = 'dead', attempts = $2, last_status = $3, last_error = $4, \
                         leased_until = 0, finished_at = $5 WHERE id = $1",
                    )
                    .bind(due.id)
                    .bind(attempt)
                    .bind(status)
                    .bind(&error)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                }
            },
        }
    }
    // Deliveries that arrived, one statement per answer status and thousand deliveries.
    for (status, ids) in delivered {
        for chunk in ids.chunks(1000) {
            let mut sql =
                SqlBuf::new("UPDATE deliveries SET status = 'delivered', attempts = attempts + 1, last_status = ");
            sql.bind(i64::from(status))
                .push(", last_error = NULL, leased_until = 0, finished_at = ")
                .bind(now)
                .push(" WHERE id IN ")
                .bind_list(chunk);
            sql.query().execute(&mut *tx).await?;
        }
    }
    bulk_insert(
        &mut tx,
        "delivery_attempts",
        &["delivery_id", "attempt", "at", "response_status", "error", "duration_ms", "response_body"],
        attempts,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Sends one batch of due deliveries and records the outcomes. Returns how many it sent.
pub async fn deliver_due(store: &Store, client: &reqwest::Client, config: &DispatchConfig) -> Result<usize> {
    let due = take_due(store, config).await?;
    if due.is_empty() {
        return Ok(0);
    }
    let count = due.len();
    // Each endpoint's address is read once per batch.
    let mut urls: std::collections::HashMap<Id, std::result::Result<reqwest::Url, String>> =
        std::collections::HashMap::new();
    for d in &due {
        urls.entry(d.endpoint_id).or_insert_with(|| {
            reqwest::Url::parse(&d.url).map_err(|e| format!("the endpoint's URL is not usable: {e}"))
        });
    }
    let urls = &urls;
    let sent: Vec<(Due, Result<Attempted>, i64)> = futures::stream::iter(due)
        .map(|d| async move {
            let started = std::time::Instant::now();
            let outcome = match urls.get(&d.endpoint_id) {
                Some(Ok(url)) => {
                    webhooks::send(client, url.clone(), &d.secret, d.event_id, d.idempotency_key.as_deref(), &d.body)
                        .await
                }
                Some(Err(error)) => {
                    Ok((Outcome::Failed { status: None, error: error.clone(), retry_after: None }, None))
                }
                None => Err(crate::Error::Internal("a delivery without its endpoint".into())),
            };
            let took = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
            (d, outcome, took)
        })
        .buffer_unordered(config.concurrency.max(1))
        .collect()
        .await;
    record(store, config, sent).await?;
    Ok(count)
}

/// The HTTP client webhooks go out with.
pub fn http_client(config: &DispatchConfig) -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(config.request_timeout)
        .connect_timeout(config.request_timeout.min(Duration::from_secs(10)))
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(config.concurrency * config.senders.max(1))
        .build()
        .map_err(|e| crate::Error::Internal(format!("cannot build the webhook HTTP client: {e}")))
}

/// After an event is recorded the fan-out looks for it this often for a while, since the
/// write that recorded it commits a moment later.
const HURRY_POLL: Duration = Duration::from_millis(1);
const HURRY_FOR: Duration = Duration::from_millis(50);

/// Runs fan-out and delivery until the process ends, each as its own task. The fan-out wakes
/// when an event is recorded in this process and otherwise looks for work every
/// `config.idle` (events written by other nodes); the sender wakes when the fan-out wrote
/// deliveries. Failures are logged and the work is tried again.
pub fn spawn_dispatcher(store: Store, config: DispatchConfig) -> Result<Vec<tokio::task::JoinHandle<()>>> {
    let client = http_client(&config)?;
    let deliveries_written = std::sync::Arc::new(tokio::sync::Notify::new());
    let fan = {
        let (store, config, written) = (store.clone(), config.clone(), deliveries_written.clone());
        tokio::spawn(async move {
            let mut recorded = super::recorded();
            let mut hurry_until: Option<tokio::time::Instant> = None;
            loop {
                match fan_out(&store, config.batch).await {
                    Ok(done) if done.events > 0 => {
                        if done.deliveries > 0 {
                            written.notify_one();
                        }
                        tokio::task::yield_now().await;
                    }
                    Ok(_) => match hurry_until {
                        Some(until) if tokio::time::Instant::now() < until => tokio::time::sleep(HURRY_POLL).await,
                        _ => {
                            hurry_until = None;
                            tokio::select! {
                                changed = recorded.changed() => {
                                    if changed.is_ok() {
                                        hurry_until = Some(tokio::time::Instant::now() + HURRY_FOR);
                                    }
                                }
                                () = tokio::time::sleep(config.idle) => {}
                            }
                        }
                    },
                    Err(e) if e.is_busy() => tokio::time::sleep(config.idle).await,
                    Err(e) => {
                        tracing::warn!(error = %e, "fanning out events failed; trying again shortly");
                        tokio::time::sleep(config.idle * 20).await;
                    }
                }
            }
        })
    };
    let mut tasks = vec![fan];
    for _ in 0..config.senders.max(1) {
        let (store, client, config, written) =
            (store.clone(), client.clone(), config.clone(), deliveries_written.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                match deliver_due(&store, &client, &config).await {
                    Ok(0) => {
                        tokio::select! {
                            () = written.notified() => {}
                            () = tokio::time::sleep(config.idle) => {}
                        }
                    }
                    Ok(_) => {
                        // Others may have waited for this batch to be recorded.
                        written.notify_one();
                        tokio::task::yield_now().await;
                    }
                    Err(e) if e.is_busy() => tokio::time::sleep(config.idle).await,
                    Err(e) => {
                        tracing::warn!(error = %e, "delivering events failed; trying again shortly");
                        tokio::time::sleep(config.idle * 20).await;
                    }
                }
            }
        }));
    }
    Ok(tasks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_follow_the_schedule_within_the_jitter_then_stop() {
        let config = DispatchConfig::default();
        for (attempt, base) in config.retry_delays.iter().enumerate() {
            let wait = next_wait(&config, attempt as i64 + 1, None).expect("a retry");
            assert!(wait >= base.mul_f64(0.8) && wait <= base.mul_f64(1.2), "attempt {}: {wait:?}", attempt + 1);
        }
        assert_eq!(next_wait(&config, config.retry_delays.len() as i64 + 1, None), None, "then dead");
        // Retry-After wins when longer, within its bound.
        let wait = next_wait(&config, 1, Some(Duration::from_secs(120))).expect("a retry");
        assert_eq!(wait, Duration::from_secs(120));
        let wait = next_wait(&config, 1, Some(Duration::from_secs(10 * 24 * 3600))).expect("a retry");
        assert_eq!(wait, config.max_retry_after);
    }
}
