//! The web CRM's customer list page, rendered on the server, against the same list through the
//! REST API: both as the demo sales manager over a loaded demo organisation, under wrk with 32
//! connections and a signed-in session cookie.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Result, ensure};

use crate::bench::{ADMIN_PASSWORD, WrkResult, http, sign_in, wrk};

pub struct Figures {
    customers: usize,
    page: WrkResult,
    api: WrkResult,
    /// The page's size in bytes.
    page_bytes: usize,
}

pub fn run(binary: &Path, backend: &str, customers: usize, seconds: u32) -> Result<Figures> {
    let (server, _, _) = crate::bench_customers::start_loaded(binary, backend, customers)?;
    let (page, api, page_bytes) = measure(server.addr, seconds)?;
    Ok(Figures { customers, page, api, page_bytes })
}

/// The list page and the same list through the API, on a running CRM with the demo people:
/// answers both and the page's size.
pub fn measure(addr: std::net::SocketAddr, seconds: u32) -> Result<(WrkResult, WrkResult, usize)> {
    let (cookie, _) = sign_in(addr, "wang.fang", ADMIN_PASSWORD)?;
    let headers = [format!("Cookie: {cookie}")];
    let (status, body) = http(addr, "GET", "/customers", &[("Cookie", cookie.as_str())], None)?;
    ensure!(status == 200 && body.contains("<table"), "the list page answered {status}");
    println!("  web CRM customer list page (HTML, 50 rows), 32 connections");
    let page = wrk(&format!("http://{addr}/customers"), 32, seconds, None, &headers)?;
    println!("    {:.0} req/s, p99 {:.1} ms", page.requests_per_sec, page.p99_ms);
    println!("  the same list through the API (JSON), 32 connections");
    let api = wrk(&format!("http://{addr}/api/v1/customers?limit=50"), 32, seconds, None, &headers)?;
    println!("    {:.0} req/s, p99 {:.1} ms", api.requests_per_sec, api.p99_ms);
    Ok((page, api, body.len()))
}

pub fn report(md: &mut String, sections: &[(&str, Figures)]) {
    let customers = sections.first().map_or(0, |s| s.1.customers);
    let _ = writeln!(md, "\n## Web CRM, {customers} customers\n");
    let _ = writeln!(
        md,
        "`GET /customers` as the demo sales manager (department-and-below scope) with a session cookie: the \
         server-rendered list page with its frame (menu, unread count, saved views, filters with option lists \
         and colleagues, 50 rows with owners' names), against `GET /api/v1/customers?limit=50` under the same \
         session. wrk, 32 connections. The session, the user's grants, the organisation, its option lists and \
         colleagues, the unread count and the saved views come from the node's cache (at most 2 s old, \
         forgotten on every change this node makes), so a page load reads the database once, for the page of \
         customers, as the API does."
    );
    let _ = writeln!(md, "\n| backend | measure | figure | goal |");
    let _ = writeln!(md, "|---|---|---|---|");
    for (backend, f) in sections {
        let w = WrkResult::summary;
        let _ = writeln!(
            md,
            "| {backend} | customer list page (HTML, {} KB) | {} | p99 ≤ 50 ms at 1,000,000 customers |",
            f.page_bytes / 1024,
            w(&f.page)
        );
        let _ = writeln!(md, "| {backend} | the same list as JSON (API) | {} | — |", w(&f.api));
    }
}
