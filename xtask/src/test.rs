//! `cargo xtask test`: every test suite, on SQLite and PostgreSQL, ending with the browser
//! suite in headless Chromium. A suite that is skipped (an ignored test, a missing database,
//! a missing browser) fails the run instead of passing quietly.

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::cargo;

/// The PostgreSQL server the suites use.
pub fn postgres_url() -> String {
    std::env::var("TESSERA_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://root@127.0.0.1:5432/test".into())
}

/// Makes sure PostgreSQL answers, starting the local cluster when it is installed but down.
pub fn ensure_postgres() -> Result<()> {
    let url = postgres_url();
    let hostport = url.split('@').nth(1).and_then(|rest| rest.split('/').next()).unwrap_or("127.0.0.1:5432").to_owned();
    let reachable = || {
        hostport.parse().ok().and_then(|addr| TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()).is_some()
    };
    if reachable() {
        return Ok(());
    }
    eprintln!("PostgreSQL is not answering at {hostport}; trying to start the local cluster");
    if let Ok(versions) = std::fs::read_dir("/etc/postgresql") {
        for version in versions.flatten() {
            let _ = Command::new("pg_ctlcluster")
                .args(["--skip-systemctl-redirect", &version.file_name().to_string_lossy(), "main", "start"])
                .status();
        }
    }
    for _ in 0..30 {
        if reachable() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    bail!("PostgreSQL is needed for the test suites and is not reachable at {hostport} (set TESSERA_TEST_POSTGRES_URL)")
}

#[derive(Debug, Default)]
struct Counts {
    passed: u64,
    failed: u64,
    ignored: u64,
    suites: u64,
    empty_suites: Vec<String>,
}

fn number_before(line: &str, word: &str) -> u64 {
    line.split(';')
        .find_map(|part| {
            let part = part.trim();
            part.strip_suffix(word).and_then(|n| n.trim().rsplit(' ').next().and_then(|n| n.parse().ok()))
        })
        .unwrap_or(0)
}

/// Python packages the suites call: the Standard Webhooks reference library, which checks the
/// host's webhook signatures independently of the host's own code, and an SMTP server that
/// receives the host's notification email.
const PYTHON_PACKAGES: &[(&str, &str)] = &[("standardwebhooks", "standardwebhooks"), ("aiosmtpd", "aiosmtpd")];

/// Makes sure the Python packages the suites call are importable, installing them with pip.
pub fn ensure_python_packages() -> Result<()> {
    for (module, package) in PYTHON_PACKAGES {
        let importable = || {
            Command::new("python3")
                .args(["-c", &format!("import {module}")])
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        if importable() {
            continue;
        }
        eprintln!("installing the Python package {package}");
        let _ = Command::new("python3")
            .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", package])
            .status();
        if !importable() {
            bail!("the test suites need python3 with the package {package}: python3 -m pip install {package}");
        }
    }
    Ok(())
}

pub fn run(_args: &[String]) -> Result<()> {
    ensure_postgres()?;
    ensure_python_packages()?;
    // The end-to-end suites install the built plugins and test guests.
    let packages = crate::plugins::build_plugins()?;
    // The native-driver suite loads the sample driver as the host would, a shared library.
    crate::status(cargo().args(["build", "-p", "tessera-fifo-caller-id"]))?;
    let mut counts = Counts::default();
    let mut ok = true;
    let mut host = cargo();
    host.args(["test", "--workspace", "--all-targets", "--no-fail-fast", "--color", "never"])
        .env("TESSERA_PLUGIN_PACKAGES", &packages);
    ok &= run_suites(host, &mut counts)?;
    // The guest SDK's own tests, natively (its helpers are plain Rust).
    let mut sdk = cargo();
    sdk.args(["test", "--no-fail-fast", "--color", "never", "--manifest-path"])
        .arg(crate::root().join("sdk/Cargo.toml"))
        .env("CARGO_TARGET_DIR", crate::root().join("target"));
    ok &= run_suites(sdk, &mut counts)?;
    // The plugins' own tests (the template's, through the test kit), natively. They share the
    // host's build directory (this runs after the workspace's tests) and find the guests
    // already built for wasm32 where build-plugins put them.
    let mut guests = cargo();
    guests
        .args(["test", "--workspace", "--no-fail-fast", "--color", "never", "--manifest-path"])
        .arg(crate::root().join("plugins/Cargo.toml"))
        .env("CARGO_TARGET_DIR", crate::root().join("target"))
        .env("TESSERA_TESTKIT_TARGET_DIR", crate::plugins::wasm_target_dir());
    ok &= run_suites(guests, &mut counts)?;
    // The web CRM in headless Chromium, on both backends.
    crate::browser::ensure_tools()?;
    let binary = crate::build_host(false)?;
    for backend in ["sqlite", "postgres"] {
        let tally = crate::browser::run(&binary, backend)?;
        counts.passed += tally.passed;
        counts.failed += tally.failed;
        counts.ignored += tally.skipped;
        counts.suites += 1;
        if tally.passed + tally.failed == 0 {
            counts.empty_suites.push(format!("browser suite on {backend}"));
        }
    }
    println!();
    println!("suites: {}", counts.suites);
    println!("tests: {} passed, {} failed, {} skipped", counts.passed, counts.failed, counts.ignored);
    if !ok || counts.failed > 0 {
        bail!("tests failed");
    }
    if counts.ignored > 0 {
        bail!("{} tests were skipped (ignored); every suite must run", counts.ignored);
    }
    if !counts.empty_suites.is_empty() {
        bail!("these suites ran no test: {}", counts.empty_suites.join(", "));
    }
    if counts.passed == 0 {
        bail!("no test ran");
    }
    Ok(())
}

/// Runs one `cargo test` and adds its summaries to `counts`; returns whether it succeeded.
/// Cargo names each test binary on stderr ("Running …") and the binary reports on stdout; both
/// go into one pipe, so a summary is always read after the name of the binary it belongs to.
fn run_suites(mut cmd: Command, counts: &mut Counts) -> Result<bool> {
    let (reader, writer) = std::io::pipe().context("a pipe for cargo test")?;
    cmd.stdout(writer.try_clone().context("a pipe for cargo test")?).stderr(writer);
    let mut child = cmd.spawn().context("cannot run cargo test")?;
    // The command holds the pipe's writing ends; without dropping it the pipe never ends.
    drop(cmd);
    // The suite being run, and whether it may run nothing: a binary's or a support library's
    // unit tests, or a crate's examples, may be none; an integration suite that runs nothing
    // has been skipped. (Cargo names the suites of the tests crate by file, `search.rs`, and the
    // host's own by path, `tests/cli.rs`.)
    let mut current = (String::new(), true);
    for line in BufReader::new(reader).lines().map_while(Result::ok) {
        println!("{line}");
        let trimmed = line.trim();
        if let Some(rest) = trimmed.strip_prefix("Running ") {
            current = (rest.to_owned(), rest.starts_with("unittests"));
        } else if let Some(rest) = trimmed.strip_prefix("Doc-tests ") {
            current = (format!("the examples of {rest}"), true);
        }
        if line.starts_with("test result:") {
            let (passed, failed, ignored) =
                (number_before(&line, "passed"), number_before(&line, "failed"), number_before(&line, "ignored"));
            counts.passed += passed;
            counts.failed += failed;
            counts.ignored += ignored;
            counts.suites += 1;
            if passed + failed == 0 && !current.1 {
                counts.empty_suites.push(current.0.clone());
            }
        }
    }
    let status = child.wait()?;
    Ok(status.success())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_cargo_test_summaries() {
        let line = "test result: ok. 29 passed; 1 failed; 2 ignored; 0 measured; 0 filtered out; finished in 6.58s";
        assert_eq!(number_before(line, "passed"), 29);
        assert_eq!(number_before(line, "failed"), 1);
        assert_eq!(number_before(line, "ignored"), 2);
    }

    /// Cargo names a binary on stderr and the binary reports on stdout: a binary without tests
    /// of its own is never taken for the integration suite cargo starts next.
    #[test]
    fn an_empty_summary_belongs_to_the_suite_named_before_it() {
        let script = "
            echo '     Running unittests src/main.rs (target/debug/deps/tessera)' >&2
            echo 'test result: ok. 0 passed; 0 failed; 0 ignored; 0 measured'
            echo '     Running tests/cli.rs (target/debug/deps/cli)' >&2
            echo 'test result: ok. 6 passed; 0 failed; 0 ignored; 0 measured'
            echo '   Doc-tests tessera_sdk' >&2
            echo 'test result: ok. 0 passed; 0 failed; 0 ignored; 0 measured'
            echo '     Running tests/empty.rs (target/debug/deps/empty)' >&2
            echo 'test result: ok. 0 passed; 0 failed; 1 ignored; 0 measured'
        ";
        let mut cmd = Command::new("sh");
        cmd.args(["-c", script]);
        let mut counts = Counts::default();
        assert!(run_suites(cmd, &mut counts).expect("sh runs"));
        assert_eq!((counts.passed, counts.ignored, counts.suites), (6, 1, 4));
        assert_eq!(counts.empty_suites, ["tests/empty.rs (target/debug/deps/empty)"]);
    }
}
