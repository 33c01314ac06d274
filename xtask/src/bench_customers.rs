//! The customer-database benchmarks: load N demo customers (with about three contacts and
//! five follow-ups each), then measure the customer list page, quick / pinyin / phone search,
//! exporting everything, the composition analysis, and import throughput beside `sqlite3`'s
//! own `.import` of the same file.

use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::bench::{ADMIN_PASSWORD, WrkResult, http, make_token, psql, query_db, start_server_with, wrk};

/// What one backend measured.
pub struct Figures {
    customers: usize,
    /// Rows loaded: customers, contacts, activities, phones.
    loaded: [u64; 4],
    load_secs: f64,
    /// Building the search documents of everything loaded, compacting them and measuring the
    /// tables, after the load.
    index_secs: f64,
    list: WrkResult,
    /// The web CRM's server-rendered list page, 32 connections.
    web_list: WrkResult,
    quick: WrkResult,
    pinyin: WrkResult,
    phone: WrkResult,
    export_secs: f64,
    export_mb: f64,
    composition: WrkResult,
    import_rows: usize,
    import_secs: f64,
    /// From the import's `done` until the indexer has built the new customers' documents.
    import_indexed_secs: f64,
    sqlite3_secs: Option<f64>,
}

fn encode(s: &str) -> String {
    s.bytes().map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}

fn search_script(dir: &Path, name: &str, queries: &[&str]) -> Result<std::path::PathBuf> {
    let paths: Vec<String> =
        queries.iter().map(|q| format!("\"/api/v1/customers?limit=50&q={}\"", encode(q))).collect();
    let path = dir.join(format!("{name}.lua"));
    std::fs::write(
        &path,
        format!(
            "local paths = {{{}}}\nlocal i = 0\nfunction request()\n  i = i + 1\n  return wrk.format(\"GET\", paths[(i % #paths) + 1])\nend\n",
            paths.join(", ")
        ),
    )?;
    Ok(path)
}

/// A CSV of `rows` new customers with phones and a contact each.
fn import_file(dir: &Path, rows: usize) -> Result<std::path::PathBuf> {
    let mut text = String::from("客户名称,电话,级别,行业,联系人,联系人手机\n");
    for i in 0..rows {
        let _ = writeln!(
            text,
            "导入测试{i}号贸易有限公司,0755-{:08},{},{},联系人{i},1{:010}",
            30_000_000 + i,
            ["a", "b", "c", "d"][i % 4],
            ["manufacturing", "trade", "it", "services"][i % 4],
            3_000_000_000u64 + i as u64
        );
    }
    let path = dir.join("import.csv");
    std::fs::write(&path, text)?;
    Ok(path)
}

/// Counts what the demo loaded, straight from the database.
fn count_rows(server: &crate::bench::Server) -> Result<[u64; 4]> {
    let sql = "SELECT (SELECT COUNT(*) FROM customers) || ' ' || (SELECT COUNT(*) FROM contacts) || ' ' || \
               (SELECT COUNT(*) FROM activities) || ' ' || (SELECT COUNT(*) FROM phones)";
    let text = query_db(server, sql)?;
    let mut counts = [0u64; 4];
    for (slot, n) in counts.iter_mut().zip(text.split_whitespace()) {
        *slot = n.parse().with_context(|| format!("row counts: {text:?}"))?;
    }
    Ok(counts)
}

/// Starts a CRM on `backend` with the demo organisation and loads `customers` demo customers
/// into it with `tessera demo`; answers the server and the seconds the load and the indexing
/// took.
pub fn start_loaded(binary: &Path, backend: &str, customers: usize) -> Result<(crate::bench::Server, f64, f64)> {
    let server = start_server_with(binary, backend, true)?;
    println!("  loading {customers} customers");
    let out = Command::new(binary)
        .arg("demo")
        .args(&server.db_args)
        .args(["--org", "demo", "--customers", &customers.to_string()])
        .env("RUST_LOG", "error")
        .stderr(Stdio::inherit())
        .output()?;
    if !out.status.success() {
        bail!("tessera demo failed");
    }
    // `tessera demo` says how long the load took ("… in 452.1 s") and then the indexing.
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    let seconds_in = |line: Option<&str>| -> Result<f64> {
        line.and_then(|l| l.rsplit(" in ").next())
            .and_then(|t| t.trim().trim_end_matches(" s").parse().ok())
            .with_context(|| format!("cannot read the timings of tessera demo: {said}"))
    };
    let mut lines = said.lines();
    let load_secs = seconds_in(lines.next())?;
    let index_secs = seconds_in(lines.next())?;
    Ok((server, load_secs, index_secs))
}

pub fn run(binary: &Path, backend: &str, customers: usize, seconds: u32) -> Result<Figures> {
    let (server, load_secs, index_secs) = start_loaded(binary, backend, customers)?;
    let addr = server.addr;
    let base = format!("http://{addr}");
    let loaded = count_rows(&server)?;
    println!(
        "    {load_secs:.0} s: {} customers, {} contacts, {} activities, {} phones; indexed in {index_secs:.0} s",
        loaded[0], loaded[1], loaded[2], loaded[3]
    );
    let admin = make_token(addr, "admin", ADMIN_PASSWORD)?;
    let manager = make_token(addr, "wang.fang", ADMIN_PASSWORD)?;
    let auth = |t: &str| vec![format!("Authorization: Bearer {t}")];

    println!("  customer list page (50 rows, department scope), 64 connections");
    let list = wrk(&format!("{base}/api/v1/customers?limit=50"), 64, seconds, None, &auth(&manager))?;
    println!("    {:.0} req/s, p99 {:.1} ms", list.requests_per_sec, list.p99_ms);
    let (web_list, _, _) = crate::bench_web::measure(addr, seconds)?;
    let dir = &server.dir.0;
    let quick = search_script(dir, "quick", &["北京华信", "恒达科技", "上海", "有限公司", "天润", "瑞丰医疗"])?;
    let pinyin = search_script(dir, "pinyin", &["bjhx", "hengda", "shanghai", "tianrun", "kjyxgs", "ruifeng"])?;
    let phone =
        search_script(dir, "phone", &["12345678", "87654321", "2345678", "55556666", "13912345678", "0755-23456789"])?;
    let mut searches = Vec::new();
    for (name, script) in [("quick", &quick), ("pinyin", &pinyin), ("phone", &phone)] {
        println!("  {name} search, 16 connections");
        let r = wrk(&format!("{base}/api/v1/customers"), 16, seconds, Some(script), &auth(&manager))?;
        println!("    {:.0} req/s, p99 {:.1} ms", r.requests_per_sec, r.p99_ms);
        searches.push(r);
    }
    println!("  export of every customer as CSV");
    let started = Instant::now();
    let out = Command::new("curl")
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{size_download} %{http_code}",
            "-H",
            &format!("Authorization: Bearer {admin}"),
        ])
        .arg(format!("{base}/api/v1/customers/export/csv"))
        .output()
        .context("curl is needed for the export benchmark")?;
    let export_secs = started.elapsed().as_secs_f64();
    let answer = String::from_utf8_lossy(&out.stdout).into_owned();
    let (bytes, code) = answer.split_once(' ').unwrap_or(("0", "0"));
    if code != "200" {
        bail!("export answered {code}");
    }
    let export_mb = bytes.parse::<f64>().unwrap_or(0.0) / 1_048_576.0;
    println!("    {export_secs:.1} s, {export_mb:.0} MB");
    println!("  composition by level, 1 connection");
    let composition = wrk(
        &format!("{base}/api/v1/analysis/customers/composition?by=level"),
        1,
        seconds.min(10),
        None,
        &auth(&admin),
    )?;
    println!("    p50 {:.1} ms, p99 {:.1} ms", composition.p50_ms, composition.p99_ms);

    let import_rows = (customers / 10).clamp(1_000, 100_000);
    let file = import_file(dir, import_rows)?;
    println!("  import of {import_rows} rows");
    let body = std::fs::read(&file)?;
    let upload = Command::new("curl")
        .args([
            "-s",
            "-X",
            "POST",
            "-H",
            &format!("Authorization: Bearer {admin}"),
            "-H",
            "Content-Type: text/csv",
            "--data-binary",
        ])
        .arg(format!("@{}", file.display()))
        .arg(format!("{base}/api/v1/customer-imports?file_name=import.csv"))
        .output()?;
    let upload = String::from_utf8_lossy(&upload.stdout).into_owned();
    let id = upload
        .split("\"id\":")
        .nth(1)
        .and_then(|rest| rest.split([',', '}']).next())
        .and_then(|n| n.trim().parse::<i64>().ok())
        .with_context(|| format!("upload failed: {}", upload.chars().take(300).collect::<String>()))?;
    drop(body);
    let plan = r#"{"mapping":{"客户名称":"name","电话":"phone","级别":"level","行业":"industry","联系人":"contact_name","联系人手机":"contact_phone"}}"#;
    let bearer = format!("Bearer {admin}");
    let started = Instant::now();
    let (status, answer) = http(
        addr,
        "POST",
        &format!("/api/v1/customer-imports/{id}/run"),
        &[("Authorization", bearer.as_str())],
        Some(plan),
    )?;
    if status != 202 {
        bail!("import run answered {status}: {answer}");
    }
    loop {
        let (_, info) =
            http(addr, "GET", &format!("/api/v1/customer-imports/{id}"), &[("Authorization", bearer.as_str())], None)?;
        if info.contains("\"status\":\"done\"") {
            break;
        }
        if info.contains("\"status\":\"failed\"") {
            bail!("the benchmark import failed: {}", info.chars().take(500).collect::<String>());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let import_secs = started.elapsed().as_secs_f64();
    println!("    {:.0} rows/s", import_rows as f64 / import_secs);
    let done = Instant::now();
    loop {
        if query_db(&server, "SELECT COUNT(*) FROM search_pending")? == "0" {
            break;
        }
        if done.elapsed() > Duration::from_secs(600) {
            bail!("the indexer did not catch up with the import within 10 minutes");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let import_indexed_secs = done.elapsed().as_secs_f64();
    println!("    indexed for search {import_indexed_secs:.1} s later");
    let sqlite3_secs = if Command::new("sqlite3").arg("--version").stdout(Stdio::null()).status().is_ok() {
        let db = dir.join("plain.db");
        let started = Instant::now();
        let ok = Command::new("sqlite3")
            .arg(&db)
            .arg(format!(".import --csv {} plain", file.display()))
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        ok.then(|| started.elapsed().as_secs_f64())
    } else {
        None
    };
    drop(server);
    if backend == "postgres" {
        psql(&format!("DROP DATABASE IF EXISTS tessera_bench_{} WITH (FORCE)", std::process::id()))?;
    }
    let mut searches = searches.into_iter();
    let next = |s: &mut std::vec::IntoIter<WrkResult>| s.next().unwrap_or_default();
    Ok(Figures {
        customers,
        loaded,
        load_secs,
        index_secs,
        list,
        web_list,
        quick: next(&mut searches),
        pinyin: next(&mut searches),
        phone: next(&mut searches),
        export_secs,
        export_mb,
        composition,
        import_rows,
        import_secs,
        import_indexed_secs,
        sqlite3_secs,
    })
}

/// What each measure exercises, printed under the table.
const NOTES: &str = "\
How each figure comes about:

- **List page**: `GET /api/v1/customers?limit=50` with an API token, newest first. One statement \
  returns the page as a JSON array with each customer's phones; the token and the user's grants \
  are remembered for up to 2 s, so a request reads the database once.
- **Web CRM list page**: `GET /customers` with a session cookie, the page the CRM's users \
  open: the same query as the list page plus the frame (menu, unread count, option lists, \
  colleagues' names), rendered by compiled templates.
- **Searches** rotate through six queries each: quick `北京华信 恒达科技 上海 有限公司 天润 瑞丰医疗`, \
  pinyin `bjhx hengda shanghai tianrun kjyxgs ruifeng`, phone `12345678 87654321 2345678 55556666 \
  13912345678 0755-23456789`. A search reads the search documents (name, pinyin, code and the \
  contacts' names of each customer) and the phones: on SQLite an FTS5 trigram index, or for one or \
  two Chinese characters a word index of characters and pairs, which return matches newest first \
  so a page reads only as far as it needs; on PostgreSQL trigram and array GIN indexes, searched in \
  windows of ids from the newest (the first, 2,000 ids, walked), each window as wide as the matches \
  so far suggest a page needs.
- **Export** streams the CSV page by page (1,000 customers a page) as the administrator.
- **Composition** counts customers by level within the reader's scope from an index that holds \
  level, department and owner.
- **Import** uploads a CSV with one new customer, a landline, a contact and the contact's mobile \
  per row, and times the run from the request to the job's `done`: validation, matching \
  against existing customers, codes, then one transaction of bulk inserts with the secondary \
  indexes, an outbox event per customer and contact, and the search queue. The customers are \
  found by searches from then on (queued records are tested on their rows); \
  *in the search index* is how much later the indexer has built their documents. The \
  `sqlite3 .import` reference loads the same file into one plain table with no index, no check \
  and no event.
";

pub fn report(md: &mut String, sections: &[(&str, Figures)], customers: usize) {
    let _ = writeln!(md, "\n## Customer database, {customers} customers\n");
    let _ = writeln!(
        md,
        "Loaded with `tessera demo` (about three contacts, four phones and five follow-ups per customer). Searches and the list \
         run as the demo sales manager, whose department-and-below scope covers most customers; 16 connections for searches."
    );
    let _ = writeln!(md, "\n| backend | measure | figure | goal |");
    let _ = writeln!(md, "|---|---|---|---|");
    for (backend, f) in sections {
        let w = WrkResult::summary;
        let rows = [
            (
                "load of the demo data",
                format!(
                    "{} customers, {} contacts, {} activities, {} phones in {:.0} s ({:.0} customers/s with their rows); \
                     search documents built and compacted, tables measured, in {:.0} s more",
                    f.loaded[0],
                    f.loaded[1],
                    f.loaded[2],
                    f.loaded[3],
                    f.load_secs,
                    f.customers as f64 / f.load_secs.max(0.001),
                    f.index_secs
                ),
                "—".to_owned(),
            ),
            (
                "customer list page, 50 rows, 64 connections",
                w(&f.list),
                "p99 ≤ 20 ms, ≥ 3,000 req/s (SQLite)".to_owned(),
            ),
            ("web CRM customer list page (HTML), 32 connections", w(&f.web_list), "p99 ≤ 50 ms".to_owned()),
            ("quick search (Chinese name fragments)", w(&f.quick), "p99 ≤ 30 ms".to_owned()),
            ("pinyin search (full and initials)", w(&f.pinyin), "p99 ≤ 30 ms".to_owned()),
            ("phone search (suffixes and whole numbers)", w(&f.phone), "p99 ≤ 30 ms".to_owned()),
            (
                "export of every customer as CSV",
                format!("{:.1} s, {:.0} MB", f.export_secs, f.export_mb),
                "≤ 20 s for 1M".to_owned(),
            ),
            ("composition by level", w(&f.composition), "≤ 200 ms".to_owned()),
            (
                "import (CSV, with phones and a contact per row)",
                format!(
                    "{} rows in {:.1} s: {:.0} rows/s, searchable at once, in the search index {:.1} s later{}",
                    f.import_rows,
                    f.import_secs,
                    f.import_rows as f64 / f.import_secs.max(0.001),
                    f.import_indexed_secs,
                    f.sqlite3_secs
                        .map(|s| {
                            let ratio = s / f.import_secs.max(0.001);
                            format!(
                                "; sqlite3 .import of the same file {:.0} rows/s; ratio to it {ratio:.4} ({:.0}× slower)",
                                f.import_rows as f64 / s.max(0.001),
                                1.0 / ratio.max(1e-9)
                            )
                        })
                        .unwrap_or_default()
                ),
                "≥ 100,000 rows/s (SQLite)".to_owned(),
            ),
        ];
        for (what, figure, goal) in rows {
            let _ = writeln!(md, "| {backend} | {what} | {figure} | {goal} |");
        }
    }
    let _ = writeln!(md, "\n{NOTES}");
}
