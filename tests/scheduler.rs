//! The scheduler: with two nodes on one database each run happens once; runs missed while no
//! node was up are caught up once; a run whose node died is taken over when its lease ends.
//! On SQLite and PostgreSQL. Time is given to the nodes, so minutes pass in milliseconds.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use reqwest::StatusCode;
use tessera_host::scheduler::{Job, Run, Scheduler};
use tessera_host::store::Store;
use tessera_tests::{TestServer, USER_PASSWORD, both_backends};

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;
/// 2026-01-01T00:00:00Z.
const T0: i64 = 1_767_225_600_000;

/// A job that records every run it makes.
fn recording(name: &str, schedule: &str, runs: Arc<Mutex<Vec<Run>>>) -> Result<Job> {
    Ok(Job::new(name, schedule, move |_store: Store, run: Run| {
        let runs = runs.clone();
        async move {
            runs.lock().map_err(|_| tessera_host::Error::Internal("lock".into()))?.push(run);
            Ok(format!("ran for {}", run.scheduled_for))
        }
    })?)
}

async fn due_at(store: &Store, job: &str, at: i64) -> Result<()> {
    sqlx::query("UPDATE scheduled_jobs SET next_run_at = $1 WHERE name = $2")
        .bind(at)
        .bind(job)
        .execute(store.pool())
        .await?;
    Ok(())
}

both_backends! {
    async fn two_nodes_make_each_run_once(backend) {
        let server = TestServer::start(backend).await?;
        let store = server.store().clone();
        let runs = Arc::new(Mutex::new(Vec::new()));
        let node = |_| -> Result<Scheduler> {
            Ok(Scheduler::new(store.clone(), vec![recording("test-every-minute", "* * * * *", runs.clone())?]))
        };
        let (a, b) = (node(1)?, node(2)?);
        a.register().await?;
        b.register().await?;
        due_at(&store, "test-every-minute", T0).await?;
        let mut made = 0;
        for minute in 0..12 {
            let now = T0 + minute * MINUTE + 1_000;
            let (x, y) = tokio::join!(a.tick_at(now), b.tick_at(now + 7));
            made += x? + y?;
        }
        let runs = runs.lock().map_err(|_| anyhow::anyhow!("lock"))?.clone();
        assert_eq!(made, 12);
        let mut times: Vec<i64> = runs.iter().map(|r| r.scheduled_for).collect();
        times.sort_unstable();
        assert_eq!(times, (0..12).map(|m| T0 + m * MINUTE).collect::<Vec<_>>(), "every minute once");
        assert!(runs.iter().all(|r| r.missed == 0 && r.attempt == 1));
        // Each run knows the one before it: the window it covers.
        let second = runs.iter().find(|r| r.scheduled_for == T0 + MINUTE).context("second run")?;
        assert_eq!(second.previous, Some(T0));
        let rows: Vec<(String, i64)> = sqlx::query_as("SELECT status, COUNT(*) FROM job_runs WHERE job = 'test-every-minute' GROUP BY status")
            .fetch_all(store.pool()).await?;
        assert_eq!(rows, vec![("succeeded".to_owned(), 12)]);
        Ok(())
    }

    async fn missed_runs_are_caught_up_once(backend) {
        let server = TestServer::start(backend).await?;
        let store = server.store().clone();
        let runs = Arc::new(Mutex::new(Vec::new()));
        let node = Scheduler::new(store.clone(), vec![recording("test-hourly", "0 * * * *", runs.clone())?]);
        node.register().await?;
        // Due at T0; no node was up until 05:30.
        due_at(&store, "test-hourly", T0).await?;
        assert_eq!(node.tick_at(T0 + 5 * HOUR + 30 * MINUTE).await?, 1);
        assert_eq!(node.tick_at(T0 + 5 * HOUR + 40 * MINUTE).await?, 0, "nothing more until 06:00");
        assert_eq!(node.tick_at(T0 + 6 * HOUR).await?, 1);
        let runs = runs.lock().map_err(|_| anyhow::anyhow!("lock"))?.clone();
        assert_eq!(runs.len(), 2);
        assert_eq!((runs[0].scheduled_for, runs[0].missed, runs[0].previous), (T0 + 5 * HOUR, 5, None), "one run for 00:00–05:00");
        assert_eq!((runs[1].scheduled_for, runs[1].missed, runs[1].previous), (T0 + 6 * HOUR, 0, Some(T0 + 5 * HOUR)));
        // The administrators' view of the jobs.
        let admin = server.admin().await?;
        let (status, jobs) = admin.get("/api/v1/scheduler/jobs").await?;
        assert_eq!(status, StatusCode::OK);
        let job = jobs.as_array().and_then(|j| j.iter().find(|j| j["name"] == "test-hourly")).context("the job")?;
        assert_eq!(job["recent_runs"][1]["missed"], 5, "{job}");
        assert_eq!(job["recent_runs"][0]["output"], format!("ran for {}", T0 + 6 * HOUR));
        assert!(jobs.as_array().is_some_and(|j| j.iter().any(|j| j["name"] == "follow-ups-due")), "built-in jobs are listed: {jobs}");
        let role = server.role_id(&admin, "Salesperson").await?;
        server.add_user(&admin, "zhou", None, &[role]).await?;
        let zhou = server.sign_in("zhou", USER_PASSWORD).await?;
        assert_eq!(zhou.get("/api/v1/scheduler/jobs").await?.0, StatusCode::FORBIDDEN);
        Ok(())
    }

    async fn a_run_whose_node_died_is_taken_over_after_its_lease(backend) {
        let server = TestServer::start(backend).await?;
        let store = server.store().clone();
        let runs = Arc::new(Mutex::new(Vec::new()));
        // The first attempt hangs, as a node that died would.
        let job = {
            let runs = runs.clone();
            Job::new("test-takeover", "*/10 * * * *", move |_store: Store, run: Run| {
                let runs = runs.clone();
                async move {
                    if run.attempt == 1 {
                        std::future::pending::<()>().await;
                    }
                    runs.lock().map_err(|_| tessera_host::Error::Internal("lock".into()))?.push(run);
                    Ok("done".to_owned())
                }
            })?
        };
        let mut dying = Scheduler::new(store.clone(), vec![job.clone()]);
        dying.lease = Duration::from_secs(60);
        dying.register().await?;
        due_at(&store, "test-takeover", T0).await?;
        let cut_short = tokio::time::timeout(Duration::from_millis(300), dying.tick_at(T0 + 1_000)).await;
        assert!(cut_short.is_err(), "the first attempt never finishes");
        let other = Scheduler::new(store.clone(), vec![job]);
        assert_eq!(other.tick_at(T0 + 30_000).await?, 0, "the lease still holds");
        assert_eq!(other.tick_at(T0 + 62_000).await?, 1, "the lease ran out: taken over");
        let runs = runs.lock().map_err(|_| anyhow::anyhow!("lock"))?.clone();
        assert_eq!(runs.len(), 1);
        assert_eq!((runs[0].scheduled_for, runs[0].attempt), (T0, 2));
        let (status, attempt): (String, i64) = sqlx::query_as("SELECT status, attempt FROM job_runs WHERE job = 'test-takeover'")
            .fetch_one(store.pool()).await?;
        assert_eq!((status.as_str(), attempt), ("succeeded", 2));
        Ok(())
    }
}
