//! Approved sales orders reach a flaky ERP, each applied exactly once, through a `kill -9`.
//!
//! A host runs the bundled `orders-to-erp` plugin with a webhook endpoint for its events that
//! points at `tests/support/flaky_erp.py`: an ERP that verifies every signature with the Standard
//! Webhooks reference library, and on a share of first attempts drops the connection, answers
//! 500, answers 429 with `Retry-After`, answers slowly, or applies the order and loses its answer.
//! 1,000 orders (`TESSERA_ERP_ORDERS`; `cargo xtask bench --only erp` runs 10,000 against a
//! release build) are placed through the plugin's JSON API, each with its own `Idempotency-Key`,
//! and approved at once by the plugin's approval (no step's condition holds for small orders);
//! after 30 % of them the host is killed with SIGKILL, started again on the same database, and
//! sent again the requests it did not answer. Then there must be exactly one approved order per
//! request, and every one must have been applied by the ERP once, and none twice, however often
//! it was sent. On SQLite and PostgreSQL. The run prints its figures
//! (`erp-delivery-figures {json}`), which `cargo xtask bench --only erp` records in
//! docs/BENCHMARKS.md.

mod common;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use serde_json::{Value, json};

use common::{database, drop_database, start, token};

/// The waits between delivery attempts: the documented schedule, shortened so that a run ends
/// within minutes (`--webhook-retries`).
const RETRIES: &str = "1s,2s,4s,8s,15s,30s,60s";
/// Orders placed at once.
const CONCURRENCY: usize = 4;

fn orders() -> usize {
    std::env::var("TESSERA_ERP_ORDERS").ok().and_then(|n| n.parse().ok()).unwrap_or(1_000)
}

/// The flaky ERP, a Python process; killed when dropped.
struct Erp {
    child: Child,
    base: String,
}

impl Drop for Erp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Erp {
    fn start() -> Erp {
        let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/support/flaky_erp.py");
        let mut child = Command::new("python3")
            .arg(&script)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 runs the flaky ERP (pip install standardwebhooks)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("the ERP's port");
        let port: u16 = line.trim().parse().unwrap_or_else(|_| panic!("the flaky ERP did not start: {line:?}"));
        Erp { child, base: format!("http://127.0.0.1:{port}") }
    }

    async fn stats(&self) -> Value {
        reqwest::get(format!("{}/stats", self.base)).await.expect("stats").json().await.expect("json")
    }
}

/// The package `cargo xtask build-plugins` made.
fn package() -> Vec<u8> {
    let dir = std::env::var_os("TESSERA_PLUGIN_PACKAGES")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/plugins"));
    let found = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{} (run cargo xtask build-plugins): {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .find(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("orders-to-erp-")))
        .unwrap_or_else(|| panic!("no orders-to-erp package in {} (run cargo xtask build-plugins)", dir.display()));
    std::fs::read(found).expect("the package")
}

struct Api {
    client: reqwest::Client,
    base: String,
    token: String,
}

impl Api {
    /// Sends a request; None when the host did not answer (it was killed).
    async fn try_send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Option<(u16, Value)> {
        let mut request = self.client.request(method, format!("{}{path}", self.base)).bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        Self::answer(request, path).await
    }

    /// Posts with an `Idempotency-Key`, so that sending it again never places a second order.
    async fn try_send_keyed(&self, path: &str, key: &str, body: Value) -> Option<(u16, Value)> {
        let request = self
            .client
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .header("idempotency-key", key)
            .json(&body);
        Self::answer(request, path).await
    }

    async fn answer(request: reqwest::RequestBuilder, path: &str) -> Option<(u16, Value)> {
        let response = match request.timeout(Duration::from_secs(60)).send().await {
            Ok(response) => response,
            Err(e) if std::env::var_os("TESSERA_ERP_DEBUG").is_some() => {
                eprintln!("{path}: {e}");
                return None;
            }
            Err(_) => return None,
        };
        let status = response.status().as_u16();
        Some((status, response.json().await.unwrap_or(Value::Null)))
    }

    async fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        self.try_send(method, path, body).await.unwrap_or_else(|| panic!("{} did not answer {path}", self.base))
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        let (status, answer) = self.send(reqwest::Method::POST, path, Some(body)).await;
        assert!((200..300).contains(&status), "POST {path}: {status} {answer}");
        answer
    }

    async fn get(&self, path: &str) -> Value {
        let (status, answer) = self.send(reqwest::Method::GET, path, None).await;
        assert_eq!(status, 200, "GET {path}: {answer}");
        answer
    }
}

/// Installs and enables the plugin, points a webhook endpoint for its events at the ERP, and
/// makes a customer and the products orders are placed for. Returns the customer's id.
async fn set_up(api: &Api, erp: &Erp) -> i64 {
    let installed = api
        .client
        .post(format!("{}/api/v1/plugins", api.base))
        .bearer_auth(&api.token)
        .header("content-type", "application/wasm")
        .body(package())
        .send()
        .await
        .expect("install");
    assert_eq!(installed.status().as_u16(), 201, "install: {}", installed.text().await.unwrap_or_default());
    let info = api.get("/api/v1/plugins/orders-to-erp").await;
    let capabilities = info["manifest"]["plugin"]["capabilities"].clone();
    api.post("/api/v1/plugins/orders-to-erp/enable", json!({ "capabilities": capabilities })).await;

    let endpoint = api
        .post("/api/v1/webhooks", json!({ "url": format!("{}/orders", erp.base), "topics": ["orders-to-erp.*"] }))
        .await;
    let secret = endpoint["secret"].as_str().expect("the endpoint's secret").to_owned();
    let told = reqwest::Client::new().post(format!("{}/secret", erp.base)).body(secret).send().await.expect("ERP");
    assert_eq!(told.status().as_u16(), 204);

    for (sku, name, price) in [("CPU-8C", "八核处理器", "1299.00"), ("RAM-32G", "32G 内存条", "459.50")] {
        add_product(api, sku, name, price).await;
    }
    let customer = api.post("/api/v1/customers", json!({ "name": "华东精密制造有限公司" })).await;
    customer["id"].as_i64().expect("customer id")
}

async fn add_product(api: &Api, sku: &str, name: &str, price: &str) {
    let input = json!({ "sku": sku, "name": name, "unit": "个", "price": price, "tax_rate": "13", "active": true });
    let outcome =
        api.post("/api/v1/plugins/orders-to-erp/pages/products/actions/add-product", json!({ "input": input })).await;
    assert_eq!(outcome["type"], "notice", "adding {sku}: {outcome}");
    assert_eq!(outcome["level"], "success", "adding {sku}: {outcome}");
}

/// Places the orders numbered `numbers`, a few at a time; returns the numbers acknowledged
/// with 201. With `kill`, the host is killed once `kill_after` are acknowledged.
async fn place(api: &Api, customer: i64, numbers: Vec<usize>, kill: Option<(Arc<Mutex<Child>>, usize)>) -> Vec<usize> {
    let acked = Arc::new(AtomicUsize::new(0));
    let done: Vec<Option<usize>> = futures::stream::iter(numbers)
        .map(|n| {
            let (acked, kill) = (acked.clone(), kill.clone());
            let body = json!({
                "customer_id": customer,
                "lines": [{ "sku": "CPU-8C", "quantity": 1 + n % 3 }, { "sku": "RAM-32G", "quantity": 2, "discount_bp": 500 }],
                "notes": format!("load #{n}"),
                "submit": true,
            });
            async move {
                // A busy host may answer 503 or 504 (the plugin ran past its deadline); an
                // integration tries again a little later, as this one does.
                let mut sent = None;
                for attempt in 0..6 {
                    sent = api.try_send_keyed("/api/plugins/orders-to-erp/orders", &format!("load-{n}"), body.clone()).await;
                    match &sent {
                        Some((status, _)) if *status >= 500 || *status == 429 => {
                            tokio::time::sleep(Duration::from_millis(200 << attempt.min(4))).await;
                        }
                        _ => break,
                    }
                }
                if kill.is_none() {
                    match &sent {
                        Some((200 | 201, _)) => {}
                        Some((status, answer)) => eprintln!("order #{n} refused: {status} {answer}"),
                        None => eprintln!("order #{n}: no answer"),
                    }
                }
                let ok = sent.is_some_and(|(status, _)| status == 200 || status == 201);
                if ok
                    && let Some((child, after)) = &kill
                    && acked.fetch_add(1, Ordering::SeqCst) + 1 == *after
                {
                    // SIGKILL: no shutdown, no flush, nothing but what was committed.
                    let _ = child.lock().expect("lock").kill();
                }
                ok.then_some(n)
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    done.into_iter().flatten().collect()
}

/// The ids of the orders with a status, through the plugin's API.
async fn orders_in(api: &Api, status: &str) -> BTreeSet<i64> {
    let mut ids = BTreeSet::new();
    let mut cursor = String::new();
    loop {
        let page = api.get(&format!("/api/plugins/orders-to-erp/orders?status={status}&limit=500{cursor}")).await;
        ids.extend(page["items"].as_array().expect("items").iter().filter_map(|o| o["id"].as_i64()));
        match page["next_cursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => return ids,
        }
    }
}

async fn every_approved_order_reaches_the_erp_once(backend: &str) {
    let total = orders();
    let kill_after = total * 3 / 10;
    let dir = std::env::temp_dir().join(format!("tessera-erp-{backend}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let (mut args, url) = database(backend, &dir, "erp");
    args.extend(["--webhook-retries".to_owned(), RETRIES.to_owned()]);
    let erp = Erp::start();

    let mut first = start(&args).await;
    let api = Api { client: reqwest::Client::new(), base: first.base.clone(), token: token(&first.base).await };
    let customer = set_up(&api, &erp).await;
    let started = Instant::now();
    let child = Arc::new(Mutex::new(first.child.take().expect("the first host")));
    let mut acked = place(&api, customer, (0..total).collect(), Some((child.clone(), kill_after))).await;
    let _ = child.lock().expect("lock").wait();
    let before_kill = acked.len();
    assert!(before_kill >= kill_after && before_kill < total, "the host died mid-way: {before_kill} acknowledged");

    // Started again on the same database, the host takes the orders it did not acknowledge.
    let second = start(&args).await;
    let api = Api { base: second.base.clone(), ..api };
    let placed: BTreeSet<usize> = acked.iter().copied().collect();
    let again: Vec<usize> = (0..total).filter(|n| !placed.contains(n)).collect();
    let retried = place(&api, customer, again.clone(), None).await;
    assert_eq!(retried.len(), again.len(), "the restarted host takes every order");
    acked.extend(retried);
    let placing = started.elapsed();

    // Every approved order reaches the ERP: wait until the ERP applied as many as are approved,
    // twice in a row a second apart (approvals of the orders the kill interrupted may still
    // complete after the restart).
    let deadline = Instant::now() + Duration::from_secs(600);
    let mut settled = 0;
    let (approved, stats) = loop {
        let approved = orders_in(&api, "approved").await;
        let stats = erp.stats().await;
        let applied = stats["applied"].as_u64().unwrap_or(0) as usize;
        settled = if approved.len() >= total && applied >= approved.len() { settled + 1 } else { 0 };
        if settled == 2 || Instant::now() > deadline {
            break (approved, stats);
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    let delivering = started.elapsed();
    let applied: BTreeSet<i64> = stats["orders"].as_array().expect("orders").iter().filter_map(Value::as_i64).collect();
    let missing: Vec<&i64> = approved.difference(&applied).take(10).collect();
    assert!(missing.is_empty(), "{backend}: approved orders the ERP never applied, e.g. {missing:?}; {stats}");
    let unknown: Vec<&i64> = applied.difference(&approved).take(10).collect();
    assert!(unknown.is_empty(), "{backend}: the ERP applied orders that are not approved, e.g. {unknown:?}");
    assert_eq!(approved.len(), total, "{backend}: one approved order per request, whatever was sent twice");
    assert_eq!(stats["applied_twice"], 0, "{backend}: an order was applied twice: {stats}");
    assert_eq!(stats["bad_signatures"], 0, "{backend}: the reference library refused a signature: {stats}");
    assert_eq!(stats["key_mismatches"], 0, "{backend}: an idempotency key was missing or wrong: {stats}");
    for trouble in ["dropped", "errors", "throttled", "slow", "lost_answers", "duplicates"] {
        assert!(stats[trouble].as_u64().unwrap_or(0) > 0, "{backend}: the ERP never had {trouble}: {stats}");
    }
    let figures = json!({
        "backend": backend,
        "orders": total,
        "acknowledged_before_kill": before_kill,
        "approved": approved.len(),
        "applied": applied.len(),
        "attempts": stats["attempts"],
        "dropped": stats["dropped"],
        "errors": stats["errors"],
        "throttled": stats["throttled"],
        "slow": stats["slow"],
        "lost_answers": stats["lost_answers"],
        "duplicates": stats["duplicates"],
        "placing_s": placing.as_secs_f64(),
        "total_s": delivering.as_secs_f64(),
        "placed_per_s": total as f64 / placing.as_secs_f64(),
        "delivered_per_s": applied.len() as f64 / delivering.as_secs_f64(),
    });
    println!("erp-delivery-figures {figures}");
    drop(second);
    drop_database(&dir, &url);
}

/// One backend after the other: two hosts under load at once on a small machine run their
/// plugin calls past the deadline, which is another test.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_approved_order_reaches_the_erp_once_on_sqlite_and_postgres() {
    every_approved_order_reaches_the_erp_once("sqlite").await;
    every_approved_order_reaches_the_erp_once("postgres").await;
}
