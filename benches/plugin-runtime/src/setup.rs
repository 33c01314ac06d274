//! The host the benchmarks call into: a migrated SQLite store in a temporary directory, one
//! organisation with one customer, and the runtime with the benchmark guest and the hostile
//! guests installed and enabled, as `tessera serve` sets them up.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use tessera_host::access::{Access, Action, DepartmentTree, Grants, Principal, Scope};
use tessera_host::runtime::registry::Active;
use tessera_host::runtime::{Limits, Runtime, RuntimeConfig, package};
use tessera_host::store::{Id, Store};

/// The plugins the benchmarks call, and what each is granted.
const PLUGINS: &[(&str, &[&str])] = &[("bench", &["customers:read"]), ("hostile-loop", &[]), ("hostile-memory", &[])];

/// The deadline of interactive calls in the deadline benchmark.
pub const LOOP_DEADLINE: Duration = Duration::from_millis(100);

pub struct Host {
    dir: PathBuf,
    pub store: Store,
    /// The runtime with the default limits.
    pub runtime: Arc<Runtime>,
    /// A runtime on the same store whose interactive deadline is [`LOOP_DEADLINE`].
    pub short_deadline: Arc<Runtime>,
    pub org_id: Id,
    /// A customer of the organisation.
    pub customer_id: Id,
    /// The access the benchmark guest's host calls are checked with when it acts on its own.
    pub plugin_access: Access,
}

fn runtime_config(limits: Limits) -> RuntimeConfig {
    // The hostile guests fail on every call; the breaker must not stop them mid-benchmark.
    RuntimeConfig {
        limits,
        breaker_threshold: u32::MAX,
        trust: tessera_host::runtime::trust::TrustConfig::developer(),
        ..RuntimeConfig::default()
    }
}

impl Host {
    pub async fn start(packages: &Path) -> Result<Host> {
        let dir = std::env::temp_dir().join(format!("tessera-plugin-bench-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let store = Store::connect(&tessera_host::store::sqlite_url_for_data_dir(&dir)).await?;
        store.migrate().await?;
        let hasher = tessera_host::auth::PasswordHasher::new();
        let first = tessera_host::org::bootstrap(
            &store,
            &hasher,
            "bench",
            "Benchmark",
            Some("benchmark admin passphrase".into()),
        )
        .await?
        .context("the new database already had an organisation")?;
        let org_id = first.org.id;

        let admin = tessera_host::org::users::credentials(&store, org_id, "admin").await?.context("no admin user")?;
        let admin_access = Access::load(&store, Principal { org_id, user_id: admin.id, department_id: None }).await?;
        let input = tessera_host::customers::NewCustomer { name: "基准测试客户".into(), ..Default::default() };
        let customer_id = tessera_host::customers::create(&store, &admin_access, &input).await?.id;

        let runtime = Runtime::new(store.clone(), runtime_config(Limits::default()));
        install(&runtime, packages, org_id).await?;
        let short_deadline = Runtime::new(
            store.clone(),
            runtime_config(Limits { interactive_deadline: LOOP_DEADLINE, ..Limits::default() }),
        );
        short_deadline.registry.refresh().await?;

        let bench = active(&runtime, org_id, "bench")?;
        let plugin_access = service_access(&bench);
        Ok(Host { dir, store, runtime, short_deadline, org_id, customer_id, plugin_access })
    }

    pub fn active(&self, plugin: &str) -> Result<Arc<Active>> {
        active(&self.runtime, self.org_id, plugin)
    }

    pub async fn close(self) {
        self.store.close().await;
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub fn active(runtime: &Runtime, org_id: Id, plugin: &str) -> Result<Arc<Active>> {
    runtime.registry.active(org_id, plugin).with_context(|| format!("{plugin} is not enabled"))
}

/// Installs and enables [`PLUGINS`] from the packages in `dir`.
async fn install(runtime: &Runtime, dir: &Path, org_id: Id) -> Result<()> {
    let entries = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read {} (run `cargo xtask build-plugins`)", dir.display()))?;
    let mut found = Vec::new();
    for entry in entries {
        let path = entry?.path();
        if path.extension().is_none_or(|e| e != "wasm") {
            continue;
        }
        let bytes = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
        // Packages of other plugins, some refused on purpose (the hostile ones), are skipped.
        let Ok(package) = package::read(bytes.clone()) else { continue };
        let id = package.manifest.plugin.id.clone();
        if PLUGINS.iter().any(|(wanted, _)| *wanted == id) {
            runtime
                .registry
                .install(bytes, "upload", None, None)
                .await
                .with_context(|| format!("cannot install {id}"))?;
            found.push(id);
        }
    }
    for (id, grants) in PLUGINS {
        if !found.iter().any(|f| f == id) {
            bail!("no package of {id} in {}; run `cargo xtask build-plugins`", dir.display());
        }
        let grants: Vec<String> = grants.iter().map(|g| (*g).to_owned()).collect();
        runtime
            .registry
            .enable(org_id, id, None, &grants, None)
            .await
            .with_context(|| format!("cannot enable {id}"))?;
    }
    Ok(())
}

/// The access of a plugin's service user, built as the runtime builds it for a call without a
/// signed-in user (`CallContext::access`): organisation-wide reading of what `customers:read`
/// covers.
fn service_access(active: &Active) -> Access {
    let mut grants = Grants::default();
    if active.enabled.grants.iter().any(|g| g == "customers:read") {
        for module in ["customers", "contacts", "activities"] {
            grants.add(module, Action::Read, Scope::All);
        }
    }
    let principal =
        Principal { org_id: active.enabled.org_id, user_id: active.enabled.service_user_id, department_id: None };
    Access::new(principal, grants, DepartmentTree::default())
}
