//! Event delivery and notification benchmarks against a release build of `tessera serve`:
//!
//! - **Events per second, end to end**: a batch of events is committed to the outbox of a
//!   running host in one transaction; the clock runs from before that commit until a local
//!   webhook receiver has every event, each fanned out, signed, sent over HTTP and recorded
//!   as delivered.
//! - **Notification latency**: a signed-in user holds a live notification stream open; another
//!   user transfers a customer to them over the API; the clock runs from sending the transfer
//!   until its notification arrives on the stream, one transfer at a time.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::bench::{ADMIN_PASSWORD, Server, http, make_token, psql, query_db, start_server};

/// What one backend measured.
#[derive(Debug, Clone, Default)]
pub struct Figures {
    pub events: u64,
    pub events_secs: f64,
    pub notifications: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// Receives webhooks over HTTP/1.1 keep-alive, one thread per connection, and counts the
/// distinct `webhook-id`s of signed requests.
struct Receiver {
    addr: SocketAddr,
    seen: Arc<Mutex<HashSet<String>>>,
    unsigned: Arc<AtomicU64>,
}

fn serve_connection(stream: TcpStream, seen: &Mutex<HashSet<String>>, unsigned: &AtomicU64) -> std::io::Result<()> {
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let (mut length, mut id, mut signed) = (0usize, None, false);
        loop {
            let mut header = String::new();
            reader.read_line(&mut header)?;
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            let (name, value) = header.split_once(':').unwrap_or((header, ""));
            match name.to_ascii_lowercase().as_str() {
                "content-length" => length = value.trim().parse().unwrap_or(0),
                "webhook-id" => id = Some(value.trim().to_owned()),
                "webhook-signature" => signed = value.trim().starts_with("v1,"),
                _ => {}
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body)?;
        match id.filter(|_| signed) {
            Some(id) => {
                if let Ok(mut seen) = seen.lock() {
                    seen.insert(id);
                }
            }
            None => {
                unsigned.fetch_add(1, Ordering::Relaxed);
            }
        }
        writer.write_all(b"HTTP/1.1 204 No Content\r\n\r\n")?;
    }
}

impl Receiver {
    fn start() -> Result<Receiver> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let seen = Arc::new(Mutex::new(HashSet::new()));
        let unsigned = Arc::new(AtomicU64::new(0));
        let (s, u) = (seen.clone(), unsigned.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (s, u) = (s.clone(), u.clone());
                std::thread::spawn(move || {
                    let _ = stream.set_nodelay(true);
                    let _ = serve_connection(stream, &s, &u);
                });
            }
        });
        Ok(Receiver { addr, seen, unsigned })
    }

    fn count(&self) -> u64 {
        self.seen.lock().map(|s| s.len() as u64).unwrap_or(0)
    }
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

fn number_field(body: &str, field: &str) -> Option<i64> {
    let key = format!("\"{field}\":");
    let start = body.find(&key)? + key.len();
    let digits: String = body[start..].chars().take_while(|c| c.is_ascii_digit()).collect();
    digits.parse().ok()
}

/// Commits `events` events in one transaction and times their delivery to a receiver.
fn events_per_second(server: &Server, token: &str, events: u64) -> Result<(u64, f64)> {
    let receiver = Receiver::start()?;
    let auth = bearer(token);
    let hook = format!("{{\"url\":\"http://{}/hook\",\"topics\":[\"bench.*\"]}}", receiver.addr);
    let (status, body) = http(server.addr, "POST", "/api/v1/webhooks", &[("Authorization", &auth)], Some(&hook))?;
    if status != 201 {
        bail!("cannot add the webhook endpoint: {status} {body}");
    }
    let org = query_db(server, "SELECT id FROM orgs ORDER BY id LIMIT 1")?;
    let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_millis();
    let rows = match server.db_args.first().map(String::as_str) {
        Some("--database-url") => format!("SELECT x FROM generate_series(1, {events}) AS x"),
        _ => format!(
            "WITH RECURSIVE s(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM s WHERE x < {events}) SELECT x FROM s"
        ),
    };
    let insert = format!(
        "INSERT INTO outbox (org_id, topic, aggregate_type, aggregate_id, actor_user_id, payload, created_at, dispatched) \
         SELECT {org}, 'bench.event', 'customer', x, NULL, '{{\"id\":' || x || ',\"name\":\"基准测试客户\"}}', {now_ms}, 0 FROM ({rows}) AS g"
    );
    println!("  committing {events} events and waiting for every delivery");
    let started = Instant::now();
    query_db(server, &insert)?;
    let deadline = started + Duration::from_secs(900);
    let mut last_report = Instant::now();
    while receiver.count() < events {
        if Instant::now() > deadline {
            bail!("only {} of {events} events arrived within 15 minutes", receiver.count());
        }
        if last_report.elapsed() > Duration::from_secs(10) {
            println!("    {} delivered after {:.0} s", receiver.count(), started.elapsed().as_secs_f64());
            last_report = Instant::now();
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let secs = started.elapsed().as_secs_f64();
    let unsigned = receiver.unsigned.load(Ordering::Relaxed);
    if unsigned > 0 {
        bail!("{unsigned} requests arrived without a signature");
    }
    // Every delivery is recorded as delivered, too.
    for _ in 0..600 {
        let delivered: u64 =
            query_db(server, "SELECT COUNT(*) FROM deliveries WHERE status = 'delivered'")?.parse().unwrap_or(0);
        if delivered >= events {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok((events, secs))
}

/// Reads a notification stream, sending the arrival time of each event id.
fn open_stream(addr: SocketAddr, token: &str) -> Result<mpsc::Receiver<Instant>> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_nodelay(true)?;
    write!(
        stream,
        "GET /api/v1/notifications/stream HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nAccept: text/event-stream\r\n\r\n"
    )?;
    let (tx, rx) = mpsc::channel();
    let mut reader = BufReader::new(stream);
    let mut status = String::new();
    reader.read_line(&mut status)?;
    if !status.contains(" 200 ") {
        bail!("the notification stream answered {status}");
    }
    std::thread::spawn(move || {
        let mut line = String::new();
        loop {
            line.clear();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {
                    if line.starts_with("id:") && tx.send(Instant::now()).is_err() {
                        return;
                    }
                }
            }
        }
    });
    Ok(rx)
}

pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Times `count` transfers from the write to the notification on the new owner's stream.
fn notification_latency(server: &Server, token: &str, count: usize) -> Result<Vec<f64>> {
    let addr = server.addr;
    let auth = bearer(token);
    let headers = [("Authorization", auth.as_str())];
    let password = "a passphrase for the stream";
    let (_, roles) = http(addr, "GET", "/api/v1/roles", &headers, None)?;
    let role = roles
        .split("{\"id\":")
        .skip(1)
        .find(|r| r.contains("\"name\":\"Salesperson\""))
        .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next().and_then(|n| n.parse::<i64>().ok()))
        .context("the Salesperson role")?;
    let user = format!(
        "{{\"username\":\"stream.reader\",\"display_name\":\"Stream Reader\",\"password\":\"{password}\",\"role_ids\":[{role}]}}"
    );
    let (status, body) = http(addr, "POST", "/api/v1/users", &headers, Some(&user))?;
    if status != 201 {
        bail!("cannot add the user: {status} {body}");
    }
    let reader_id = number_field(&body, "id").context("user id")?;
    let reader_token = make_token(addr, "stream.reader", password)?;
    println!("  creating {count} customers");
    let mut customers = Vec::with_capacity(count);
    for n in 0..count {
        let (status, body) =
            http(addr, "POST", "/api/v1/customers", &headers, Some(&format!("{{\"name\":\"通知延迟客户{n}\"}}")))?;
        if status != 201 {
            bail!("cannot create a customer: {status} {body}");
        }
        customers.push(number_field(&body, "id").context("customer id")?);
    }
    let arrivals = open_stream(addr, &reader_token)?;
    std::thread::sleep(Duration::from_millis(300));
    println!("  transferring them one at a time to a user holding a live stream");
    let mut latencies = Vec::with_capacity(count);
    for id in customers {
        let body = format!("{{\"customer_ids\":[{id}],\"to_user_id\":{reader_id},\"reason\":\"bench\"}}");
        let started = Instant::now();
        let (status, resp) = http(addr, "POST", "/api/v1/customers/transfer", &headers, Some(&body))?;
        if status != 200 {
            bail!("the transfer failed: {status} {resp}");
        }
        let arrived = arrivals.recv_timeout(Duration::from_secs(10)).context("no notification within 10 s")?;
        latencies.push(arrived.duration_since(started).as_secs_f64() * 1000.0);
    }
    Ok(latencies)
}

pub fn run(binary: &Path, backend: &str, events: u64, notifications: usize) -> Result<Figures> {
    let server = start_server(binary, backend)?;
    let token = make_token(server.addr, "admin", ADMIN_PASSWORD)?;
    let (events, events_secs) = events_per_second(&server, &token, events)?;
    println!("    {events} events in {events_secs:.2} s: {:.0} events/s", events as f64 / events_secs);
    let mut latencies = notification_latency(&server, &token, notifications)?;
    latencies.sort_by(f64::total_cmp);
    let figures = Figures {
        events,
        events_secs,
        notifications: latencies.len(),
        p50_ms: percentile(&latencies, 50.0),
        p99_ms: percentile(&latencies, 99.0),
        max_ms: latencies.last().copied().unwrap_or(0.0),
    };
    println!(
        "    notification latency over {} writes: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        figures.notifications, figures.p50_ms, figures.p99_ms, figures.max_ms
    );
    drop(server);
    if backend == "postgres" {
        psql(&format!("DROP DATABASE IF EXISTS tessera_bench_{} WITH (FORCE)", std::process::id()))?;
    }
    Ok(figures)
}

/// The section of `docs/BENCHMARKS.md` these figures make.
pub fn report(md: &mut String, sections: &[(&str, Figures)]) {
    let _ = writeln!(md, "\n## Event delivery and notifications\n");
    let _ = writeln!(
        md,
        "*Events end to end*: the events are committed to the outbox of a running host in one transaction; the clock runs \
         from before that commit until a local webhook receiver (plain HTTP/1.1 keep-alive, a thread per connection) has \
         received every one, each fanned out, signed per Standard Webhooks, sent and recorded as delivered. *Notification \
         latency*: a user holds `GET /api/v1/notifications/stream` open; the admin transfers a customer to them over the API; \
         the clock runs from sending the transfer until the notification's `id:` line arrives, one transfer at a time."
    );
    let _ = writeln!(md, "\n| backend | measure | figure | goal |");
    let _ = writeln!(md, "|---|---|---|---|");
    for (backend, f) in sections {
        let _ = writeln!(
            md,
            "| {backend} | events end to end | {} events in {:.2} s: **{:.0} events/s** | ≥ 20,000/s on SQLite |",
            f.events,
            f.events_secs,
            f.events as f64 / f.events_secs.max(1e-9)
        );
        let _ = writeln!(
            md,
            "| {backend} | notification latency, write to SSE client | {} writes: p50 {:.2} ms, **p99 {:.2} ms**, max {:.2} ms | p99 ≤ 20 ms |",
            f.notifications, f.p50_ms, f.p99_ms, f.max_ms
        );
    }
}
