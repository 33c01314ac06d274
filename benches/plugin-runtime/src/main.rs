//! Benchmarks of the plugin runtime, measured in one process on SQLite in a temporary
//! directory and printed side by side: a fresh instance and call of a trivial export through
//! `Runtime::handle_http`, a host-call round trip against the same query made natively, the
//! same trivial function through Extism (kept and fresh instances) and as a native Rust call,
//! how soon a looping plugin is stopped after its deadline, and the memory a memory bomb gets.
//!
//! Run by `cargo xtask bench --only plugins`, which builds the packages first:
//!
//! ```text
//! plugin-runtime-bench --packages target/plugins [--markdown FILE] [--quick]
//! ```
//!
//! Timings use `std::time::Instant` around each call, after a warm-up, over many calls; the
//! figures are percentiles of those samples.

mod comparison;
mod hostile;
mod report;
mod setup;
mod timing;

use std::path::PathBuf;

use anyhow::{Context, Result, bail};

/// mimalloc, as in the `tessera` binary, so calls allocate as they do in the server.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// What to run.
pub struct Options {
    /// `target/plugins`, as `cargo xtask build-plugins` writes it.
    pub packages: PathBuf,
    /// Where to write the markdown of the results, besides standard output.
    pub markdown: Option<PathBuf>,
    /// Fewer iterations, for a quick look.
    pub quick: bool,
}

fn options() -> Result<Options> {
    let mut packages = None;
    let mut markdown = None;
    let mut quick = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--packages" => packages = Some(PathBuf::from(args.next().context("--packages takes a directory")?)),
            "--markdown" => markdown = Some(PathBuf::from(args.next().context("--markdown takes a file")?)),
            "--quick" => quick = true,
            other => bail!(
                "unknown argument {other:?}; usage: plugin-runtime-bench --packages DIR [--markdown FILE] [--quick]"
            ),
        }
    }
    Ok(Options {
        packages: packages.context("--packages DIR (the packages of `cargo xtask build-plugins`) is required")?,
        markdown,
        quick,
    })
}

fn main() -> std::process::ExitCode {
    let result = options().and_then(|options| {
        // One thread: every call is made and timed on it, one after another.
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let figures = runtime.block_on(run(&options))?;
        let md = report::markdown(&figures);
        println!("{md}");
        if let Some(path) = &options.markdown {
            std::fs::write(path, &md).with_context(|| format!("cannot write {}", path.display()))?;
        }
        Ok(())
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("plugin-runtime-bench: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(options: &Options) -> Result<report::Figures> {
    let host = setup::Host::start(&options.packages).await?;
    let counts = timing::Counts::new(options.quick);
    let calls = comparison::run(&host, &counts).await?;
    let hostile = hostile::run(&host).await?;
    host.close().await;
    Ok(report::Figures { calls, hostile, machine: report::machine() })
}
