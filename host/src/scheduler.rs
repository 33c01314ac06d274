//! The scheduler: jobs on cron-like schedules, each run claimed through the database so that
//! with several nodes every run happens once.
//!
//! A job's row in `scheduled_jobs` says when its next run is due. A node whose tick finds it
//! due moves `next_run_at` on and inserts the run into `job_runs` (unique per job and
//! scheduled time) in one transaction, holding it under a lease while it runs. Runs missed
//! while no node was up are caught up once: the one run stands for the latest missed time and
//! says how many it folded in, and jobs read the window since their previous run. A node that
//! dies mid-run leaves the run `running`; when its lease ends another node runs it again (as
//! attempt 2), so jobs are written to be safe to repeat.

pub mod cron;

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use serde::Serialize;
use sqlx::Row;
use utoipa::ToSchema;

pub use cron::Schedule;

use crate::error::Result;
use crate::store::{Id, SqlBuf, Store, duration_ms, now_ms};
use crate::timefmt::{rfc3339, rfc3339_opt};

/// How often a run's outcome is tried again when the database stays busy.
const RECORD_TRIES: u32 = 16;

/// What a job is told about the run it makes.
#[derive(Debug, Clone, Copy)]
pub struct Run {
    /// The scheduled time this run stands for (Unix ms).
    pub scheduled_for: i64,
    /// The scheduled time of the job's previous run, if it ever ran: the window a run covers
    /// starts there.
    pub previous: Option<i64>,
    /// Scheduled times that were missed and are folded into this run.
    pub missed: i64,
    /// 1, or more when a node died running it and another took over.
    pub attempt: i64,
}

/// The work of a job: returns a short account of what it did, kept with the run.
pub type JobFn = Arc<dyn Fn(Store, Run) -> BoxFuture<'static, Result<String>> + Send + Sync>;

/// A job and its schedule.
#[derive(Clone)]
pub struct Job {
    pub name: String,
    pub schedule: Schedule,
    pub run: JobFn,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job").field("name", &self.name).field("schedule", &self.schedule).finish_non_exhaustive()
    }
}

impl Job {
    /// A job from a schedule such as `*/5 * * * *` and an async function.
    pub fn new<F, Fut>(name: &str, schedule: &str, run: F) -> Result<Job>
    where
        F: Fn(Store, Run) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = Result<String>> + Send + 'static,
    {
        Ok(Job { name: name.to_owned(), schedule: schedule.parse()?, run: Arc::new(move |s, r| Box::pin(run(s, r))) })
    }
}

/// Runs jobs on one node.
#[derive(Debug, Clone)]
pub struct Scheduler {
    store: Store,
    jobs: Arc<Vec<Job>>,
    /// Names this node in `job_runs`.
    node: String,
    /// How long a run is held before another node may take it over; renewed while it runs.
    pub lease: Duration,
    /// How often the node looks for due runs.
    pub tick: Duration,
}

/// A run this node claimed.
#[derive(Debug, Clone)]
struct Claimed {
    id: Id,
    job: Job,
    run: Run,
}

impl Scheduler {
    pub fn new(store: Store, jobs: Vec<Job>) -> Scheduler {
        Scheduler {
            store,
            jobs: Arc::new(jobs),
            node: format!("{}-{}", std::process::id(), uuid::Uuid::new_v4().simple()),
            lease: Duration::from_secs(300),
            tick: Duration::from_secs(5),
        }
    }

    /// Writes the jobs' schedules. A new job is first due at its next scheduled time; a job
    /// whose schedule changed is due at the new schedule's next time.
    pub async fn register(&self) -> Result<()> {
        let now = now_ms();
        let mut tx = self.store.begin_write().await?;
        for job in self.jobs.iter() {
            let next = next_ms(&job.schedule, now);
            let known: Option<String> = sqlx::query_scalar("SELECT schedule FROM scheduled_jobs WHERE name = $1")
                .bind(&job.name)
                .fetch_optional(&mut *tx)
                .await?;
            match known {
                None => {
                    sqlx::query(
                        "INSERT INTO scheduled_jobs (name, schedule, next_run_at, updated_at) VALUES ($1, $2, $3, $4) \
                         ON CONFLICT (name) DO NOTHING",
                    )
                    .bind(&job.name)
                    .bind(job.schedule.to_string())
                    .bind(next)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                }
                Some(s) if s != job.schedule.to_string() => {
                    sqlx::query(
                        "UPDATE scheduled_jobs SET schedule = $2, next_run_at = $3, updated_at = $4 WHERE name = $1",
                    )
                    .bind(&job.name)
                    .bind(job.schedule.to_string())
                    .bind(next)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                }
                Some(_) => {}
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// Claims the runs due at `now`: runs whose time came (catching up missed ones in one),
    /// and runs whose node let its lease lapse.
    async fn claim(&self, now: i64) -> Result<Vec<Claimed>> {
        let lock = self.store.skip_locked(" FOR UPDATE SKIP LOCKED");
        // Only this node's jobs: a node must not hold (and so hide from the others) a job it
        // cannot run, e.g. one an older or newer version of the host registered.
        let names: Vec<String> = self.jobs.iter().map(|j| j.name.clone()).collect();
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let mut tx = self.store.begin_write().await?;
        let mut sql = SqlBuf::new("SELECT name, next_run_at FROM scheduled_jobs WHERE next_run_at <= ");
        sql.bind(now).push(" AND name IN ").bind_list(&names).push(" ORDER BY next_run_at").push(lock);
        let due = sql.query().fetch_all(&mut *tx).await?;
        let lease_until = now + duration_ms(self.lease);
        let mut claimed = Vec::new();
        for row in due {
            let (name, next_run_at): (String, i64) = (row.try_get(0)?, row.try_get(1)?);
            let Some(job) = self.jobs.iter().find(|j| j.name == name) else { continue };
            let (last, missed) = job.schedule.last_until(ts(next_run_at), ts(now));
            let scheduled_for = last.as_millisecond();
            let previous: Option<i64> = sqlx::query_scalar("SELECT MAX(scheduled_for) FROM job_runs WHERE job = $1")
                .bind(&name)
                .fetch_one(&mut *tx)
                .await?;
            let id: Option<Id> = sqlx::query_scalar(
                "INSERT INTO job_runs (job, scheduled_for, status, node, leased_until, started_at, missed) \
                 VALUES ($1, $2, 'running', $3, $4, $5, $6) ON CONFLICT (job, scheduled_for) DO NOTHING RETURNING id",
            )
            .bind(&name)
            .bind(scheduled_for)
            .bind(&self.node)
            .bind(lease_until)
            .bind(now)
            .bind(i64::try_from(missed).unwrap_or(i64::MAX))
            .fetch_optional(&mut *tx)
            .await?;
            sqlx::query("UPDATE scheduled_jobs SET next_run_at = $2, last_run_at = $3 WHERE name = $1")
                .bind(&name)
                .bind(next_ms(&job.schedule, now.max(scheduled_for)))
                .bind(now)
                .execute(&mut *tx)
                .await?;
            if let Some(id) = id {
                let missed = i64::try_from(missed).unwrap_or(i64::MAX);
                claimed.push(Claimed {
                    id,
                    job: job.clone(),
                    run: Run { scheduled_for, previous, missed, attempt: 1 },
                });
            }
        }
        let mut sql = SqlBuf::new(
            "SELECT id, job, scheduled_for, attempt, missed FROM job_runs WHERE status = 'running' AND leased_until <= ",
        );
        sql.bind(now).push(" AND job IN ").bind_list(&names).push(" ORDER BY id").push(lock);
        let lapsed = sql.query().fetch_all(&mut *tx).await?;
        for row in lapsed {
            let (id, name, scheduled_for, attempt, missed): (Id, String, i64, i64, i64) =
                (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?, row.try_get(3)?, row.try_get(4)?);
            let Some(job) = self.jobs.iter().find(|j| j.name == name) else { continue };
            let previous: Option<i64> =
                sqlx::query_scalar("SELECT MAX(scheduled_for) FROM job_runs WHERE job = $1 AND scheduled_for < $2")
                    .bind(&name)
                    .bind(scheduled_for)
                    .fetch_one(&mut *tx)
                    .await?;
            sqlx::query("UPDATE job_runs SET attempt = $2, node = $3, leased_until = $4 WHERE id = $1")
                .bind(id)
                .bind(attempt + 1)
                .bind(&self.node)
                .bind(lease_until)
                .execute(&mut *tx)
                .await?;
            claimed.push(Claimed {
                id,
                job: job.clone(),
                run: Run { scheduled_for, previous, missed, attempt: attempt + 1 },
            });
        }
        tx.commit().await?;
        Ok(claimed)
    }

    /// Runs one claimed run, renewing its lease while it works, and records how it ended
    /// unless another node has taken it over meanwhile.
    async fn run(&self, claimed: Claimed) -> Result<()> {
        let work = (claimed.job.run)(self.store.clone(), claimed.run);
        tokio::pin!(work);
        let mut renew = tokio::time::interval(self.lease / 3);
        renew.tick().await;
        let outcome = loop {
            tokio::select! {
                outcome = &mut work => break outcome,
                _ = renew.tick() => {
                    let until = now_ms() + duration_ms(self.lease);
                    let renewed = sqlx::query("UPDATE job_runs SET leased_until = $2 WHERE id = $1 AND node = $3 AND status = 'running'")
                        .bind(claimed.id)
                        .bind(until)
                        .bind(&self.node)
                        .execute(self.store.pool())
                        .await;
                    if let Err(e) = renewed {
                        tracing::warn!(job = %claimed.job.name, error = %e, "cannot renew a job run's lease");
                    }
                }
            }
        };
        let (status, output, error) = match outcome {
            Ok(output) => ("succeeded", Some(output), None),
            Err(e) => {
                tracing::warn!(job = %claimed.job.name, error = %e, "a scheduled job failed");
                ("failed", None, Some(e.to_string()))
            }
        };
        // A long writer elsewhere (a bulk load) may hold SQLite's lock past the busy timeout;
        // the outcome is worth waiting for, else the run is made again after its lease.
        let mut tries = 0;
        loop {
            let recorded = sqlx::query(
                "UPDATE job_runs SET status = $2, output = $3, error = $4, finished_at = $5 \
                 WHERE id = $1 AND node = $6 AND attempt = $7",
            )
            .bind(claimed.id)
            .bind(status)
            .bind(&output)
            .bind(&error)
            .bind(now_ms())
            .bind(&self.node)
            .bind(claimed.run.attempt)
            .execute(self.store.pool())
            .await;
            match recorded.map_err(crate::Error::from) {
                Ok(_) => return Ok(()),
                Err(e) if e.is_busy() && tries < RECORD_TRIES => tries += 1,
                Err(e) => return Err(e),
            }
        }
    }

    /// Claims what is due at `now` and runs it. Returns how many runs it made.
    pub async fn tick_at(&self, now: i64) -> Result<usize> {
        let claimed = self.claim(now).await?;
        let count = claimed.len();
        let runs = claimed.into_iter().map(|c| {
            let this = self.clone();
            async move { this.run(c).await }
        });
        for result in futures::future::join_all(runs).await {
            result?;
        }
        Ok(count)
    }

    /// Registers the jobs and ticks until the process ends.
    pub fn spawn(self) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut registered = false;
            let mut every = tokio::time::interval(self.tick);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                every.tick().await;
                if !registered {
                    match self.register().await {
                        Ok(()) => registered = true,
                        Err(e) => {
                            tracing::warn!(error = %e, "cannot register the scheduled jobs; trying again");
                            continue;
                        }
                    }
                }
                match self.tick_at(now_ms()).await {
                    Ok(_) => {}
                    Err(e) if e.is_busy() => {}
                    Err(e) => tracing::warn!(error = %e, "the scheduler's tick failed; trying again"),
                }
            }
        })
    }
}

fn ts(ms: i64) -> jiff::Timestamp {
    jiff::Timestamp::from_millisecond(ms).unwrap_or(jiff::Timestamp::UNIX_EPOCH)
}

/// The next scheduled time after `after` (Unix ms); a schedule that names no time again is
/// put far off.
fn next_ms(schedule: &Schedule, after: i64) -> i64 {
    schedule.next_after(ts(after)).map_or(i64::MAX / 4, |t| t.as_millisecond())
}

/// A job as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct JobStatus {
    pub name: String,
    pub schedule: String,
    pub next_run_at: String,
    pub last_run_at: Option<String>,
    pub recent_runs: Vec<JobRun>,
}

/// One run of a job.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct JobRun {
    pub id: Id,
    pub scheduled_for: String,
    /// `running`, `succeeded` or `failed`.
    pub status: String,
    pub attempt: i64,
    /// Missed scheduled times this run caught up on.
    pub missed: i64,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub output: Option<String>,
    pub error: Option<String>,
}

/// Every job with its last ten runs.
pub async fn status(store: &Store) -> Result<Vec<JobStatus>> {
    let jobs = sqlx::query("SELECT name, schedule, next_run_at, last_run_at FROM scheduled_jobs ORDER BY name")
        .fetch_all(store.pool())
        .await?;
    let mut out = Vec::with_capacity(jobs.len());
    for j in jobs {
        let name: String = j.try_get(0)?;
        let runs = sqlx::query(
            "SELECT id, scheduled_for, status, attempt, missed, started_at, finished_at, output, error \
             FROM job_runs WHERE job = $1 ORDER BY id DESC LIMIT 10",
        )
        .bind(&name)
        .fetch_all(store.pool())
        .await?;
        let recent_runs = runs
            .iter()
            .map(|r| {
                Ok(JobRun {
                    id: r.try_get(0)?,
                    scheduled_for: rfc3339(r.try_get(1)?),
                    status: r.try_get(2)?,
                    attempt: r.try_get(3)?,
                    missed: r.try_get(4)?,
                    started_at: rfc3339(r.try_get(5)?),
                    finished_at: rfc3339_opt(r.try_get(6)?),
                    output: r.try_get(7)?,
                    error: r.try_get(8)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        out.push(JobStatus {
            name,
            schedule: j.try_get(1)?,
            next_run_at: rfc3339(j.try_get(2)?),
            last_run_at: rfc3339_opt(j.try_get(3)?),
            recent_runs,
        });
    }
    Ok(out)
}

pub(crate) fn routes() -> utoipa_axum::router::OpenApiRouter<crate::web::AppState> {
    utoipa_axum::router::OpenApiRouter::new().routes(utoipa_axum::routes!(list_jobs))
}

/// The scheduled jobs with their next run and recent runs (administrators).
#[utoipa::path(get, path = "/api/v1/scheduler/jobs", tag = "scheduler",
    responses((status = 200, body = [JobStatus]), (status = 403, body = crate::web::ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn list_jobs(
    axum::extract::State(state): axum::extract::State<crate::web::AppState>,
    auth: crate::web::Auth,
) -> crate::web::ApiResult<crate::web::Json<Vec<JobStatus>>> {
    auth.require_admin(&state).await?;
    Ok(crate::web::Json(status(&state.store).await?))
}
