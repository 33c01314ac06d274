//! Plugin runtime benchmarks:
//!
//! - **In process** (`benches/plugin-runtime`, a crate of its own built in release against the
//!   host library): a fresh instance and call of a trivial export, a host-call round trip
//!   against the same query made natively, the same trivial function through Extism and as a
//!   native Rust call, how soon a looping plugin is stopped after its deadline, and the memory
//!   a memory bomb gets. It prints its own table, which goes into the report as it is.
//! - **Hot swap under load**: a release `tessera serve` with a plugin directory runs the probe;
//!   wrk calls `/api/plugins/probe/whoami` the whole time while 20 new versions of the probe
//!   are written into the directory, each timed from the file write until a request is
//!   answered by it (`x-plugin: probe <version>`); then a roll back must bring the previous
//!   version back.

use std::ffi::OsString;
use std::fmt::Write as _;
use std::io::{Read, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use wasmparser::{Parser, Payload};

use crate::bench::{ADMIN_PASSWORD, TempDir, WrkResult, http, make_token, parse_wrk, start_server_args};
use crate::bench_events::percentile;
use crate::plugins::{MANIFEST_SECTION, package};
use crate::{cargo, root, status};

/// New versions written during the hot-swap load.
const UPGRADES: u32 = 20;
/// The longest an upgrade may take to serve before the benchmark gives up on it.
const UPGRADE_TIMEOUT: Duration = Duration::from_secs(60);

/// What the plugin benchmarks measured.
pub struct Figures {
    /// The in-process benchmark's own table and machine line.
    pub in_process: String,
    pub hot_swap: HotSwap,
}

pub struct HotSwap {
    pub load: WrkResult,
    pub non_2xx: u64,
    pub socket_errors: u64,
    /// Milliseconds from each file write until a request was served by the new version.
    pub upgrades_ms: Vec<f64>,
    pub last_version: String,
    /// The version the roll back must return to, and the one it did.
    pub expected_previous: String,
    pub rolled_back_to: Option<String>,
    pub rollback_ms: f64,
}

pub fn run(binary: &Path, quick: bool) -> Result<Figures> {
    let packages = crate::plugins::build_plugins()?;
    println!("  in process: fresh instances, host calls, Extism, native, deadlines, memory caps");
    let in_process = in_process(&packages, quick)?;
    println!("  hot swap: {UPGRADES} new probe versions under wrk load");
    let hot_swap = hot_swap(binary, &packages)?;
    Ok(Figures { in_process, hot_swap })
}

/// Runs `benches/plugin-runtime` in release with the main target directory, so the host's
/// release build is shared with `tessera`'s, and returns the markdown it wrote.
fn in_process(packages: &Path, quick: bool) -> Result<String> {
    let target = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root().join("target"));
    let markdown = std::env::temp_dir().join(format!("tessera-plugin-runtime-{}.md", std::process::id()));
    let mut cmd = cargo();
    cmd.args(["run", "--release", "--manifest-path"])
        .arg(root().join("benches/plugin-runtime/Cargo.toml"))
        .arg("--")
        .arg("--packages")
        .arg(packages)
        .arg("--markdown")
        .arg(&markdown)
        .env("CARGO_TARGET_DIR", &target);
    if quick {
        cmd.arg("--quick");
    }
    status(&mut cmd)?;
    let md = std::fs::read_to_string(&markdown).with_context(|| format!("cannot read {}", markdown.display()))?;
    let _ = std::fs::remove_file(&markdown);
    Ok(md)
}

/// The `[plugin]` table's `id`, `version` and `capabilities` of a manifest.
fn identity(manifest: &str) -> Result<(String, String, Vec<String>)> {
    let table: toml::Table = manifest.parse().context("plugin.toml is not valid TOML")?;
    let plugin = table.get("plugin").and_then(toml::Value::as_table).context("plugin.toml has no [plugin] table")?;
    let text = |name: &str| plugin.get(name).and_then(toml::Value::as_str).map(str::to_owned);
    let capabilities = plugin
        .get("capabilities")
        .and_then(toml::Value::as_array)
        .map(|a| a.iter().filter_map(|c| c.as_str().map(str::to_owned)).collect())
        .unwrap_or_default();
    Ok((text("id").context("no plugin.id")?, text("version").context("no plugin.version")?, capabilities))
}

/// The built package of plugin `id` in `packages`, and its manifest.
fn find_package(packages: &Path, id: &str) -> Result<(Vec<u8>, String)> {
    for entry in std::fs::read_dir(packages).with_context(|| format!("cannot read {}", packages.display()))? {
        let path = entry?.path();
        let named = path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with(&format!("{id}-")));
        if !named || path.extension().is_none_or(|e| e != "wasm") {
            continue;
        }
        let bytes = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
        let Some(manifest) = crate::plugins::manifest_section(&bytes)? else { continue };
        let manifest = String::from_utf8(manifest).context("the manifest is not UTF-8")?;
        if identity(&manifest)?.0 == id {
            return Ok((bytes, manifest));
        }
    }
    bail!("no package of {id} in {}", packages.display())
}

/// The component of a package: the package without its manifest section, which
/// `build-plugins` appends last.
fn component_of(package: &[u8]) -> Result<Vec<u8>> {
    let mut start = None;
    let mut depth = 0usize;
    for payload in Parser::new(0).parse_all(package) {
        match payload? {
            Payload::ModuleSection { .. } | Payload::ComponentSection { .. } => depth += 1,
            Payload::End(_) => depth = depth.saturating_sub(1),
            Payload::CustomSection(section) if depth == 0 && section.name() == MANIFEST_SECTION => {
                ensure!(section.range().end == package.len(), "the {MANIFEST_SECTION} section is not the last one");
                // The section's id byte and its size (unsigned LEB128) come before its content.
                let content = section.range().end - section.range().start;
                let size_bytes = (usize::BITS - content.leading_zeros()).div_ceil(7).max(1) as usize;
                start = Some(section.range().start - size_bytes - 1);
            }
            _ => {}
        }
    }
    let start = start.with_context(|| format!("the package has no {MANIFEST_SECTION} section"))?;
    Ok(package[..start].to_vec())
}

/// The manifest with `[plugin] version` set to `version`.
fn with_version(manifest: &str, old: &str, version: &str) -> Result<String> {
    let line = format!("version = \"{old}\"");
    let bumped = manifest.replacen(&line, &format!("version = \"{version}\""), 1);
    ensure!(identity(&bumped)?.1 == version, "cannot find `{line}` in the [plugin] table of the manifest");
    Ok(bumped)
}

/// Writes a package into the watched directory in one step (written beside it, then renamed),
/// so the host never reads half a file.
fn drop_package(dir: &Path, id: &str, version: &str, bytes: &[u8]) -> Result<()> {
    let partial = dir.join(format!(".{id}-{version}.part"));
    std::fs::write(&partial, bytes).with_context(|| format!("cannot write {}", partial.display()))?;
    std::fs::rename(&partial, dir.join(format!("{id}-{version}.wasm"))).context("cannot move the package in place")
}

/// `GET path` with a bearer token: the status and the `x-plugin` header.
fn plugin_answer(addr: SocketAddr, path: &str, token: &str) -> Result<(u16, Option<String>)> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    )?;
    let mut resp = String::new();
    stream.read_to_string(&mut resp)?;
    let status = resp.split(' ').nth(1).and_then(|s| s.parse().ok()).context("bad HTTP response")?;
    let head = resp.split("\r\n\r\n").next().unwrap_or_default();
    let plugin = head.lines().find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.trim().eq_ignore_ascii_case("x-plugin").then(|| value.trim().to_owned())
    });
    Ok((status, plugin))
}

/// Asks until a request is answered by `label` (`probe 1.0.3`); returns how long that took.
fn until_served_by(addr: SocketAddr, path: &str, token: &str, label: &str, since: Instant) -> Result<Duration> {
    loop {
        if let (200, Some(by)) = plugin_answer(addr, path, token)?
            && by == label
        {
            return Ok(since.elapsed());
        }
        if since.elapsed() > UPGRADE_TIMEOUT {
            bail!("{label} did not answer within {} s", UPGRADE_TIMEOUT.as_secs());
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// wrk, running until it is told to stop.
struct Load {
    child: std::process::Child,
}

impl Load {
    fn start(url: &str, token: &str) -> Result<Load> {
        let child = Command::new("wrk")
            .args(["-t2", "-c16", "-d3600s", "--latency", "-H", &format!("Authorization: Bearer {token}"), url])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .context("cannot run wrk")?;
        Ok(Load { child })
    }

    /// Stops wrk as Ctrl-C does, so that it prints its results, and reads them.
    fn stop(self) -> Result<(WrkResult, u64, u64)> {
        status(Command::new("kill").args(["-INT", &self.child.id().to_string()]))?;
        let out = self.child.wait_with_output().context("wrk did not finish")?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let result = parse_wrk(&text).with_context(|| format!("cannot read wrk output:\n{text}"))?;
        let count = |prefix: &str| -> u64 {
            text.lines().map(str::trim).find_map(|l| l.strip_prefix(prefix)).map_or(0, |rest| {
                rest.split(',').filter_map(|p| p.split_whitespace().last()?.parse::<u64>().ok()).sum()
            })
        };
        Ok((result, count("Non-2xx or 3xx responses:"), count("Socket errors:")))
    }
}

fn hot_swap(binary: &Path, packages: &Path) -> Result<HotSwap> {
    let (original, manifest) = find_package(packages, "probe")?;
    let (_, base_version, _) = identity(&manifest)?;
    let base = semver_parts(&base_version)?;
    let component = component_of(&original)?;

    let dir = TempDir(std::env::temp_dir().join(format!("tessera-bench-plugin-dir-{}", std::process::id())));
    let _ = std::fs::remove_dir_all(&dir.0);
    std::fs::create_dir_all(&dir.0)?;
    let plugin_dir: OsString = dir.0.clone().into_os_string();
    let server = start_server_args(binary, "sqlite", false, &["--plugin-dir".into(), plugin_dir])?;
    let addr = server.addr;
    let token = make_token(addr, "admin", ADMIN_PASSWORD)?;
    let auth = format!("Bearer {token}");
    let headers = [("Authorization", auth.as_str())];

    drop_package(&dir.0, "probe", &base_version, &original)?;
    let deadline = Instant::now() + UPGRADE_TIMEOUT;
    while http(addr, "GET", "/api/v1/plugins/probe", &headers, None)?.0 != 200 {
        ensure!(Instant::now() < deadline, "the probe dropped into the plugin directory was not installed");
        std::thread::sleep(Duration::from_millis(20));
    }
    // Granted nothing: `/whoami` makes no host call, and a new version that requests nothing
    // more than the running one is taken up with the same grants.
    let enable = Some("{\"capabilities\":[]}");
    let (code, body) = http(addr, "POST", "/api/v1/plugins/probe/enable", &headers, enable)?;
    ensure!(code == 200, "cannot enable the probe: {code} {body}");
    let path = "/api/plugins/probe/whoami";
    until_served_by(addr, path, &token, &format!("probe {base_version}"), Instant::now())?;

    let load = Load::start(&format!("http://{addr}{path}"), &token)?;
    std::thread::sleep(Duration::from_secs(1));
    let mut upgrades_ms = Vec::new();
    let mut versions = vec![base_version.clone()];
    let swapped = (|| -> Result<()> {
        for n in 1..=UPGRADES {
            let version = format!("{}.{}.{}", base.0, base.1, base.2 + u64::from(n));
            let bytes = package(&component, &with_version(&manifest, &base_version, &version)?)?;
            let started = Instant::now();
            drop_package(&dir.0, "probe", &version, &bytes)?;
            let took = until_served_by(addr, path, &token, &format!("probe {version}"), started)?;
            upgrades_ms.push(took.as_secs_f64() * 1000.0);
            println!("    probe {version} served {:.0} ms after its file was written", took.as_secs_f64() * 1000.0);
            versions.push(version);
        }
        Ok(())
    })();
    let expected_previous = versions.iter().rev().nth(1).cloned().unwrap_or_default();
    let last_version = versions.last().cloned().unwrap_or_default();
    let rollback = swapped.and_then(|()| {
        let started = Instant::now();
        let (code, body) = http(addr, "POST", "/api/v1/plugins/probe/rollback", &headers, Some("{}"))?;
        ensure!(code == 200, "the roll back failed: {code} {body}");
        let rolled_back_to = plugin_answer(addr, path, &token)?.1;
        Ok((rolled_back_to, started.elapsed()))
    });
    std::thread::sleep(Duration::from_millis(500));
    let (load, non_2xx, socket_errors) = load.stop()?;
    let (rolled_back_to, rollback_took) = rollback?;
    drop(server);
    let rolled_back_to = rolled_back_to.map(|label| label.trim_start_matches("probe ").to_owned());
    Ok(HotSwap {
        load,
        non_2xx,
        socket_errors,
        upgrades_ms,
        last_version,
        expected_previous,
        rolled_back_to,
        rollback_ms: rollback_took.as_secs_f64() * 1000.0,
    })
}

fn semver_parts(version: &str) -> Result<(u64, u64, u64)> {
    let core = version.split(['-', '+']).next().unwrap_or_default();
    let parts: Vec<u64> = core.split('.').map(str::parse).collect::<Result<_, _>>().context("not a version")?;
    match parts[..] {
        [major, minor, patch] => Ok((major, minor, patch)),
        _ => bail!("{version:?} is not major.minor.patch"),
    }
}

/// The section of `docs/BENCHMARKS.md` these figures make.
pub fn report(md: &mut String, figures: &Figures) {
    let _ = writeln!(md, "\n## Plugin runtime\n");
    let _ = writeln!(
        md,
        "*In process* (`benches/plugin-runtime`, release build, SQLite in a temporary directory, one thread): each figure \
         is a percentile of many calls timed one by one with `Instant` after a warm-up. (a) is a whole \
         `Runtime::handle_http` call of the benchmark guest (`plugins/test-guests/bench`): a fresh wasmtime store, \
         instantiation of the linked component from the pooling allocator, the call and the store dropped. (b) times \
         `/customer/{{id}}` (one `customers.get` host call), `/noop` and `customers::get` made natively in turns, and \
         takes the difference of medians. (c) runs the same trivial function as a core module in Extism, on one kept \
         plugin and on a new plugin per call made from the compiled module (no compilation per call). (d) is a native \
         call through a function pointer, timed in batches of 1,000."
    );
    let _ = writeln!(md, "\n{}", figures.in_process.trim_end());
    let h = &figures.hot_swap;
    let mut upgrades = h.upgrades_ms.clone();
    upgrades.sort_by(f64::total_cmp);
    let (p50, max) = (percentile(&upgrades, 50.0), upgrades.last().copied().unwrap_or(0.0));
    let met = |ok: bool| if ok { "yes" } else { "**no**" };
    let _ = writeln!(
        md,
        "\n*Hot swap under load*: a release `tessera serve --plugin-dir` on SQLite runs the probe (`plugins/test-guests/probe`); \
         wrk (2 threads, 16 connections, an API token) calls `GET /api/plugins/probe/whoami` the whole time while \
         {UPGRADES} new versions of the probe (the same component, its manifest's version bumped) are written into the \
         plugin directory one after another. Each is timed from the file write until a request is answered with \
         `x-plugin: probe <new version>`: the host notices the file, checks and compiles the package, stores it and moves \
         the organisation onto it. Then `POST /api/v1/plugins/probe/rollback`.\n"
    );
    let _ = writeln!(md, "| measure | figure | goal | met? |");
    let _ = writeln!(md, "|---|---|---|---|");
    let _ = writeln!(
        md,
        "| requests during the upgrades | {} requests, {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms | | |",
        h.load.requests, h.load.requests_per_sec, h.load.p50_ms, h.load.p99_ms
    );
    let _ = writeln!(
        md,
        "| failed requests (non-2xx responses / socket errors) | **{} / {}** | 0 | {} |",
        h.non_2xx,
        h.socket_errors,
        met(h.non_2xx + h.socket_errors == 0)
    );
    let _ = writeln!(
        md,
        "| file written → served by the new version, {} upgrades | p50 {p50:.0} ms, **max {max:.0} ms** | ≤ 500 ms | {} |",
        upgrades.len(),
        met(upgrades.len() == UPGRADES as usize && max <= 500.0)
    );
    let back = h.rolled_back_to.as_deref().unwrap_or("nothing");
    let _ = writeln!(
        md,
        "| roll back from {} | answered by {back} {:.0} ms after the request | {} | {} |",
        h.last_version,
        h.rollback_ms,
        h.expected_previous,
        met(back == h.expected_previous)
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY_COMPONENT: &[u8] = b"\0asm\x0d\x00\x01\x00";

    #[test]
    fn a_package_gets_a_new_version_and_keeps_its_component() {
        let manifest = "[plugin]\nid = \"probe\"\nversion = \"1.0.0\"\ncapabilities = [\"notify\"]\n";
        let packaged = package(EMPTY_COMPONENT, manifest).unwrap();
        assert_eq!(component_of(&packaged).unwrap(), EMPTY_COMPONENT);
        let bumped = with_version(manifest, "1.0.0", "1.0.7").unwrap();
        let repacked = package(&component_of(&packaged).unwrap(), &bumped).unwrap();
        let read_back = String::from_utf8(crate::plugins::manifest_section(&repacked).unwrap().unwrap()).unwrap();
        assert_eq!(identity(&read_back).unwrap(), ("probe".into(), "1.0.7".into(), vec!["notify".into()]));
        // A manifest large enough that the section's size takes several LEB128 bytes.
        let large = format!("{manifest}# {}\n", "x".repeat(20_000));
        assert_eq!(component_of(&package(EMPTY_COMPONENT, &large).unwrap()).unwrap(), EMPTY_COMPONENT);
    }

    #[test]
    fn versions_are_read_as_three_numbers() {
        assert_eq!(semver_parts("1.2.3").unwrap(), (1, 2, 3));
        assert_eq!(semver_parts("0.1.0-beta.1").unwrap(), (0, 1, 0));
        assert!(semver_parts("1.2").is_err());
    }
}
