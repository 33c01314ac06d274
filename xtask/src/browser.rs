//! The browser suite: the web CRM in headless Chromium, driven by Playwright (`tests/browser`),
//! against a `tessera serve` with the demo organisation and the bundled plugins, once on
//! SQLite and once on PostgreSQL. Chromium comes from the system (Debian's `chromium`);
//! Playwright never downloads a browser. Screenshots are kept in `target/browser-artifacts`.

use std::ffi::OsString;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

use crate::bench::{ADMIN_PASSWORD, TempDir, start_server_args};
use crate::root;

/// What one run of the suite counted.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub passed: u64,
    pub failed: u64,
    pub skipped: u64,
}

fn chromium() -> PathBuf {
    std::env::var_os("CHROMIUM").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"))
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Makes sure Chromium, Node.js and the suite's npm packages are there, installing what is
/// missing (Debian packages need root).
pub fn ensure_tools() -> Result<()> {
    let have =
        |cmd: &str| Command::new(cmd).arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok();
    let mut missing = Vec::new();
    if !chromium().is_file() {
        missing.push("chromium");
    }
    if !have("node") || !have("npm") {
        missing.extend(["nodejs", "npm"]);
    }
    // Without a Chinese font the screenshots show boxes for every Chinese character.
    let chinese_font = Command::new("fc-list")
        .arg(":lang=zh")
        .output()
        .is_ok_and(|o| !String::from_utf8_lossy(&o.stdout).trim().is_empty());
    if !chinese_font {
        missing.push("fonts-wqy-zenhei");
    }
    if !missing.is_empty() {
        if !is_root() {
            bail!("the browser suite needs {}: apt-get install -y {}", missing.join(", "), missing.join(" "));
        }
        eprintln!("installing {}", missing.join(", "));
        let _ = Command::new("apt-get").args(["update", "-qq"]).status();
        let ok = Command::new("apt-get")
            .args(["install", "-y", "-qq"])
            .args(&missing)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .is_ok_and(|s| s.success());
        if !ok || !chromium().is_file() {
            bail!("could not install {} for the browser suite", missing.join(", "));
        }
    }
    let dir = root().join("tests/browser");
    if !dir.join("node_modules/playwright-core/package.json").is_file() {
        let ok = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&dir)
            .env("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            bail!("npm ci failed in {}", dir.display());
        }
    }
    Ok(())
}

/// Runs the suite against a fresh CRM on `backend` (`sqlite` or `postgres`).
pub fn run(binary: &Path, backend: &str) -> Result<Tally> {
    let plugin_dir =
        TempDir(std::env::temp_dir().join(format!("tessera-browser-plugins-{}-{backend}", std::process::id())));
    let _ = std::fs::remove_dir_all(&plugin_dir.0);
    crate::plugins::bundle_into(&plugin_dir.0)?;
    let args: Vec<OsString> = vec!["--plugin-dir".into(), plugin_dir.0.clone().into()];
    let server = start_server_args(binary, backend, true, &args)?;
    let artifacts = root().join("target/browser-artifacts").join(backend);
    let _ = std::fs::remove_dir_all(&artifacts);
    std::fs::create_dir_all(&artifacts)?;
    println!("browser suite on {backend}: the CRM at http://{}, screenshots in {}", server.addr, artifacts.display());
    let mut child = Command::new("node")
        .args(["--test", "--test-concurrency=1", "--test-reporter=tap"])
        .current_dir(root().join("tests/browser"))
        .env("TESSERA_URL", format!("http://{}", server.addr))
        .env("TESSERA_DEMO_PASSWORD", ADMIN_PASSWORD)
        .env("TESSERA_ARTIFACTS", &artifacts)
        .env("CHROMIUM", chromium())
        .stdout(Stdio::piped())
        .spawn()
        .context("cannot run node --test")?;
    let stdout = child.stdout.take().context("stdout")?;
    let mut lines = Vec::new();
    for line in BufReader::new(stdout).lines().map_while(Result::ok) {
        println!("{line}");
        lines.push(line);
    }
    let status = child.wait()?;
    drop(server);
    let tally = read_tap_summary(&lines);
    if !status.success() && tally.failed == 0 {
        bail!("the browser suite on {backend} failed ({status}) before reporting a failed test");
    }
    Ok(tally)
}

/// Reads the `# pass N` / `# fail N` / `# skipped N` / `# todo N` / `# cancelled N` summary
/// node's test runner ends its TAP output with. Cancelled tests count as failed, to-dos as
/// skipped.
pub fn read_tap_summary(lines: &[String]) -> Tally {
    let count = |word: &str| {
        lines
            .iter()
            .filter_map(|l| l.trim().strip_prefix("# ")?.strip_prefix(word)?.trim().parse::<u64>().ok())
            .next_back()
            .unwrap_or(0)
    };
    Tally {
        passed: count("pass "),
        failed: count("fail ") + count("cancelled "),
        skipped: count("skipped ") + count("todo "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_tap_summary() {
        let out: Vec<String> = "ok 1 - a\n# tests 5\n# suites 0\n# pass 3\n# fail 1\n# cancelled 0\n# skipped 1\n# todo 0\n# duration_ms 12"
            .lines()
            .map(str::to_owned)
            .collect();
        assert_eq!(read_tap_summary(&out), Tally { passed: 3, failed: 1, skipped: 1 });
        assert_eq!(read_tap_summary(&[]), Tally::default());
    }
}
