//! The plugin runtime: plugin packages and their manifests, the wasmtime engine that runs
//! them in sandboxes, the capabilities granted to them, the tables of their records, and
//! the tasks that feed them events and run their jobs.
//!
//! A call goes: [`registry::Registry::active`] finds the version an organisation runs →
//! [`invoke`] makes a fresh store under limits and instantiates the linked code → the
//! plugin calls back into the host through the capability modules in [`capabilities`],
//! each checked by the granter in [`sandbox::CallContext::require`].

pub mod alerts;
pub mod bindings;
pub mod capabilities;
pub mod drivers;
pub mod engine;
pub mod entities;
pub mod files;
pub mod grams;
pub mod invoke;
pub mod jobs;
pub mod licenses;
pub mod manifest;
pub mod package;
pub mod pump;
pub mod registry;
pub mod routes;
pub mod sandbox;
pub mod trust;
pub mod watch;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

pub use invoke::{CallFailure, CallStats, FailureKind};
pub use registry::Registry;
pub use sandbox::Limits;

use crate::store::{Id, Store};

/// How the runtime is set up.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    pub limits: Limits,
    /// The directory watched for packages (`*.tpkg`, and `*.wasm` in developer mode); none
    /// watches nothing.
    pub plugin_dir: Option<PathBuf>,
    /// Failures in a row that stop a plugin for an organisation.
    pub breaker_threshold: u32,
    /// How often the node checks the database for plugin changes made by other nodes.
    pub follow_every: Duration,
    /// How often the node looks for due plugin jobs and events.
    pub pump_every: Duration,
    /// Delays between redeliveries of an event a plugin failed to handle; after the last one
    /// the event is set aside in `plugin_event_failures`.
    pub event_retry_delays: Vec<Duration>,
    /// Hosts on the operator's own network (names or addresses) that plugins' outbound HTTP may
    /// reach over plain `http://` and at loopback, private or link-local addresses, e.g. an ERP
    /// in the office. A plugin still needs the host in its own `http-allow`.
    pub local_hosts: Vec<String>,
    /// Native device drivers to load at start, whose reports go to plugins.
    pub drivers: Vec<drivers::DriverConfig>,
    /// The marketplace keys, developer mode and revocation polling (see [`trust`]).
    pub trust: trust::TrustConfig,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            limits: Limits::default(),
            plugin_dir: None,
            breaker_threshold: 5,
            follow_every: Duration::from_millis(500),
            pump_every: Duration::from_millis(200),
            event_retry_delays: [5, 30, 120, 600, 1800].into_iter().map(Duration::from_secs).collect(),
            local_hosts: Vec::new(),
            drivers: Vec::new(),
            trust: trust::TrustConfig::default(),
        }
    }
}

/// The runtime of one host node.
pub struct Runtime {
    pub registry: Registry,
    pub limits: Arc<Limits>,
    pub config: RuntimeConfig,
    http: reqwest::Client,
    breaker: Breaker,
    weak: Weak<Runtime>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime").field("config", &self.config).finish_non_exhaustive()
    }
}

impl Runtime {
    pub fn new(store: Store, config: RuntimeConfig) -> Arc<Runtime> {
        let http = capabilities::http::outbound_client(&config.local_hosts);
        Arc::new_cyclic(|weak| Runtime {
            registry: Registry::new(store, trust::Trust::new(config.trust.clone())),
            limits: Arc::new(config.limits.clone()),
            breaker: Breaker::new(config.breaker_threshold),
            config,
            http,
            weak: weak.clone(),
        })
    }

    pub fn store(&self) -> &Store {
        self.registry.store()
    }

    /// Loads the enabled plugins and starts the node's plugin tasks: following changes made
    /// by other nodes, feeding events, running jobs and watching the plugin directory.
    pub async fn start(self: &Arc<Self>) -> crate::Result<Vec<tokio::task::JoinHandle<()>>> {
        self.registry.trust().restore(self.store()).await?;
        self.registry.refresh().await?;
        let mut tasks = vec![
            pump::spawn_follow(self.clone()),
            pump::spawn_events(self.clone()),
            pump::spawn_jobs(self.clone()),
            licenses::spawn_sweep(self.clone()),
        ];
        if let Some(url) = &self.config.trust.marketplace_url {
            tasks.push(trust::spawn_revocation_poll(self.clone(), url.clone()));
        }
        if let Some(dir) = &self.config.plugin_dir {
            tasks.push(watch::spawn(self.clone(), dir.clone()).await?);
        }
        if !self.config.drivers.is_empty() {
            tasks.push(drivers::spawn(self.clone(), &self.config.drivers).await?);
        }
        Ok(tasks)
    }
}

impl Runtime {
    /// Enables every installed plugin for an organisation with every capability it requests,
    /// in an order that puts dependencies first (the demo organisation's setup).
    pub async fn enable_all(&self, org_id: Id) -> crate::Result<()> {
        let mut pending = self.registry.list(org_id).await?;
        while !pending.is_empty() {
            let before = pending.len();
            let mut left = Vec::new();
            for info in pending {
                let capabilities: Vec<String> = info.manifest["plugin"]["capabilities"]
                    .as_array()
                    .map(|a| a.iter().filter_map(|c| c.as_str().map(str::to_owned)).collect())
                    .unwrap_or_default();
                match self.registry.enable(org_id, &info.id, None, &capabilities, None).await {
                    Ok(()) => {}
                    Err(crate::Error::Conflict(_)) => left.push(info),
                    Err(e) => tracing::warn!(plugin = %info.id, error = %e, "cannot enable a bundled plugin"),
                }
            }
            if left.len() == before {
                for info in &left {
                    tracing::warn!(plugin = %info.id, "not enabled: its dependencies are missing");
                }
                break;
            }
            pending = left;
        }
        Ok(())
    }
}

/// Counts failures in a row per organisation and plugin; at the threshold the plugin is
/// disabled for that organisation and its admins are told.
struct Breaker {
    threshold: u32,
    failures: Mutex<HashMap<(Id, String), (u32, Instant)>>,
}

impl Breaker {
    fn new(threshold: u32) -> Self {
        Breaker { threshold: threshold.max(1), failures: Mutex::default() }
    }

    async fn record(&self, runtime: &Runtime, active: &registry::Active, failure: Option<&CallFailure>) {
        let key = (active.enabled.org_id, active.enabled.plugin_id.clone());
        let tripped = {
            let Ok(mut failures) = self.failures.lock() else { return };
            match failure {
                Some(f) if f.counts() => {
                    let entry = failures.entry(key.clone()).or_insert((0, Instant::now()));
                    entry.0 += 1;
                    if entry.0 >= self.threshold {
                        failures.remove(&key);
                        true
                    } else {
                        false
                    }
                }
                Some(_) => false,
                None => {
                    failures.remove(&key);
                    false
                }
            }
        };
        if !tripped {
            return;
        }
        let label = active.loaded.label();
        let last = failure.map(|f| f.message.clone()).unwrap_or_default();
        let reason = format!("stopped after {} failures in a row; the last: {last}", self.threshold);
        tracing::error!(plugin = %label, org_id = key.0, "{reason}");
        if let Err(e) = runtime.registry.disable(key.0, &key.1, Some(&reason), true).await {
            tracing::error!(plugin = %label, error = %e, "cannot stop a failing plugin");
            return;
        }
        let notified = alerts::tell_admins(
            runtime.store(),
            key.0,
            &format!("tripped:{}:{}", key.1, crate::store::now_ms()),
            crate::notifications::Text::new(format!("插件 {label} 已被停用"), format!("{label} was stopped")),
            crate::notifications::Text::new(
                format!("连续 {} 次失败后已自动停用。最后一次：{last}", self.threshold),
                format!("It failed {} times in a row and was disabled. The last failure: {last}", self.threshold),
            ),
            &key.1,
        )
        .await;
        if let Err(e) = notified {
            tracing::warn!(error = %e, "cannot tell the admins about a stopped plugin");
        }
    }
}
