//! The node's plugin tasks: following plugin changes made by other nodes, feeding outbox
//! events to the plugins that subscribe to them, and running plugins' scheduled jobs.
//!
//! Events reach each enabled plugin of an organisation in outbox order, at least once: the
//! plugin's row in `org_plugins` keeps a cursor (the last event handled) and a lease, so one
//! node at a time feeds it. A handler that fails is called again after the retry delays;
//! after the last one the event is set aside in `plugin_event_failures` and the plugin moves
//! on, so one bad event cannot stop its queue.

use std::sync::Arc;
use std::time::Duration;

use sqlx::Row;

use super::Runtime;
use super::bindings::Event;
use crate::store::{Id, now_ms};

/// How long a node holds a plugin's event queue while it feeds it.
const EVENT_LEASE_MS: i64 = 60_000;
/// How long a node holds a job run.
const JOB_LEASE_MS: i64 = 300_000;
/// Events fed to one plugin per round.
const EVENT_BATCH: i64 = 100;

pub fn spawn_follow(runtime: Arc<Runtime>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(runtime.config.follow_every);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            if let Err(e) = runtime.registry.follow().await {
                tracing::warn!(error = %e, "cannot follow plugin changes");
            }
        }
    })
}

pub fn spawn_events(runtime: Arc<Runtime>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(runtime.config.pump_every);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            for active in runtime.registry.all_active() {
                if !active.loaded.manifest.events.is_empty()
                    && active.enabled.grants.iter().any(|g| g == "events:subscribe")
                    && let Err(e) = feed(&runtime, &active).await
                {
                    tracing::warn!(plugin = %active.loaded.label(), error = %e, "cannot feed events");
                }
            }
        }
    })
}

/// Feeds one plugin the events after its cursor, under a lease.
async fn feed(runtime: &Runtime, active: &Arc<super::registry::Active>) -> crate::Result<()> {
    let store = runtime.store();
    let (org_id, plugin_id) = (active.enabled.org_id, active.enabled.plugin_id.as_str());
    let now = now_ms();
    let leased = sqlx::query(
        "UPDATE org_plugins SET event_leased_until = $3 WHERE org_id = $1 AND plugin_id = $2 \
         AND state = 'enabled' AND event_leased_until < $4 AND event_retry_at <= $4",
    )
    .bind(org_id)
    .bind(plugin_id)
    .bind(now + EVENT_LEASE_MS)
    .bind(now)
    .execute(store.pool())
    .await?;
    if leased.rows_affected() == 0 {
        return Ok(());
    }
    let result = feed_leased(runtime, active).await;
    sqlx::query("UPDATE org_plugins SET event_leased_until = 0 WHERE org_id = $1 AND plugin_id = $2")
        .bind(org_id)
        .bind(plugin_id)
        .execute(store.pool())
        .await?;
    result
}

async fn feed_leased(runtime: &Runtime, active: &Arc<super::registry::Active>) -> crate::Result<()> {
    let store = runtime.store();
    let (org_id, plugin_id) = (active.enabled.org_id, active.enabled.plugin_id.as_str());
    let (cursor, attempts): (Id, i64) =
        sqlx::query_as("SELECT event_cursor, event_attempts FROM org_plugins WHERE org_id = $1 AND plugin_id = $2")
            .bind(org_id)
            .bind(plugin_id)
            .fetch_one(store.pool())
            .await?;
    let rows = sqlx::query(
        "SELECT id, topic, aggregate_type, aggregate_id, payload, created_at FROM outbox \
         WHERE org_id = $1 AND id > $2 ORDER BY id LIMIT $3",
    )
    .bind(org_id)
    .bind(cursor)
    .bind(EVENT_BATCH)
    .fetch_all(store.pool())
    .await?;
    let mut attempts = attempts;
    for row in rows {
        let id: Id = row.get(0);
        let topic: String = row.get(1);
        // A plugin hears its own published events only when it subscribes to them, like any
        // other topic.
        if active.loaded.manifest.subscribes(&topic) {
            let event = Event {
                id,
                topic: topic.clone(),
                subject_kind: row.get(2),
                subject_id: row.get(3),
                occurred_at: row.get(5),
                payload: row.get(4),
            };
            if let Err(failure) = runtime.on_event(active, event).await {
                attempts += 1;
                let delays = &runtime.config.event_retry_delays;
                if let Some(delay) = delays.get((attempts - 1) as usize) {
                    tracing::info!(plugin = %active.loaded.label(), event = id, attempts, "{failure}; will retry");
                    sqlx::query(
                        "UPDATE org_plugins SET event_attempts = $3, event_retry_at = $4 WHERE org_id = $1 AND plugin_id = $2",
                    )
                    .bind(org_id)
                    .bind(plugin_id)
                    .bind(attempts)
                    .bind(now_ms() + delay.as_millis() as i64)
                    .execute(store.pool())
                    .await?;
                    return Ok(());
                }
                sqlx::query(
                    "INSERT INTO plugin_event_failures (org_id, plugin_id, event_id, version, error, attempts, failed_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(org_id)
                .bind(plugin_id)
                .bind(id)
                .bind(active.loaded.version().to_string())
                .bind(&failure.message)
                .bind(attempts)
                .bind(now_ms())
                .execute(store.pool())
                .await?;
                tracing::warn!(plugin = %active.loaded.label(), event = id, "{failure}; set aside after {attempts} attempts");
            }
        }
        attempts = 0;
        sqlx::query(
            "UPDATE org_plugins SET event_cursor = $3, event_attempts = 0, event_retry_at = 0 WHERE org_id = $1 AND plugin_id = $2",
        )
        .bind(org_id)
        .bind(plugin_id)
        .bind(id)
        .execute(store.pool())
        .await?;
    }
    Ok(())
}

pub fn spawn_jobs(runtime: Arc<Runtime>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(runtime.config.pump_every.max(Duration::from_millis(100)));
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            let due = match super::jobs::claim_due(runtime.store(), JOB_LEASE_MS).await {
                Ok(due) => due,
                Err(e) => {
                    if !e.is_busy() {
                        tracing::warn!(error = %e, "cannot claim plugin jobs");
                    }
                    continue;
                }
            };
            for job in due {
                let outcome = match runtime.registry.active(job.org_id, &job.plugin_id) {
                    None => "skipped: the plugin is not enabled".to_owned(),
                    Some(active) => match runtime.run_job(&active, &job.job).await {
                        Ok(stats) => format!("ok in {} ms", stats.elapsed.as_millis()),
                        Err(failure) => failure.message,
                    },
                };
                if let Err(e) = super::jobs::finish(runtime.store(), &job, &outcome).await {
                    tracing::warn!(error = %e, "cannot record a plugin job's outcome");
                }
            }
        }
    })
}
