//! Native device drivers: trusted shared libraries the operator installs for hardware that
//! ships only a native SDK (caller-ID boxes, PBX cards), loaded with `libloading` behind the
//! small C ABI of the `tessera-driver-abi` crate (`drivers/include/tessera_driver.h`).
//!
//! The operator lists drivers in a TOML file (`tessera serve --drivers drivers.toml`); each
//! names the library, its configuration string, and the organisation and plugin its reports go
//! to. At start the host checks the library's ABI version before calling anything else, then
//! starts it. A report becomes an inbound request of kind `driver` to the plugin (the documented
//! JSON of a call event, `POST` to the configured path), so a plugin handles a native driver's
//! calls and a PBX's webhooks the same way, and needs `http:inbound` for both.
//!
//! This module and the drivers themselves are the host's one documented exception to "no
//! unsafe code": a driver is native code the operator chose to trust, running in the host's
//! process. What the host can do is keep the boundary narrow: copy every string during the
//! report, never block the driver's thread, never unwind across the boundary, and stop the
//! driver before unloading it.
#![allow(unsafe_code)]

use std::ffi::{CStr, CString, c_char, c_void};
use std::path::PathBuf;
use std::sync::Arc;

use serde::Deserialize;
use tessera_driver_abi::{
    AbiVersionFn, NameFn, StartFn, StopFn, TESSERA_CALL_ANSWERED, TESSERA_CALL_ENDED, TESSERA_CALL_RINGING,
    TESSERA_DRIVER_ABI_VERSION, TESSERA_LOG_ERROR, TESSERA_LOG_WARN, TesseraCallEvent, TesseraHost,
};
use tokio::sync::mpsc;

use super::Runtime;
use super::bindings::HttpRequest;
use crate::error::{Error, Result};
use crate::store::{Id, now_ms};

/// Reports waiting for the plugin; beyond this a burst is dropped (and logged) rather than
/// blocking the driver's thread.
const QUEUE: usize = 1_024;
/// Longest string of a report the host takes; longer ones are cut.
const MAX_FIELD: usize = 256;

/// One driver as the operator configures it.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct DriverConfig {
    /// A name for logs and the `x-tessera-driver` header.
    pub name: String,
    /// The shared library (`.so`).
    pub library: PathBuf,
    /// The driver's own configuration string (a device path, a socket, options).
    #[serde(default)]
    pub config: String,
    /// The organisation (short name) its calls belong to.
    pub org: String,
    /// The plugin that receives them.
    pub plugin: String,
    /// The path of the plugin's inbound request.
    #[serde(default = "default_path")]
    pub path: String,
}

fn default_path() -> String {
    "/calls".into()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DriversFile {
    #[serde(default)]
    driver: Vec<DriverConfig>,
}

/// Reads the operator's drivers file: `[[driver]]` tables.
pub fn read_config(path: &std::path::Path) -> Result<Vec<DriverConfig>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::Config(format!("cannot read the drivers file {}: {e}", path.display())))?;
    let file: DriversFile = toml::from_str(&text)
        .map_err(|e| Error::Config(format!("the drivers file {} is not valid: {e}", path.display())))?;
    for d in &file.driver {
        if d.name.trim().is_empty() || !d.path.starts_with('/') {
            return Err(Error::Config(format!(
                "driver {:?} in {}: needs a name, and a path starting with /",
                d.name,
                path.display()
            )));
        }
    }
    Ok(file.driver)
}

/// What a driver reported, copied out of its memory.
#[derive(Debug, Clone, PartialEq, Eq)]
struct CallReport {
    state: &'static str,
    call_id: String,
    caller: Option<String>,
    extension: Option<String>,
    at_ms: i64,
}

impl CallReport {
    /// The documented call-event JSON the plugin receives.
    fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "event": self.state,
            "call_id": self.call_id,
            "from": self.caller,
            "extension": self.extension,
            "direction": "inbound",
            "at": self.at_ms,
        })
    }
}

/// The host's side of one driver: where its reports go. Lives, at a fixed address, until the
/// driver has stopped.
struct Sink {
    name: String,
    /// Which configured driver this is, for the consumer to route its reports.
    index: usize,
    reports: mpsc::Sender<(usize, CallReport)>,
}

/// A running driver. Dropping it stops the driver, then unloads the library.
pub struct LoadedDriver {
    config: DriverConfig,
    stop: StopFn,
    handle: *mut c_void,
    // Declared before `library`: fields drop in order, and the sink must outlive the driver's
    // threads (stopped in `drop`) while the library must outlive everything of the driver.
    _sink: Box<Sink>,
    _library: libloading::Library,
}

// SAFETY: the handle is only passed back to the driver's own `stop`, which the ABI says may be
// called from any thread; nothing else touches it.
unsafe impl Send for LoadedDriver {}
// SAFETY: as above; a shared reference gives no access to the handle.
unsafe impl Sync for LoadedDriver {}

impl Drop for LoadedDriver {
    fn drop(&mut self) {
        // SAFETY: `handle` came from this library's `tessera_driver_start` and is stopped once.
        unsafe { (self.stop)(self.handle) };
        tracing::info!(driver = %self.config.name, "driver stopped");
    }
}

impl std::fmt::Debug for LoadedDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedDriver").field("config", &self.config).finish_non_exhaustive()
    }
}

/// Copies a driver's string, if any; invalid UTF-8 is replaced, overlong text cut.
///
/// # Safety
/// `ptr` is null or points to a NUL-terminated string valid for the duration of the call.
unsafe fn copy_str(ptr: *const c_char) -> Option<String> {
    if ptr.is_null() {
        return None;
    }
    // SAFETY: non-null and NUL-terminated, per the ABI and this function's contract.
    let text = unsafe { CStr::from_ptr(ptr) }.to_string_lossy();
    let text: String = text.trim().chars().take(MAX_FIELD).collect();
    (!text.is_empty()).then_some(text)
}

/// `report` of the ABI: copies the event and queues it, never blocking.
unsafe extern "C" fn report(context: *mut c_void, event: *const TesseraCallEvent) {
    // Nothing may unwind into the driver's C frames.
    let _ = std::panic::catch_unwind(|| {
        if context.is_null() || event.is_null() {
            return;
        }
        // SAFETY: `context` is the `Sink` this host handed the driver, alive until it stops.
        let sink = unsafe { &*(context as *const Sink) };
        // SAFETY: non-null, and valid during this call per the ABI. A driver built against a
        // smaller struct than ours would be another ABI version, refused at load.
        let event = unsafe { &*event };
        let state = match event.state {
            TESSERA_CALL_RINGING => "ringing",
            TESSERA_CALL_ANSWERED => "answered",
            TESSERA_CALL_ENDED => "ended",
            other => {
                tracing::warn!(driver = %sink.name, state = other, "driver reported an unknown call state; ignored");
                return;
            }
        };
        // SAFETY: the strings are NUL-terminated and valid during this call, per the ABI.
        let (call_id, caller, extension) =
            unsafe { (copy_str(event.call_id), copy_str(event.caller), copy_str(event.extension)) };
        let Some(call_id) = call_id else {
            tracing::warn!(driver = %sink.name, "driver reported a call without a call id; ignored");
            return;
        };
        let at_ms = if event.at_ms > 0 { event.at_ms } else { now_ms() };
        let report = CallReport { state, call_id, caller, extension, at_ms };
        if sink.reports.try_send((sink.index, report)).is_err() {
            tracing::warn!(driver = %sink.name, "driver reports arrive faster than they are handled; one was dropped");
        }
    });
}

/// `log` of the ABI.
unsafe extern "C" fn log(context: *mut c_void, level: i32, message: *const c_char) {
    let _ = std::panic::catch_unwind(|| {
        if context.is_null() {
            return;
        }
        // SAFETY: `context` is the host's `Sink`, alive until the driver stops.
        let sink = unsafe { &*(context as *const Sink) };
        // SAFETY: NUL-terminated and valid during this call, per the ABI.
        let Some(message) = (unsafe { copy_str(message) }) else { return };
        match level {
            TESSERA_LOG_ERROR => tracing::error!(driver = %sink.name, "{message}"),
            TESSERA_LOG_WARN => tracing::warn!(driver = %sink.name, "{message}"),
            _ => tracing::info!(driver = %sink.name, "{message}"),
        }
    });
}

/// Loads and starts one driver whose reports go to `reports`, tagged with `index`.
fn load(config: &DriverConfig, index: usize, reports: mpsc::Sender<(usize, CallReport)>) -> Result<LoadedDriver> {
    let what = |e: String| Error::Config(format!("driver {:?} ({}): {e}", config.name, config.library.display()));
    // SAFETY: loading runs the library's initialisers; the operator installed this library as
    // trusted native code, which is what a driver is.
    let library =
        unsafe { libloading::Library::new(&config.library) }.map_err(|e| what(format!("cannot load: {e}")))?;
    // SAFETY: the symbols are looked up with the types the ABI declares for them.
    let (abi, name, start, stop) = unsafe {
        let symbol = |e: libloading::Error| what(format!("is not a Tessera driver: {e}"));
        let abi = *library.get::<AbiVersionFn>(b"tessera_driver_abi_version\0").map_err(symbol)?;
        let name = *library.get::<NameFn>(b"tessera_driver_name\0").map_err(symbol)?;
        let start = *library.get::<StartFn>(b"tessera_driver_start\0").map_err(symbol)?;
        let stop = *library.get::<StopFn>(b"tessera_driver_stop\0").map_err(symbol)?;
        (abi, name, start, stop)
    };
    // SAFETY: a function of no arguments, per the ABI; checked before any other call.
    let version = unsafe { abi() };
    if version != TESSERA_DRIVER_ABI_VERSION {
        return Err(what(format!(
            "is built for driver ABI version {version}; this Tessera loads version {TESSERA_DRIVER_ABI_VERSION} only"
        )));
    }
    // SAFETY: the ABI says a static NUL-terminated string or null.
    let own_name = unsafe { copy_str(name()) }.unwrap_or_else(|| "unnamed".into());
    let sink = Box::new(Sink { name: config.name.clone(), index, reports });
    let host = TesseraHost {
        struct_size: u32::try_from(size_of::<TesseraHost>()).unwrap_or(u32::MAX),
        context: (&raw const *sink).cast_mut().cast::<c_void>(),
        report,
        log,
    };
    let config_text =
        CString::new(config.config.as_str()).map_err(|_| what("its config must not contain NUL bytes".into()))?;
    let mut error = vec![0u8; 512];
    // SAFETY: `host` and the strings are valid for the call; the `Sink` behind `context` is
    // kept until after `stop`; `error` is writable for its length.
    let handle = unsafe { start(&raw const host, config_text.as_ptr(), error.as_mut_ptr().cast(), error.len()) };
    if handle.is_null() {
        let reason = CStr::from_bytes_until_nul(&error).map(|c| c.to_string_lossy().into_owned()).unwrap_or_default();
        let reason = if reason.trim().is_empty() { "no reason given".to_owned() } else { reason };
        return Err(what(format!("did not start: {reason}")));
    }
    tracing::info!(driver = %config.name, library = %config.library.display(), reports_as = %own_name,
        org = %config.org, plugin = %config.plugin, "driver started");
    Ok(LoadedDriver { config: config.clone(), stop, handle, _sink: sink, _library: library })
}

/// Loads and starts the configured drivers and hands their reports to the plugins. A driver
/// that cannot be loaded stops the start with a message naming it. The returned task owns the
/// drivers: aborting it (the host shutting down) stops and unloads them.
pub(super) async fn spawn(runtime: Arc<Runtime>, configs: &[DriverConfig]) -> Result<tokio::task::JoinHandle<()>> {
    let (tx, mut rx) = mpsc::channel::<(usize, CallReport)>(QUEUE);
    let mut drivers = Vec::new();
    let mut routes = Vec::new();
    for (index, config) in configs.iter().enumerate() {
        let org = crate::org::find_by_slug(runtime.registry.store(), &config.org).await?.ok_or_else(|| {
            Error::Config(format!("driver {:?}: there is no organisation {:?}", config.name, config.org))
        })?;
        drivers.push(load(config, index, tx.clone())?);
        routes.push((org.id, config.clone()));
    }
    drop(tx);
    Ok(tokio::spawn(async move {
        // Owned here, so that stopping this task stops the drivers.
        let _drivers = drivers;
        while let Some((index, report)) = rx.recv().await {
            if let Some((org_id, config)) = routes.get(index) {
                deliver(&runtime, *org_id, config, &report).await;
            }
        }
    }))
}

/// Hands one report to the configured plugin as a `driver` request.
async fn deliver(runtime: &Runtime, org_id: Id, config: &DriverConfig, report: &CallReport) {
    let Some(active) =
        runtime.registry.active_in(org_id).into_iter().find(|a| a.loaded.manifest.plugin.id == config.plugin)
    else {
        tracing::warn!(driver = %config.name, plugin = %config.plugin, "a call was reported but the plugin is not enabled; dropped");
        return;
    };
    if !active.enabled.grants.iter().any(|g| g == "http:inbound") {
        tracing::warn!(driver = %config.name, plugin = %config.plugin,
            "a call was reported but the plugin was not granted http:inbound; dropped");
        return;
    }
    let request = HttpRequest {
        method: "POST".into(),
        path: config.path.clone(),
        query: String::new(),
        headers: vec![
            ("content-type".into(), "application/json".into()),
            ("x-tessera-driver".into(), config.name.clone()),
        ],
        body: report.to_json().to_string().into_bytes(),
        kind: "driver".into(),
    };
    match runtime.handle_http(&active, None, &super::invoke::Origin::background(), request).await {
        Ok((response, _)) if response.status < 300 => {}
        Ok((response, _)) => tracing::warn!(driver = %config.name, plugin = %config.plugin, status = response.status,
            body = %String::from_utf8_lossy(&response.body), "the plugin refused a driver's report"),
        Err(failure) => tracing::warn!(driver = %config.name, plugin = %config.plugin, error = %failure.message,
            "the plugin failed on a driver's report"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_drivers_file_names_library_org_and_plugin() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("drivers.toml");
        std::fs::write(
            &path,
            r#"
[[driver]]
name = "front-desk"
library = "/opt/tessera/libfront_desk.so"
config = "unix:/run/caller-id.sock"
org = "demo"
plugin = "call-popup"
"#,
        )
        .expect("write");
        let read = read_config(&path).expect("valid");
        assert_eq!(read.len(), 1);
        assert_eq!(read[0].path, "/calls", "the default path");
        assert_eq!(read[0].library, PathBuf::from("/opt/tessera/libfront_desk.so"));

        std::fs::write(&path, "[[driver]]\nname = \"x\"\nlibrary = \"/x.so\"\norg = \"demo\"\n").expect("write");
        let e = read_config(&path).expect_err("no plugin").to_string();
        assert!(e.contains("plugin"), "{e}");
        std::fs::write(
            &path,
            "[[driver]]\nname = \"x\"\nlibrary = \"/x.so\"\norg = \"d\"\nplugin = \"p\"\npath = \"calls\"\n",
        )
        .expect("write");
        assert!(read_config(&path).expect_err("relative path").to_string().contains("starting with /"));
        assert!(read_config(&dir.path().join("missing.toml")).is_err());
    }

    #[test]
    fn a_library_that_is_not_a_driver_is_refused_by_name() {
        let dir = tempfile::tempdir().expect("dir");
        let config = DriverConfig {
            name: "broken".into(),
            library: dir.path().join("libnothing.so"),
            config: String::new(),
            org: "demo".into(),
            plugin: "call-popup".into(),
            path: default_path(),
        };
        let (tx, _rx) = mpsc::channel(1);
        let e = load(&config, 0, tx).expect_err("no such library").to_string();
        assert!(e.contains("broken") && e.contains("cannot load"), "{e}");
    }

    #[test]
    fn a_report_becomes_the_documented_call_json() {
        let r = CallReport {
            state: "ringing",
            call_id: "c-1".into(),
            caller: Some("13812345678".into()),
            extension: None,
            at_ms: 5,
        };
        assert_eq!(
            r.to_json(),
            serde_json::json!({"event": "ringing", "call_id": "c-1", "from": "13812345678", "extension": null,
                "direction": "inbound", "at": 5})
        );
    }
}
