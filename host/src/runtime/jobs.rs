//! Plugins' scheduled jobs: each enabled plugin's jobs have a row per organisation in
//! `plugin_jobs` saying when the next run is due. A node claims a due run by moving
//! `next_run_at` on under a lease (one node runs each), then calls the plugin's `run-job`.

use std::str::FromStr;

use jiff::Timestamp;

use super::manifest::Manifest;
use crate::error::Result;
use crate::scheduler::Schedule;
use crate::store::{Id, now_ms};

/// Writes the jobs of a plugin version for an organisation, inside the enabling transaction.
/// Jobs the version no longer declares are removed; a changed schedule takes effect at once.
pub async fn register(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    org_id: Id,
    m: &Manifest,
    grants: &[String],
    now: i64,
) -> Result<()> {
    let scheduled = grants.iter().any(|g| g == "schedule");
    let existing: Vec<(String, String)> =
        sqlx::query_as("SELECT job, schedule FROM plugin_jobs WHERE org_id = $1 AND plugin_id = $2")
            .bind(org_id)
            .bind(&m.plugin.id)
            .fetch_all(&mut **tx)
            .await?;
    for (job, _) in &existing {
        if !scheduled || !m.jobs.iter().any(|j| &j.name == job) {
            sqlx::query("DELETE FROM plugin_jobs WHERE org_id = $1 AND plugin_id = $2 AND job = $3")
                .bind(org_id)
                .bind(&m.plugin.id)
                .bind(job)
                .execute(&mut **tx)
                .await?;
        }
    }
    if !scheduled {
        return Ok(());
    }
    for job in &m.jobs {
        let schedule = Schedule::from_str(&job.schedule)?;
        let next = next_run(&schedule, now);
        match existing.iter().find(|(name, _)| name == &job.name) {
            Some((_, s)) if *s == schedule.to_string() => {}
            Some(_) => {
                sqlx::query(
                    "UPDATE plugin_jobs SET schedule = $4, next_run_at = $5 WHERE org_id = $1 AND plugin_id = $2 AND job = $3",
                )
                .bind(org_id)
                .bind(&m.plugin.id)
                .bind(&job.name)
                .bind(schedule.to_string())
                .bind(next)
                .execute(&mut **tx)
                .await?;
            }
            None => {
                sqlx::query(
                    "INSERT INTO plugin_jobs (org_id, plugin_id, job, schedule, next_run_at) VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(org_id)
                .bind(&m.plugin.id)
                .bind(&job.name)
                .bind(schedule.to_string())
                .bind(next)
                .execute(&mut **tx)
                .await?;
            }
        }
    }
    Ok(())
}

/// The next scheduled time after `now_ms`, in Unix ms (far future if the schedule never fires).
pub fn next_run(schedule: &Schedule, now: i64) -> i64 {
    Timestamp::from_millisecond(now)
        .ok()
        .and_then(|t| schedule.next_after(t))
        .map(|t| t.as_millisecond())
        .unwrap_or(i64::MAX / 2)
}

/// A due run this node claimed.
#[derive(Debug, Clone)]
pub struct DueJob {
    pub org_id: Id,
    pub plugin_id: String,
    pub job: String,
}

/// Claims due runs: moves each one's next run on and leases it, in one statement per row.
pub async fn claim_due(store: &crate::store::Store, lease_ms: i64) -> Result<Vec<DueJob>> {
    let now = now_ms();
    let rows: Vec<(Id, String, String, String)> = sqlx::query_as(
        "SELECT org_id, plugin_id, job, schedule FROM plugin_jobs WHERE next_run_at <= $1 AND leased_until < $1 LIMIT 50",
    )
    .bind(now)
    .fetch_all(store.pool())
    .await?;
    let mut claimed = Vec::new();
    for (org_id, plugin_id, job, schedule) in rows {
        let Ok(parsed) = Schedule::from_str(&schedule) else { continue };
        let next = next_run(&parsed, now);
        // Only one node's update matches: the row's lease is checked again as it is taken.
        let done = sqlx::query(
            "UPDATE plugin_jobs SET next_run_at = $4, leased_until = $5, last_run_at = $6 \
             WHERE org_id = $1 AND plugin_id = $2 AND job = $3 AND next_run_at <= $6 AND leased_until < $6",
        )
        .bind(org_id)
        .bind(&plugin_id)
        .bind(&job)
        .bind(next)
        .bind(now + lease_ms)
        .bind(now)
        .execute(store.pool())
        .await?;
        if done.rows_affected() == 1 {
            claimed.push(DueJob { org_id, plugin_id, job });
        }
    }
    Ok(claimed)
}

/// Records how a run ended and releases its lease.
pub async fn finish(store: &crate::store::Store, due: &DueJob, outcome: &str) -> Result<()> {
    sqlx::query(
        "UPDATE plugin_jobs SET leased_until = 0, last_outcome = $4 WHERE org_id = $1 AND plugin_id = $2 AND job = $3",
    )
    .bind(due.org_id)
    .bind(&due.plugin_id)
    .bind(&due.job)
    .bind(outcome)
    .execute(store.pool())
    .await?;
    Ok(())
}
