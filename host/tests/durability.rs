//! Committed events survive `kill -9`: a host takes 10,000 customer creations, is killed with
//! SIGKILL in the middle of them, and is started again on the same database; every event that
//! was committed reaches the webhook receiver at least once, every acknowledged creation among
//! them, and repeats (at-least-once delivery) are counted. On SQLite and PostgreSQL.
//! (It lives beside the host because only the host's own tests can find its binary.)

mod common;

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::process::Child;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use futures::StreamExt as _;
use serde_json::json;

use common::{database, drop_database, start, token};

const WRITES: usize = 10_000;
/// Acknowledged creations after which the host is killed.
const KILL_AFTER: usize = 3_000;

/// A receiver counting each `webhook-id` it gets.
async fn receiver() -> (String, Arc<Mutex<HashMap<String, u32>>>) {
    let seen: Arc<Mutex<HashMap<String, u32>>> = Arc::default();
    let counts = seen.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap| {
            let counts = counts.clone();
            async move {
                let id = headers.get("webhook-id").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
                *counts.lock().expect("lock").entry(id).or_default() += 1;
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr: SocketAddr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}/hook"), seen)
}

/// Creates the customers numbered `numbers`, 16 at a time; returns the numbers acknowledged
/// with 201. With
/// `kill`, the host is killed once `KILL_AFTER` are acknowledged (requests in flight then may
/// or may not have been committed).
async fn write(base: &str, token: &str, numbers: Vec<usize>, kill: Option<Arc<Mutex<Child>>>) -> Vec<usize> {
    let client = reqwest::Client::new();
    let acked = Arc::new(AtomicUsize::new(0));
    let done: Vec<Option<usize>> = futures::stream::iter(numbers)
        .map(|n| {
            let (client, acked, kill) = (client.clone(), acked.clone(), kill.clone());
            async move {
                // Without a kill, a write that met a busy host (no answer in time, or 503) is
                // sent again, as a client would; one the kill cut off is not.
                let attempts = if kill.is_some() { 1 } else { 3 };
                let mut ok = false;
                for _ in 0..attempts {
                    let sent = client
                        .post(format!("{base}/api/v1/customers"))
                        .bearer_auth(token)
                        .json(&json!({ "name": format!("持久性测试{n}号有限公司") }))
                        .timeout(Duration::from_secs(30))
                        .send()
                        .await;
                    ok = sent.is_ok_and(|r| r.status() == reqwest::StatusCode::CREATED);
                    if ok {
                        break;
                    }
                }
                if ok
                    && acked.fetch_add(1, Ordering::SeqCst) + 1 == KILL_AFTER
                    && let Some(child) = &kill
                {
                    // SIGKILL: no shutdown, no flush, nothing but what was committed.
                    let _ = child.lock().expect("lock").kill();
                }
                ok.then_some(n)
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    done.into_iter().flatten().collect()
}

async fn committed_events_survive_kill_9(backend: &str) {
    let dir = std::env::temp_dir().join(format!("tessera-durability-{backend}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let (db, url) = database(backend, &dir, "durability");
    let (hook, seen) = receiver().await;

    let first = start(&db).await;
    let token = token(&first.base).await;
    let made = reqwest::Client::new()
        .post(format!("{}/api/v1/webhooks", first.base))
        .bearer_auth(&token)
        .json(&json!({ "url": hook, "topics": ["customer.created"] }))
        .send()
        .await
        .expect("endpoint");
    assert_eq!(made.status(), reqwest::StatusCode::CREATED);
    let base = first.base.clone();
    let mut first = first;
    let child = Arc::new(Mutex::new(first.child.take().expect("the first host")));
    let mut acked = write(&base, &token, (0..WRITES).collect(), Some(child.clone())).await;
    let _ = child.lock().expect("lock").wait();
    let refused = WRITES - acked.len();
    assert!(acked.len() >= KILL_AFTER && refused > 0, "the host died mid-way: {} acknowledged", acked.len());

    // Started again on the same database, the host takes the writes that were refused.
    let second = start(&db).await;
    let written: BTreeSet<usize> = acked.iter().copied().collect();
    let again: Vec<usize> = (0..WRITES).filter(|n| !written.contains(n)).collect();
    let retried = write(&second.base, &token, again.clone(), None).await;
    assert_eq!(retried.len(), again.len(), "the restarted host takes every write");
    acked.extend(retried);

    // Every committed creation event reaches the receiver.
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&url).await.expect("database");
    let committed: Vec<i64> = sqlx::query_scalar("SELECT id FROM outbox WHERE topic = 'customer.created' ORDER BY id")
        .fetch_all(&pool)
        .await
        .expect("outbox");
    assert!(committed.len() >= WRITES, "{} creations committed, at least every acknowledged one", committed.len());
    let deadline = Instant::now() + Duration::from_secs(180);
    let missing = loop {
        let missing: Vec<i64> = {
            let seen = seen.lock().expect("lock");
            committed.iter().copied().filter(|id| !seen.contains_key(&format!("evt_{id}"))).collect()
        };
        if missing.is_empty() || Instant::now() > deadline {
            break missing;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        missing.is_empty(),
        "{} committed events never arrived, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(10)]
    );
    let (delivered, repeats) = {
        let seen = seen.lock().expect("lock");
        (seen.len(), seen.values().map(|n| u64::from(n - 1)).sum::<u64>())
    };
    println!(
        "{backend}: {} writes acknowledged before kill -9, {} after restart; {} events committed, {delivered} delivered, {repeats} delivered more than once",
        WRITES - refused,
        refused,
        committed.len()
    );
    assert!(committed.len() >= acked.len());
    pool.close().await;
    drop(second);
    drop_database(&dir, &url);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn committed_events_survive_kill_9_on_sqlite() {
    committed_events_survive_kill_9("sqlite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn committed_events_survive_kill_9_on_postgres() {
    committed_events_survive_kill_9("postgres").await;
}
