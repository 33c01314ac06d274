//! Sales orders to a flaky ERP: `host/tests/erp_delivery.rs` run against a release build of
//! `tessera serve` (`TESSERA_BIN`) with 10,000 orders per backend. The suite installs the
//! bundled `orders-to-erp` plugin, points a webhook endpoint at `tests/support/flaky_erp.py`
//! (drops, 500s, 429 with `Retry-After`, slow answers, lost answers; signatures checked with the
//! Standard Webhooks reference library), places the orders through the plugin's JSON API, kills
//! the host with SIGKILL after 30 % of them, starts it again and sends again what was not
//! answered, then checks that every approved order was applied by the ERP exactly once. It
//! prints its figures as `erp-delivery-figures {json}`; this reads them.

use std::fmt::Write as _;
use std::process::Stdio;

use anyhow::{Context, Result, ensure};
use serde_json::Value;

/// Orders per backend.
pub const ORDERS: usize = 10_000;

/// Runs the suite for both backends and returns each backend's figures.
pub fn run(binary: &std::path::Path) -> Result<Vec<Value>> {
    crate::test::ensure_python_packages()?;
    let packages = crate::plugins::build_plugins()?;
    // The suite itself is only the client; the host it starts is the release build.
    let output = crate::cargo()
        .args(["test", "-p", "tessera-host", "--test", "erp_delivery", "--", "--nocapture"])
        .env("TESSERA_BIN", binary)
        .env("TESSERA_ERP_ORDERS", ORDERS.to_string())
        .env("TESSERA_PLUGIN_PACKAGES", &packages)
        .stderr(Stdio::inherit())
        .output()
        .context("cargo test runs the delivery suite")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    print!("{stdout}");
    ensure!(output.status.success(), "the delivery suite failed");
    let figures: Vec<Value> = stdout
        .lines()
        .filter_map(|l| l.split_once("erp-delivery-figures ").map(|(_, json)| json))
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()
        .context("the suite's figures")?;
    ensure!(figures.len() == 2, "expected the figures of two backends, got {}", figures.len());
    Ok(figures)
}

pub fn report(md: &mut String, figures: &[Value]) {
    let _ = writeln!(md, "\n## Sales orders to a flaky ERP\n");
    let _ = writeln!(
        md,
        "`host/tests/erp_delivery.rs` against a release build (`cargo xtask bench --only erp`): {} sales orders placed \
         through the `orders-to-erp` JSON API, 4 at a time, each with its own `Idempotency-Key`, each approved at once and sent as a signed webhook to \
         `tests/support/flaky_erp.py`, which verifies every signature with the Standard Webhooks reference library \
         and, on a share of first attempts, drops the connection, answers 500, answers 429 with `Retry-After: 1`, \
         answers after 3 s, or applies the order and loses its answer. The host is killed with SIGKILL after 30 % \
         of the orders, started again on the same database, and sent again the requests it did not answer; retries \
         wait 1 s, 2 s, 4 s, 8 s, 15 s, 30 s, 60 s. *Placed* is orders accepted per second over the whole run \
         including the restart; *delivered* is approved orders applied by the ERP per second from the first order \
         to the last application. Each run ended with exactly one approved order per request, every one applied \
         by the ERP exactly once.\n",
        grouped(ORDERS as u64)
    );
    let _ = writeln!(
        md,
        "| backend | orders approved | before kill | attempts | dropped / 500 / 429 / slow / lost answer | repeats dropped by key | placed | delivered | all applied after |"
    );
    let _ = writeln!(md, "|---|---|---|---|---|---|---|---|---|");
    for f in figures {
        let n = |k: &str| grouped(f[k].as_u64().unwrap_or(0));
        let x = |k: &str| f[k].as_f64().unwrap_or(0.0);
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} / {} / {} / {} / {} | {} | {:.0} /s | {:.0} /s | {:.0} s |",
            f["backend"].as_str().unwrap_or("?"),
            n("approved"),
            n("acknowledged_before_kill"),
            n("attempts"),
            n("dropped"),
            n("errors"),
            n("throttled"),
            n("slow"),
            n("lost_answers"),
            n("duplicates"),
            x("placed_per_s"),
            x("delivered_per_s"),
            x("total_s"),
        );
    }
}

/// 12037 as `12,037`.
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn counts_are_grouped_by_thousands() {
        assert_eq!(super::grouped(7), "7");
        assert_eq!(super::grouped(12_037), "12,037");
        assert_eq!(super::grouped(1_000_000), "1,000,000");
    }
}
