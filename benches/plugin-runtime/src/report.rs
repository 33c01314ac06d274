//! The results as a markdown table (measure | figure | goal | met?), and the machine.

use std::fmt::Write as _;

use crate::comparison::Calls;
use crate::hostile::{CALLS, Hostile};
use crate::timing::{ms, us};

pub struct Figures {
    pub calls: Calls,
    pub hostile: Hostile,
    pub machine: String,
}

/// The goal of a fresh instance and call, at the median.
const NOOP_GOAL_US: f64 = 10.0;
/// The goal of a host call's cost above the same work done natively, at the median.
const HOST_CALL_GOAL_US: f64 = 2.0;
/// The goal of how soon after its deadline a looping plugin is stopped, at the worst.
const OVERRUN_GOAL_MS: f64 = 50.0;

fn met(ok: bool) -> &'static str {
    if ok { "yes" } else { "**no**" }
}

fn mib(bytes: usize) -> f64 {
    bytes as f64 / f64::from(1 << 20)
}

pub fn markdown(f: &Figures) -> String {
    let c = &f.calls;
    let h = &f.hostile;
    let mut md = String::new();
    let _ = writeln!(md, "| measure | figure | goal | met? |");
    let _ = writeln!(md, "|---|---|---|---|");
    let noop_p50 = us(c.noop.p50());
    let _ = writeln!(
        md,
        "| (a) Tessera: fresh store, instantiation and call of a trivial export (`/noop` through `handle_http`, the plugin on its own), {} calls | p50 **{noop_p50:.1} µs**, p99 {:.1} µs; {:.0} calls/s on one thread | p50 ≤ {NOOP_GOAL_US:.0} µs | {} |",
        c.noop.len(),
        us(c.noop.p99()),
        c.noop.per_second(),
        met(noop_p50 <= NOOP_GOAL_US)
    );
    match &c.host_call {
        Ok(hc) => {
            let _ = writeln!(
                md,
                "| (b) one host call (`customers.get`): `/customer/{{id}}` − `/noop` at p50, {} calls of each in turns | {:.1} µs ({:.1} − {:.1} µs) | | |",
                hc.customer.len(),
                us(hc.round_trip()),
                us(hc.customer.p50()),
                us(hc.noop.p50())
            );
            let _ = writeln!(
                md,
                "| (b) the same query natively (`customers::get` with the plugin's service-user access) | p50 {:.1} µs, p99 {:.1} µs | | |",
                us(hc.native_query.p50()),
                us(hc.native_query.p99())
            );
            let overhead = hc.overhead_us();
            let _ = writeln!(
                md,
                "| (b) host call overhead above native | **{overhead:.1} µs** | ≤ {HOST_CALL_GOAL_US:.0} µs | {} |",
                met(overhead <= HOST_CALL_GOAL_US)
            );
        }
        Err(why) => {
            let _ = writeln!(
                md,
                "| (b) host call overhead above native | not measured: {why} | ≤ {HOST_CALL_GOAL_US:.0} µs | **no** |"
            );
        }
    }
    let _ = writeln!(
        md,
        "| (c) the same trivial function through Extism {}, one plugin kept for every call | p50 {:.2} µs, p99 {:.2} µs | | |",
        c.extism_version,
        us(c.extism_kept.p50()),
        us(c.extism_kept.p99())
    );
    let _ = writeln!(
        md,
        "| (c) Extism, a new plugin (from the compiled module) for every call | p50 {:.1} µs, p99 {:.1} µs | | |",
        us(c.extism_fresh.p50()),
        us(c.extism_fresh.p99())
    );
    let _ = writeln!(
        md,
        "| (d) the same function as a native Rust call | p50 {:.2} ns | | |",
        c.native.p50().as_secs_f64() * 1e9
    );
    let ratio = |other: std::time::Duration| noop_p50 / us(other).max(1e-9);
    let _ = writeln!(
        md,
        "| (e) Tessera (a) ÷ Extism kept / ÷ Extism fresh / ÷ native, at p50 | ×{:.1} / ×{:.2} / ×{:.0} | | |",
        ratio(c.extism_kept.p50()),
        ratio(c.extism_fresh.p50()),
        ratio(c.native.p50())
    );
    let overrun_max = ms(h.overrun.max());
    let _ = writeln!(
        md,
        "| (f) deadline to stop: `hostile-loop` with a {} ms deadline, {CALLS} calls; how long after the deadline each ended | p50 {:.1} ms, **max {overrun_max:.1} ms** | ≤ {OVERRUN_GOAL_MS:.0} ms | {} |",
        h.deadline.as_millis(),
        ms(h.overrun.p50()),
        met(overrun_max <= OVERRUN_GOAL_MS)
    );
    let under_cap = h.peak_memory <= h.memory_cap;
    let _ = writeln!(
        md,
        "| (g) `hostile-memory` under the default cap, {CALLS} calls: the largest memory an instance reached | **{:.1} MiB** ({}); {} | ≤ {} MiB | {} |",
        mib(h.peak_memory),
        h.memory_failures,
        if under_cap { "the peak never passed the cap" } else { "the peak passed the cap" },
        h.memory_cap >> 20,
        met(under_cap)
    );
    let _ = writeln!(
        md,
        "| (g) this process's memory around those calls | max RSS (VmHWM) {:.0} → {:.0} MiB, RSS {:.0} → {:.0} MiB | | |",
        mib(h.hwm_before),
        mib(h.hwm_after),
        mib(h.rss_before),
        mib(h.rss_after)
    );
    let _ = writeln!(md, "\n**Machine:** {}", f.machine);
    md
}

/// CPU model, cores and memory, from `/proc`.
pub fn machine() -> String {
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
        .map_or(0.0, |kb| kb / 1024.0 / 1024.0);
    format!("{cpu}, {cores} cores, {mem_gib:.0} GiB RAM")
}
