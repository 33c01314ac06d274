//! `cargo xtask bench`: load tests with wrk over loopback against a release build of the
//! host, on SQLite and on PostgreSQL. The results, with the machine they ran on, are written
//! to `docs/BENCHMARKS.md`.

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::test::{ensure_postgres, postgres_url};
use crate::{build_host, root};

pub const ADMIN_PASSWORD: &str = "benchmark admin passphrase";
/// Accounts that sign in during the sign-in load, and their password.
const SIGNERS: u32 = 32;
const SIGNER_PASSWORD: &str = "a passphrase for signing in";

/// One wrk run, read back.
#[derive(Debug, Clone, Default)]
pub struct WrkResult {
    pub requests_per_sec: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub requests: u64,
    pub errors: u64,
}

impl WrkResult {
    /// The figures a report shows: rate, median, 99th percentile and errors.
    pub fn summary(&self) -> String {
        format!(
            "{:.0} req/s, p50 {:.1} ms, p99 {:.1} ms, {} errors",
            self.requests_per_sec, self.p50_ms, self.p99_ms, self.errors
        )
    }
}

pub fn run(args: &[String]) -> Result<()> {
    let quick = args.iter().any(|a| a == "--quick");
    let seconds = if quick { 3 } else { 15 };
    let customers: usize = args
        .iter()
        .position(|a| a == "--customers")
        .and_then(|i| args.get(i + 1))
        .map(|n| n.parse())
        .transpose()
        .context("--customers takes a number")?
        .unwrap_or(if quick { 20_000 } else { 1_000_000 });
    let only = args.iter().position(|a| a == "--only").and_then(|i| args.get(i + 1)).map(String::as_str);
    let (events, notifications) = if quick { (20_000, 200) } else { (100_000, 1_000) };
    ensure_tools()?;
    if only == Some("plugins") {
        // The plugin benchmarks run on SQLite alone.
        let binary = build_host(true)?;
        println!("== plugin runtime");
        let mut md = String::new();
        crate::bench_plugins::report(&mut md, &crate::bench_plugins::run(&binary, quick)?);
        return replace_section("plugins", &md);
    }
    ensure_postgres()?;
    let binary = build_host(true)?;
    let mut event_sections = Vec::new();
    match only {
        None => {}
        Some("events") => {
            for backend in ["sqlite", "postgres"] {
                println!("== event delivery and notifications on {backend}");
                event_sections.push((backend, crate::bench_events::run(&binary, backend, events, notifications)?));
            }
            let mut md = String::new();
            crate::bench_events::report(&mut md, &event_sections);
            return replace_section("events", &md);
        }
        Some("customers") => {
            let mut customer_sections = Vec::new();
            for backend in ["sqlite", "postgres"] {
                println!("== customer database on {backend}, {customers} customers");
                customer_sections.push((backend, crate::bench_customers::run(&binary, backend, customers, seconds)?));
            }
            let mut md = String::new();
            crate::bench_customers::report(&mut md, &customer_sections, customers);
            return replace_section("customers", &md);
        }
        Some("web") => {
            let mut web_sections = Vec::new();
            for backend in ["sqlite", "postgres"] {
                println!("== web CRM on {backend}, {customers} customers");
                web_sections.push((backend, crate::bench_web::run(&binary, backend, customers, seconds)?));
            }
            let mut md = String::new();
            crate::bench_web::report(&mut md, &web_sections);
            return replace_section("web", &md);
        }
        Some("pool") => {
            let mut pool_sections = Vec::new();
            for backend in ["sqlite", "postgres"] {
                println!("== public pool recycle on {backend}, {customers} customers");
                pool_sections.push((backend, crate::bench_pool::run(&binary, backend, customers)?));
            }
            let mut md = String::new();
            crate::bench_pool::report(&mut md, &pool_sections);
            return replace_section("pool", &md);
        }
        Some("popup") => {
            let mut popup_sections = Vec::new();
            for backend in ["sqlite", "postgres"] {
                println!("== caller-ID popup latency on {backend}");
                popup_sections.push((backend, crate::bench_popup::run(&binary, backend)?));
            }
            let mut md = String::new();
            crate::bench_popup::report(&mut md, &popup_sections);
            return replace_section("popup", &md);
        }
        Some("erp") => {
            println!("== sales orders to a flaky ERP, {} orders per backend", crate::bench_erp::ORDERS);
            let figures = crate::bench_erp::run(&binary)?;
            let mut md = String::new();
            crate::bench_erp::report(&mut md, &figures);
            return replace_section("erp", &md);
        }
        Some("search") => {
            let corpora = crate::bench_search::corpora(quick);
            let mut sections = Vec::new();
            for backend in ["sqlite", "postgres"] {
                println!("== search in the knowledge base and the forum on {backend}");
                sections.push((backend, crate::bench_search::run(&binary, backend, &corpora)?));
            }
            let mut md = String::new();
            crate::bench_search::report(&mut md, &sections);
            return replace_section("search", &md);
        }
        Some(other) => {
            bail!(
                "--only takes `events`, `customers`, `web`, `pool`, `popup`, `erp`, `search` or `plugins`, not {other:?}"
            )
        }
    }
    let mut sections = Vec::new();
    let mut customer_sections = Vec::new();
    for backend in ["sqlite", "postgres"] {
        println!("== host core on {backend}");
        sections.push((backend, host_core(&binary, backend, seconds)?));
        println!("== customer database on {backend}, {customers} customers");
        customer_sections.push((backend, crate::bench_customers::run(&binary, backend, customers, seconds)?));
        println!("== event delivery and notifications on {backend}");
        event_sections.push((backend, crate::bench_events::run(&binary, backend, events, notifications)?));
    }
    println!("== plugin runtime");
    let plugins = crate::bench_plugins::run(&binary, quick)?;
    write_report(&sections, &customer_sections, &event_sections, &plugins, customers, seconds)?;
    Ok(())
}

/// Wraps a section of the report in markers, so that a run of one benchmark can replace it.
fn marked(name: &str, md: &str) -> String {
    format!("\n<!-- section: {name} -->{md}<!-- end: {name} -->\n")
}

/// Replaces one section of `docs/BENCHMARKS.md` (or appends it), keeping the rest, and notes
/// the date and machine of that run in the section.
fn replace_section(name: &str, md: &str) -> Result<()> {
    let path = root().join("docs/BENCHMARKS.md");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|_| "# Benchmarks\n".to_owned());
    let date = Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    let section = marked(
        name,
        &format!("{md}\nThis section was measured on {date} by `cargo xtask bench --only {name}` on: {}.\n", machine()),
    );
    let (start, end) = (format!("<!-- section: {name} -->"), format!("<!-- end: {name} -->"));
    // A report written before sections were marked holds the section from its heading to the
    // next marked section.
    let unmarked = || {
        let heading = match name {
            "customers" => "\n## Customer database",
            _ => return None,
        };
        let a = text.find(heading)?;
        let b = text[a..].find("\n<!-- section:").map_or(text.len(), |b| a + b);
        Some((a, b))
    };
    let span = match (text.find(&start), text.find(&end)) {
        (Some(a), Some(b)) if a < b => Some((a, b + end.len())),
        _ => unmarked(),
    };
    let text = match span {
        Some((a, b)) => {
            let before = text[..a].trim_end_matches('\n');
            let after = &text[b..];
            format!("{before}\n{section}{}", after.trim_start_matches('\n'))
        }
        None => format!("{}\n{section}", text.trim_end()),
    };
    std::fs::write(&path, text)?;
    println!("updated the {name} section of {}", path.display());
    Ok(())
}

fn ensure_tools() -> Result<()> {
    // wrk drives the load; sqlite3 counts what was loaded and imports the same file as the
    // reference for import throughput.
    for (tool, probe) in [("wrk", "--version"), ("sqlite3", "--version")] {
        if Command::new(tool).arg(probe).stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok() {
            continue;
        }
        eprintln!("installing {tool} from the Debian packages");
        let _ = Command::new("apt-get").args(["update", "-qq"]).status();
        let ok =
            Command::new("apt-get").args(["install", "-y", "-qq", tool]).status().map(|s| s.success()).unwrap_or(false);
        if !ok {
            bail!("{tool} is needed for the benchmarks: apt-get install {tool}");
        }
    }
    Ok(())
}

pub struct Server {
    child: Child,
    pub addr: SocketAddr,
    pub dir: TempDir,
    /// The database the server uses, for the admin commands run beside it.
    pub db_args: Vec<String>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub struct TempDir(pub PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

pub fn start_server(binary: &Path, backend: &str) -> Result<Server> {
    start_server_with(binary, backend, false)
}

/// Starts `tessera serve` on a fresh database; with `demo`, the organisation gets the demo
/// departments and people (all with the admin password).
pub fn start_server_with(binary: &Path, backend: &str, demo: bool) -> Result<Server> {
    start_server_args(binary, backend, demo, &[])
}

/// [`start_server_with`], with more arguments for `tessera serve`.
pub fn start_server_args(binary: &Path, backend: &str, demo: bool, args: &[std::ffi::OsString]) -> Result<Server> {
    let dir = std::env::temp_dir().join(format!("tessera-bench-{}-{backend}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let port = free_port()?;
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse()?;
    let mut cmd = Command::new(binary);
    // The benches load the bundled, unsigned packages: a developer's host.
    cmd.arg("serve").arg("--listen").arg(addr.to_string()).arg("--developer-mode").args(args);
    if demo {
        cmd.arg("--demo");
    }
    let db_args = if backend == "postgres" {
        let db = format!("tessera_bench_{}", std::process::id());
        psql(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))?;
        psql(&format!("CREATE DATABASE {db}"))?;
        let base = postgres_url().rsplit_once('/').map(|(b, _)| b.to_owned()).unwrap_or_default();
        vec!["--database-url".to_owned(), format!("{base}/{db}")]
    } else {
        vec!["--data-dir".to_owned(), dir.display().to_string()]
    };
    cmd.args(&db_args);
    cmd.env("TESSERA_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    let child = cmd.spawn().context("cannot start tessera")?;
    let server = Server { child, addr, dir: TempDir(dir), db_args };
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if http(addr, "GET", "/healthz", &[], None).map(|(s, _)| s == 200).unwrap_or(false) {
            return Ok(server);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!("tessera did not come up on {addr}")
}

pub fn psql(sql: &str) -> Result<()> {
    let status = Command::new("psql").arg(postgres_url()).args(["-qc", sql]).stdout(Stdio::null()).status()?;
    if !status.success() {
        bail!("psql failed: {sql}");
    }
    Ok(())
}

/// A minimal HTTP/1.1 client for setting up the benchmarks.
pub fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> Result<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        let _ = write!(req, "{k}: {v}\r\n");
    }
    if let Some(b) = body {
        let _ = write!(req, "Content-Type: application/json\r\nContent-Length: {}\r\n", b.len());
    }
    req.push_str("\r\n");
    if let Some(b) = body {
        req.push_str(b);
    }
    stream.write_all(req.as_bytes())?;
    let mut resp = String::new();
    stream.read_to_string(&mut resp)?;
    let status = resp.split(' ').nth(1).and_then(|s| s.parse().ok()).context("bad HTTP response")?;
    let body = resp.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    Ok((status, body))
}

/// Runs one statement straight on the benchmark's database (psql or sqlite3, waiting out
/// a busy database) and returns its text.
pub fn query_db(server: &Server, statement: &str) -> Result<String> {
    let out = match server.db_args.first().map(String::as_str) {
        Some("--database-url") => {
            std::process::Command::new("psql").arg(&server.db_args[1]).args(["-tAqc", statement]).output()?
        }
        _ => std::process::Command::new("sqlite3")
            .arg("-cmd")
            .arg(".timeout 30000")
            .arg(server.dir.0.join("tessera.db"))
            .arg(statement)
            .output()?,
    };
    if !out.status.success() {
        bail!("{statement}: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// Installs a plugin package through the admin API (`bearer` is the admin's) and enables it
/// with the capabilities of `capabilities`, a JSON list.
pub fn install_plugin(server: &Server, package: &Path, bearer: &str, id: &str, capabilities: &str) -> Result<()> {
    let base = format!("http://{}", server.addr);
    let out = Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST", "-H"])
        .arg(format!("Authorization: {bearer}"))
        .args(["-H", "Content-Type: application/wasm", "--data-binary"])
        .arg(format!("@{}", package.display()))
        .arg(format!("{base}/api/v1/plugins"))
        .output()?;
    let status = String::from_utf8_lossy(&out.stdout).into_owned();
    if status != "201" {
        bail!("installing {id} answered {status}");
    }
    let (status, body) = http(
        server.addr,
        "POST",
        &format!("/api/v1/plugins/{id}/enable"),
        &[("Authorization", bearer)],
        Some(&format!(r#"{{"capabilities":{capabilities}}}"#)),
    )?;
    if status != 200 {
        bail!("enabling {id} answered {status}: {body}");
    }
    Ok(())
}

/// Signs in and makes an API token.
pub fn make_token(addr: SocketAddr, username: &str, password: &str) -> Result<String> {
    let (cookie, csrf) = sign_in(addr, username, password)?;
    let auth = [("Cookie", cookie.as_str()), ("X-CSRF-Token", csrf.as_str())];
    let (status, body) = http(addr, "POST", "/api/v1/me/tokens", &auth, Some("{\"name\":\"bench\"}"))?;
    if status != 201 {
        bail!("cannot make a token for {username}: {status} {body}");
    }
    json_field(&body, "token").context("token")
}

pub fn json_field(body: &str, field: &str) -> Option<String> {
    let key = format!("\"{field}\":\"");
    let start = body.find(&key)? + key.len();
    let end = body[start..].find('"')? + start;
    Some(body[start..end].to_owned())
}

pub fn sign_in(addr: SocketAddr, username: &str, password: &str) -> Result<(String, String)> {
    let mut stream = TcpStream::connect(addr)?;
    let body = format!("{{\"username\":\"{username}\",\"password\":\"{password}\"}}");
    write!(
        stream,
        "POST /api/v1/auth/sign-in HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut resp = String::new();
    stream.read_to_string(&mut resp)?;
    let cookie = resp
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: ").or_else(|| l.strip_prefix("Set-Cookie: ")))
        .and_then(|c| c.split(';').next())
        .context("no session cookie at sign-in")?
        .to_owned();
    let csrf = json_field(&resp, "csrf_token").context("no CSRF token at sign-in")?;
    Ok((cookie, csrf))
}

pub fn wrk(url: &str, connections: u32, seconds: u32, script: Option<&Path>, headers: &[String]) -> Result<WrkResult> {
    let mut cmd = Command::new("wrk");
    // wrk wants at least one connection per thread.
    let threads = connections.clamp(1, 2);
    cmd.args([&format!("-t{threads}"), &format!("-c{connections}"), &format!("-d{seconds}s"), "--latency"]);
    for h in headers {
        cmd.args(["-H", h]);
    }
    if let Some(s) = script {
        cmd.arg("-s").arg(s);
    }
    cmd.arg(url);
    let out = cmd.output().context("cannot run wrk")?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    parse_wrk(&text).with_context(|| format!("cannot read wrk output:\n{text}"))
}

fn to_ms(v: &str) -> Option<f64> {
    let (num, factor) = if let Some(n) = v.strip_suffix("us") {
        (n, 0.001)
    } else if let Some(n) = v.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = v.strip_suffix('s') {
        (n, 1000.0)
    } else {
        (v, 1.0)
    };
    num.parse::<f64>().ok().map(|n| n * factor)
}

pub fn parse_wrk(text: &str) -> Option<WrkResult> {
    let mut r = WrkResult::default();
    for line in text.lines().map(str::trim) {
        let mut parts = line.split_whitespace();
        match (parts.next(), parts.next()) {
            (Some("50%"), Some(v)) => r.p50_ms = to_ms(v)?,
            (Some("99%"), Some(v)) => r.p99_ms = to_ms(v)?,
            (Some("Requests/sec:"), Some(v)) => r.requests_per_sec = v.parse().ok()?,
            _ => {}
        }
        if line.contains("requests in") {
            r.requests = line.split_whitespace().next()?.parse().ok()?;
        }
        if let Some(rest) = line.strip_prefix("Non-2xx or 3xx responses:") {
            r.errors += rest.trim().parse::<u64>().ok()?;
        }
        if let Some(rest) = line.strip_prefix("Socket errors:") {
            r.errors += rest.split(',').filter_map(|p| p.split_whitespace().last()?.parse::<u64>().ok()).sum::<u64>();
        }
    }
    (r.requests > 0).then_some(r)
}

struct HostCore {
    me: WrkResult,
    healthz_idle: WrkResult,
    healthz_under_sign_in: WrkResult,
    sign_in: WrkResult,
}

fn host_core(binary: &Path, backend: &str, seconds: u32) -> Result<HostCore> {
    let server = start_server(binary, backend)?;
    let addr = server.addr;
    let (cookie, csrf) = sign_in(addr, "admin", ADMIN_PASSWORD)?;
    let auth = [("Cookie", cookie.as_str()), ("X-CSRF-Token", csrf.as_str())];
    let (status, body) = http(addr, "POST", "/api/v1/me/tokens", &auth, Some("{\"name\":\"bench\"}"))?;
    if status != 201 {
        bail!("cannot make an API token: {status} {body}");
    }
    let token = json_field(&body, "token").context("token")?;
    for i in 0..SIGNERS {
        let user = format!(
            "{{\"username\":\"signer{i}\",\"display_name\":\"Signer {i}\",\"password\":\"{SIGNER_PASSWORD}\"}}"
        );
        let (status, body) = http(addr, "POST", "/api/v1/users", &auth, Some(&user))?;
        if status != 201 {
            bail!("cannot add a sign-in user: {status} {body}");
        }
    }
    let base = format!("http://{addr}");
    println!("  GET /api/v1/me, 64 connections, {seconds}s");
    let me = wrk(&format!("{base}/api/v1/me"), 64, seconds, None, &[format!("Authorization: Bearer {token}")])?;
    println!("    {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms", me.requests_per_sec, me.p50_ms, me.p99_ms);
    println!("  GET /healthz idle, 8 connections");
    let healthz_idle = wrk(&format!("{base}/healthz"), 8, seconds.min(5), None, &[])?;
    let script = std::env::temp_dir().join(format!("tessera-sign-in-{}.lua", std::process::id()));
    // Each wrk thread walks the accounts from its own offset, so sign-ins spread over staff
    // the way a morning's sign-ins do.
    std::fs::write(
        &script,
        format!(
            "local threads = 0\n\
             function setup(thread) thread:set(\"id\", threads); threads = threads + 1 end\n\
             function init(args) counter = id * 7 end\n\
             function request()\n\
               counter = counter + 1\n\
               local body = string.format('{{\"username\":\"signer%d\",\"password\":\"{SIGNER_PASSWORD}\"}}', counter % {SIGNERS})\n\
               return wrk.format(\"POST\", nil, {{[\"Content-Type\"] = \"application/json\"}}, body)\n\
             end\n"
        ),
    )?;
    println!("  GET /healthz while 32 connections sign in");
    let signer = {
        let url = format!("{base}/api/v1/auth/sign-in");
        let script = script.clone();
        std::thread::spawn(move || wrk(&url, 32, seconds + 2, Some(&script), &[]))
    };
    std::thread::sleep(Duration::from_secs(1));
    let healthz_under_sign_in = wrk(&format!("{base}/healthz"), 8, seconds, None, &[])?;
    let sign_in = signer.join().map_err(|_| anyhow::anyhow!("sign-in load thread failed"))??;
    let _ = std::fs::remove_file(&script);
    println!(
        "    healthz p99 {:.2} ms idle, {:.2} ms under {:.0} sign-ins/s",
        healthz_idle.p99_ms, healthz_under_sign_in.p99_ms, sign_in.requests_per_sec
    );
    drop(server);
    if backend == "postgres" {
        psql(&format!("DROP DATABASE IF EXISTS tessera_bench_{} WITH (FORCE)", std::process::id()))?;
    }
    Ok(HostCore { me, healthz_idle, healthz_under_sign_in, sign_in })
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let mem_gib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| m.lines().next().and_then(|l| l.split_whitespace().nth(1)).and_then(|kb| kb.parse::<f64>().ok()))
        .map(|kb| kb / 1024.0 / 1024.0)
        .unwrap_or(0.0);
    let rustc = Command::new("rustc")
        .arg("--version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    let kernel = Command::new("uname")
        .arg("-sr")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    format!(
        "{cpu}, {cores} cores, {mem_gib:.0} GiB RAM, {kernel}, {rustc}; server, load generator and receivers on the same machine over loopback"
    )
}

fn write_report(
    sections: &[(&str, HostCore)],
    customer_sections: &[(&str, crate::bench_customers::Figures)],
    event_sections: &[(&str, crate::bench_events::Figures)],
    plugins: &crate::bench_plugins::Figures,
    customers: usize,
    seconds: u32,
) -> Result<()> {
    let mut md = String::new();
    let date = Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    let _ = writeln!(md, "# Benchmarks\n");
    let _ = writeln!(md, "Written by `cargo xtask bench` on {date}. Do not edit by hand: run it again.\n");
    let _ = writeln!(md, "**Machine:** {}\n", machine());
    let _ = writeln!(
        md,
        "Every figure comes from one run of wrk (2 threads, 1 for a single connection) against a release build of `tessera serve` on a fresh database; runs last {seconds} s unless noted.\n"
    );
    let _ = writeln!(md, "## Host core: authentication\n");
    let _ = writeln!(md, "| backend | measure | requests/s | p50 | p99 | errors |");
    let _ = writeln!(md, "|---|---|---:|---:|---:|---:|");
    for (backend, r) in sections {
        let row = |md: &mut String, what: &str, w: &WrkResult| {
            let _ = writeln!(
                md,
                "| {backend} | {what} | {:.0} | {:.2} ms | {:.2} ms | {} |",
                w.requests_per_sec, w.p50_ms, w.p99_ms, w.errors
            );
        };
        row(&mut md, "`GET /api/v1/me` with an API token, 64 connections", &r.me);
        row(&mut md, "`GET /healthz`, idle, 8 connections", &r.healthz_idle);
        row(&mut md, "`GET /healthz`, 8 connections, while sign-ins are hammered", &r.healthz_under_sign_in);
        row(
            &mut md,
            "`POST /api/v1/auth/sign-in` (argon2id) over 32 accounts, 32 connections, at the same time",
            &r.sign_in,
        );
    }
    let _ = writeln!(
        md,
        "\nSign-in checks an argon2id hash (19 MiB, 2 passes) on the blocking pool with at most one hash per core at once, so \
         sign-ins queue among themselves while other requests keep their latency. `GET /api/v1/me` resolves the token \
         (one indexed lookup joined to the user), then reads the user, roles, organisation and grants."
    );
    let mut customers_md = String::new();
    crate::bench_customers::report(&mut customers_md, customer_sections, customers);
    md.push_str(&marked("customers", &customers_md));
    let mut events = String::new();
    crate::bench_events::report(&mut events, event_sections);
    md.push_str(&marked("events", &events));
    let mut plugins_md = String::new();
    crate::bench_plugins::report(&mut plugins_md, plugins);
    md.push_str(&marked("plugins", &plugins_md));
    let path = root().join("docs/BENCHMARKS.md");
    std::fs::write(&path, md)?;
    println!("wrote {}", path.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_wrk_output() {
        let text = "Running 3s test @ http://127.0.0.1:1/healthz\n  2 threads and 8 connections\n  Latency Distribution\n     50%  120.00us\n     75%  200.00us\n     90%    1.10ms\n     99%    2.50ms\n  54321 requests in 3.00s, 5.00MB read\n  Non-2xx or 3xx responses: 3\nRequests/sec:  18107.00\nTransfer/sec:      1.67MB\n";
        let r = parse_wrk(text).expect("parsed");
        assert_eq!(r.requests, 54321);
        assert!((r.p50_ms - 0.12).abs() < 1e-9);
        assert!((r.p99_ms - 2.5).abs() < 1e-9);
        assert!((r.requests_per_sec - 18107.0).abs() < 1e-9);
        assert_eq!(r.errors, 3);
    }
}
