//! `cargo xtask …`: the project's tasks.
//!
//! - `run`: build the CRM and start it on SQLite with a demo organisation.
//! - `build-plugins`: build the plugins for `wasm32-wasip2` and package them in `target/plugins/`.
//! - `test`: run every test suite (PostgreSQL must be reachable) and fail if any was skipped.
//! - `bench`: run the benchmarks on SQLite and PostgreSQL, and the plugin runtime's on SQLite,
//!   and rewrite `docs/BENCHMARKS.md`.

mod bench;
mod bench_customers;
mod bench_erp;
mod bench_events;
mod bench_plugins;
mod bench_pool;
mod bench_popup;
mod bench_search;
mod bench_web;
mod browser;
mod plugins;
mod test;

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("run") => run(&args[1..]),
        Some("build-plugins") => plugins::run(&args[1..]),
        Some("test") => test::run(&args[1..]),
        Some("bench") => bench::run(&args[1..]),
        _ => {
            eprintln!("{USAGE}");
            return std::process::ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

const USAGE: &str = "usage: cargo xtask <task>

tasks:
  run [--debug] [-- ARGS…]   build and start the CRM on SQLite with a demo organisation
                             (ARGS go to `tessera serve`, e.g. -- --listen 0.0.0.0:8080)
  build-plugins              build the plugins for wasm32-wasip2 and package them as
                             target/plugins/<id>-<version>.wasm
  test                       run every test suite on SQLite and PostgreSQL
  bench [--quick] [--customers N] [--only events|customers|web|pool|popup|erp|plugins]
                             run the benchmarks (N customers, default 1,000,000; 20,000
                             with --quick) and rewrite docs/BENCHMARKS.md; with --only,
                             run one benchmark and replace its section";

/// The password of the demo organisation's users when `TESSERA_ADMIN_PASSWORD` is not set.
const DEMO_PASSWORD: &str = "tessera-demo-2026";

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."))
}

pub fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(root());
    cmd
}

pub fn status(cmd: &mut Command) -> Result<()> {
    let status = cmd.status().with_context(|| format!("cannot run {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed with {status}");
    }
    Ok(())
}

/// Builds the `tessera` binary and returns its path.
pub fn build_host(release: bool) -> Result<PathBuf> {
    let mut cmd = cargo();
    cmd.args(["build", "-p", "tessera-host", "--bin", "tessera"]);
    if release {
        cmd.arg("--release");
    }
    status(&mut cmd)?;
    let dir = std::env::var("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|_| root().join("target"));
    Ok(dir.join(if release { "release" } else { "debug" }).join("tessera"))
}

fn run(args: &[String]) -> Result<()> {
    let debug = args.iter().any(|a| a == "--debug");
    let extra: Vec<&String> = args.iter().skip_while(|a| *a != "--").skip(1).collect();
    let binary = build_host(!debug)?;
    let password = std::env::var("TESSERA_ADMIN_PASSWORD").unwrap_or_else(|_| DEMO_PASSWORD.into());
    let data = root().join("data");
    let bundled = plugins::bundle_into(&data.join("plugins"))?;
    println!("Bundled plugins in {}: {}", data.join("plugins").display(), bundled.join(", "));
    println!("Starting Tessera CRM with its data in {}", data.display());
    println!(
        "Demo sign-in: admin / {password} (organisation `demo`); sales manager wang.fang and salespeople zhang.wei, li.na, liu.yang share the password."
    );
    let mut cmd = Command::new(binary);
    // The bundled plugins are unsigned builds: the demo is a developer's host, and says so.
    cmd.arg("serve")
        .arg("--data-dir")
        .arg(&data)
        .arg("--demo")
        .arg("--developer-mode")
        .args(extra)
        .env("TESSERA_ADMIN_PASSWORD", &password);
    status(&mut cmd)
}
