//! The limits under attack: how soon after its deadline a plugin that loops forever is
//! stopped (`hostile-loop`), and how much memory a plugin that grabs all it can gets
//! (`hostile-memory`), with the process's own memory before and after.

use std::time::Duration;

use anyhow::{Result, bail};
use tessera_host::runtime::bindings::HttpRequest;
use tessera_host::runtime::invoke::Origin;
use tessera_host::runtime::{FailureKind, Limits};

use crate::setup::{Host, LOOP_DEADLINE, active};
use crate::timing::Samples;

/// Calls made to each hostile guest.
pub const CALLS: usize = 20;

pub struct Hostile {
    pub deadline: Duration,
    /// How long after the deadline each looping call ended.
    pub overrun: Samples,
    pub memory_cap: usize,
    /// The largest memory any memory-bomb call reached.
    pub peak_memory: usize,
    /// How the memory-bomb calls failed, e.g. `MemoryCap ×20`.
    pub memory_failures: String,
    /// `VmHWM` and `VmRSS` of this process, bytes, before and after the memory-bomb calls.
    pub hwm_before: usize,
    pub hwm_after: usize,
    pub rss_before: usize,
    pub rss_after: usize,
}

fn request() -> HttpRequest {
    HttpRequest {
        method: "GET".into(),
        path: "/".into(),
        query: String::new(),
        headers: Vec::new(),
        body: Vec::new(),
        kind: "api".into(),
    }
}

pub async fn run(host: &Host) -> Result<Hostile> {
    eprintln!("  (f) hostile-loop with a {} ms deadline, {CALLS} calls", LOOP_DEADLINE.as_millis());
    let looping = active(&host.short_deadline, host.org_id, "hostile-loop")?;
    let mut overrun = Vec::with_capacity(CALLS);
    for _ in 0..CALLS {
        match host.short_deadline.handle_http(&looping, None, &Origin::new("zh-CN", None), request()).await {
            Ok(_) => bail!("hostile-loop answered; it should have been stopped"),
            Err(f) if f.kind == FailureKind::Deadline => overrun.push(f.elapsed.saturating_sub(LOOP_DEADLINE)),
            Err(f) => bail!("hostile-loop failed otherwise than by its deadline: {:?}: {}", f.kind, f.message),
        }
    }
    let overrun = Samples::new(overrun);
    eprintln!(
        "      stopped {:.1} ms (p50) / {:.1} ms (max) after the deadline",
        crate::timing::ms(overrun.p50()),
        crate::timing::ms(overrun.max())
    );

    let memory_cap = Limits::default().memory_bytes;
    eprintln!("  (g) hostile-memory under the default cap of {} MiB, {CALLS} calls", memory_cap >> 20);
    let bomb = host.active("hostile-memory")?;
    let (hwm_before, rss_before) = process_memory();
    let mut peak_memory = 0;
    let mut kinds: Vec<(String, usize)> = Vec::new();
    for _ in 0..CALLS {
        match host.runtime.handle_http(&bomb, None, &Origin::new("zh-CN", None), request()).await {
            Ok(_) => bail!("hostile-memory answered; it should have been stopped at the memory cap"),
            Err(f) => {
                peak_memory = peak_memory.max(f.peak_memory);
                let kind = format!("{:?}", f.kind);
                match kinds.iter_mut().find(|(k, _)| *k == kind) {
                    Some((_, n)) => *n += 1,
                    None => kinds.push((kind, 1)),
                }
            }
        }
    }
    let (hwm_after, rss_after) = process_memory();
    let memory_failures = kinds.iter().map(|(k, n)| format!("{k} ×{n}")).collect::<Vec<_>>().join(", ");
    eprintln!(
        "      peak {:.1} MiB ({memory_failures}); VmHWM {} → {} MiB, VmRSS {} → {} MiB",
        peak_memory as f64 / f64::from(1 << 20),
        hwm_before >> 20,
        hwm_after >> 20,
        rss_before >> 20,
        rss_after >> 20
    );
    Ok(Hostile {
        deadline: LOOP_DEADLINE,
        overrun,
        memory_cap,
        peak_memory,
        memory_failures,
        hwm_before,
        hwm_after,
        rss_before,
        rss_after,
    })
}

/// `VmHWM` (the most resident memory the process ever had) and `VmRSS` from
/// `/proc/self/status`, in bytes; zero where they cannot be read.
fn process_memory() -> (usize, usize) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse::<usize>().ok())
            .map_or(0, |kb| kb * 1024)
    };
    (field("VmHWM:"), field("VmRSS:"))
}
