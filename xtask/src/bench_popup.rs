//! Caller-ID popup latency: from a PBX's webhook to the agent's browser. The bundled
//! `call-popup` plugin is installed and enabled through the admin API, extension 8001 is mapped
//! to the salesperson zhang.wei, who keeps the CRM open (a live notification stream over a real
//! socket, as the browser's `EventSource` holds it), and the PBX posts `CALLS` ringing events
//! one after another, each for a different number, half of them a known customer's. A call's
//! latency runs from the moment the webhook request starts being written to the moment its
//! popup arrives on the agent's stream.

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};

use crate::bench::{ADMIN_PASSWORD, Server, http, install_plugin, make_token, query_db, sign_in, start_server_with};

const CALLS: usize = 100;
/// Calls before the measured ones: the plugin compiled, caches and connections warm.
const WARM_UP: usize = 10;
const TOKEN: &str = "bench-pbx-token-0123456789";
const CAPABILITIES: &str =
    r#"["customers:read","customers:write","activities:write","directory:read","notify","http:inbound"]"#;

pub struct Figures {
    calls: usize,
    /// Milliseconds per call, sorted.
    latencies: Vec<f64>,
}

impl Figures {
    fn percentile(&self, p: f64) -> f64 {
        let n = self.latencies.len();
        if n == 0 {
            return 0.0;
        }
        let rank = ((p / 100.0) * n as f64).ceil() as usize;
        self.latencies[rank.clamp(1, n) - 1]
    }
}

pub fn run(binary: &Path, backend: &str) -> Result<Figures> {
    let packages = crate::plugins::build_plugins()?;
    let server = start_server_with(binary, backend, true)?;
    let token = make_token(server.addr, "admin", ADMIN_PASSWORD)?;
    let bearer = format!("Bearer {token}");
    let auth = [("Authorization", bearer.as_str())];
    install_plugin(&server, &packages.join("call-popup-1.0.0.wasm"), &bearer, "call-popup", CAPABILITIES)?;
    let (status, body) = http(
        server.addr,
        "PUT",
        "/api/v1/plugins/call-popup/settings",
        &auth,
        Some(&format!(r#"{{"webhook_token":"{TOKEN}"}}"#)),
    )?;
    ensure!(status == 200, "setting the webhook token answered {status}: {body}");
    let agent: i64 =
        query_db(&server, "SELECT id FROM users WHERE username = 'zhang.wei'")?.parse().context("zhang.wei")?;
    let (status, body) = http(
        server.addr,
        "POST",
        "/api/v1/plugins/call-popup/pages/extensions/actions/add-extension",
        &auth,
        Some(&format!(r#"{{"input":{{"extension":"8001","user_id":{agent}}}}}"#)),
    )?;
    ensure!(status == 200 && body.contains("success"), "mapping extension 8001 answered {status}: {body}");
    // Numbers of the demo customers, so that half the calls find one.
    let known: Vec<String> = query_db(&server, "SELECT raw FROM phones WHERE contact_id IS NULL ORDER BY id LIMIT 60")?
        .lines()
        .map(str::to_owned)
        .collect();
    ensure!(!known.is_empty(), "the demo organisation has no customer phone numbers");

    let popups = follow_stream(&server, "zhang.wei")?;
    let mut latencies = Vec::new();
    for n in 0..WARM_UP + CALLS {
        let number = if n % 2 == 0 { known[n / 2 % known.len()].clone() } else { format!("1390000{n:04}") };
        let body = format!(
            r#"{{"event":"ringing","call_id":"bench-{n}","from":"{number}","extension":"8001","direction":"inbound"}}"#
        );
        let started = Instant::now();
        let (status, answer) = http(
            server.addr,
            "POST",
            "/hooks/call-popup/demo/calls",
            &[("Authorization", &format!("Bearer {TOKEN}"))],
            Some(&body),
        )?;
        ensure!(status == 200, "call {n}: the webhook answered {status}: {answer}");
        let call: i64 = answer
            .split("\"call\":")
            .nth(1)
            .and_then(|rest| rest.split([',', '}']).next())
            .and_then(|v| v.trim().parse().ok())
            .with_context(|| format!("call {n}: no call id in {answer}"))?;
        let arrived = loop {
            let (id, at) =
                popups.recv_timeout(Duration::from_secs(10)).with_context(|| format!("call {n}: no popup"))?;
            if id == call {
                break at;
            }
        };
        if n >= WARM_UP {
            latencies.push(arrived.saturating_duration_since(started).as_secs_f64() * 1000.0);
        }
    }
    latencies.sort_by(f64::total_cmp);
    let figures = Figures { calls: CALLS, latencies };
    println!(
        "    {} calls: p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        figures.calls,
        figures.percentile(50.0),
        figures.percentile(95.0),
        figures.percentile(99.0),
        figures.percentile(100.0)
    );
    Ok(figures)
}

/// Opens the user's live notification stream and sends on each popup's call record id with
/// the instant it arrived.
fn follow_stream(server: &Server, username: &str) -> Result<mpsc::Receiver<(i64, Instant)>> {
    let (cookie, _) = sign_in(server.addr, username, ADMIN_PASSWORD)?;
    let mut stream = TcpStream::connect(server.addr)?;
    write!(
        stream,
        "GET /api/v1/notifications/stream HTTP/1.1\r\nHost: {}\r\nCookie: {cookie}\r\nAccept: text/event-stream\r\n\r\n",
        server.addr
    )?;
    let mut reader = BufReader::new(stream);
    let mut status = String::new();
    reader.read_line(&mut status)?;
    ensure!(status.contains(" 200 "), "the notification stream answered {status}");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        loop {
            line.clear();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            let at = Instant::now();
            // A popup's data carries its link, `/p/call-popup/call?call=<id>`.
            if line.starts_with("data:")
                && line.contains("plugin_popup")
                && let Some(id) = line
                    .split("call?call=")
                    .nth(1)
                    .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
                    .and_then(|v| v.parse().ok())
                && tx.send((id, at)).is_err()
            {
                break;
            }
        }
    });
    Ok(rx)
}

pub fn report(md: &mut String, sections: &[(&str, Figures)]) {
    let _ = writeln!(md, "\n## Caller-ID popup: webhook to the agent's browser\n");
    let _ = writeln!(
        md,
        "The PBX posts {CALLS} ringing events (after {WARM_UP} not counted) to \
         `/hooks/call-popup/demo/calls`, one after another, half of them from a demo customer's \
         number; the agent the extension maps to holds the live notification stream open. A \
         call's latency runs from the start of the webhook request to the arrival of its popup \
         on the stream. Goal: p99 ≤ 100 ms.\n"
    );
    let _ = writeln!(md, "| backend | calls | p50 | p95 | p99 | max | goal met |");
    let _ = writeln!(md, "|---|---|---|---|---|---|---|");
    for (backend, f) in sections {
        let p99 = f.percentile(99.0);
        let _ = writeln!(
            md,
            "| {backend} | {} | {:.1} ms | {:.1} ms | {p99:.1} ms | {:.1} ms | {} |",
            f.calls,
            f.percentile(50.0),
            f.percentile(95.0),
            f.percentile(100.0),
            if p99 <= 100.0 { "yes" } else { "no" }
        );
    }
}
