//! Which plugins are installed on this host and which version each organisation runs.
//!
//! The database holds the truth (`plugin_packages`, `org_plugins`); every node keeps a
//! snapshot of the enabled plugins, linked and ready to instantiate, behind an `ArcSwap`.
//! A change rebuilds the snapshot off to the side (compiling off the async executor) and
//! swaps it in one step: calls already running keep the `Arc` of the version they started
//! on, new calls get the new one, so nothing fails during an upgrade. Other nodes notice the
//! change through `plugin_epoch` and rebuild theirs.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use semver::{Version, VersionReq};
use serde::Serialize;
use serde_json::{Map, Value};
use sqlx::Row;
use utoipa::ToSchema;

use super::bindings::PluginPre;
use super::engine::PluginEngine;
use super::manifest::Manifest;
use super::package::Package;
use super::sandbox::PluginState;
use super::trust::Trust;
use crate::error::{Error, Result};
use crate::store::{Id, Store, now_ms};

/// A plugin version, compiled and linked.
pub struct Loaded {
    pub manifest: Arc<Manifest>,
    pub sha256: String,
    /// The publisher key that signed the package; none for an unsigned one (developer mode).
    pub key_id: Option<tessera_package::KeyId>,
    pub pre: PluginPre<PluginState>,
}

impl Loaded {
    pub fn id(&self) -> &str {
        &self.manifest.plugin.id
    }

    pub fn version(&self) -> &Version {
        &self.manifest.plugin.version
    }

    /// `id version`, as errors and logs name a plugin.
    pub fn label(&self) -> String {
        self.manifest.label()
    }
}

/// Whether an organisation runs a plugin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PluginStatus {
    Enabled,
    Disabled,
    /// Disabled by the circuit breaker after repeated failures.
    Tripped,
}

impl PluginStatus {
    fn parse(s: &str) -> PluginStatus {
        match s {
            "enabled" => PluginStatus::Enabled,
            "tripped" => PluginStatus::Tripped,
            _ => PluginStatus::Disabled,
        }
    }
}

/// One organisation's enablement of a plugin.
#[derive(Debug, Clone)]
pub struct Enabled {
    pub org_id: Id,
    pub plugin_id: String,
    pub version: Version,
    pub grants: Vec<String>,
    pub settings: Map<String, Value>,
    pub service_user_id: Id,
}

/// A plugin an organisation runs: the linked code and the organisation's grants.
pub struct Active {
    pub loaded: Arc<Loaded>,
    pub enabled: Arc<Enabled>,
}

type Snapshot = HashMap<(Id, String), Arc<Active>>;

/// The installed plugins and the enabled ones, ready to call.
pub struct Registry {
    store: Store,
    trust: Trust,
    engine: std::result::Result<&'static PluginEngine, String>,
    /// Linked code by package hash: a roll back or a re-install compiles nothing.
    compiled: Mutex<HashMap<String, Arc<Loaded>>>,
    active: ArcSwap<Snapshot>,
    /// The epoch the snapshot was built from.
    seen_epoch: Mutex<i64>,
    /// One rebuild at a time.
    rebuilding: tokio::sync::Mutex<()>,
}

/// A package as installed.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct InstalledVersion {
    pub plugin_id: String,
    pub version: String,
    pub sha256: String,
    pub api: String,
    pub size: i64,
    pub source: String,
    pub installed_at: i64,
}

/// An organisation's view of one plugin.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PluginInfo {
    pub id: String,
    /// The newest version this organisation can run.
    pub latest: String,
    pub versions: Vec<InstalledVersion>,
    #[schema(value_type = Object)]
    pub manifest: Value,
    /// None when the organisation never enabled it.
    pub status: Option<PluginStatus>,
    pub status_reason: Option<String>,
    pub version: Option<String>,
    pub previous_version: Option<String>,
    pub grants: Vec<String>,
    pub follow_latest: bool,
}

fn bad(field: &'static str, message: impl Into<String>) -> Error {
    Error::invalid(field, message)
}

impl Registry {
    pub fn new(store: Store, trust: Trust) -> Registry {
        Registry {
            store,
            trust,
            engine: super::engine::shared().map_err(|e| e.to_string()),
            compiled: Mutex::default(),
            active: ArcSwap::from_pointee(HashMap::new()),
            seen_epoch: Mutex::new(-1),
            rebuilding: tokio::sync::Mutex::new(()),
        }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// What this host trusts: every package read goes through it.
    pub fn trust(&self) -> &Trust {
        &self.trust
    }

    fn engine(&self) -> Result<&'static PluginEngine> {
        self.engine.as_ref().copied().map_err(|e| Error::Config(e.clone()))
    }

    /// The plugin an organisation runs, if it is enabled.
    pub fn active(&self, org_id: Id, plugin_id: &str) -> Option<Arc<Active>> {
        self.active.load().get(&(org_id, plugin_id.to_owned())).cloned()
    }

    /// Every enabled plugin of an organisation.
    pub fn active_in(&self, org_id: Id) -> Vec<Arc<Active>> {
        let snapshot = self.active.load();
        let mut out: Vec<Arc<Active>> =
            snapshot.iter().filter(|((o, _), _)| *o == org_id).map(|(_, a)| a.clone()).collect();
        out.sort_by(|a, b| a.loaded.id().cmp(b.loaded.id()));
        out
    }

    /// Every enabled plugin of every organisation.
    pub fn all_active(&self) -> Vec<Arc<Active>> {
        self.active.load().values().cloned().collect()
    }

    /// Compiles and links a package, or takes it from the cache by hash.
    async fn load(&self, package: &Package) -> Result<Arc<Loaded>> {
        if let Some(hit) = self.compiled.lock().map_err(|_| poisoned())?.get(&package.sha256) {
            return Ok(hit.clone());
        }
        let engine = self.engine()?;
        let label = format!("{} {}", package.manifest.plugin.id, package.manifest.plugin.version);
        let component = engine.compile(label.clone(), package.bytes.clone()).await?;
        let pre = engine.link(&label, &component)?;
        let loaded = Arc::new(Loaded {
            manifest: Arc::new(package.manifest.clone()),
            sha256: package.sha256.clone(),
            key_id: package.signed.as_ref().map(|s| s.key_id.clone()),
            pre,
        });
        self.compiled.lock().map_err(|_| poisoned())?.insert(package.sha256.clone(), loaded.clone());
        Ok(loaded)
    }

    /// Installs a package, a signed `.tpkg` or (developer mode) a bare component: checks it
    /// through [`Trust::open`], compiles and links it (so a package that cannot run is refused
    /// before it is stored), stores it, and moves the organisations that follow the latest
    /// version onto it. Installing the same package twice changes nothing.
    pub async fn install(
        &self,
        bytes: Vec<u8>,
        source: &str,
        org_id: Option<Id>,
        by: Option<Id>,
    ) -> Result<InstalledVersion> {
        let package = self.trust.open(bytes)?;
        let m = &package.manifest;
        let label = format!("{} {}", m.plugin.id, m.plugin.version);
        // What is stored is what every later load checks again: the signed package as it came.
        let stored = match &package.signed {
            Some(signer) => signer.tpkg.clone(),
            None => package.bytes.clone(),
        };
        self.load(&package).await?;
        let version = m.plugin.version.to_string();
        let existing: Option<(String, Option<Id>)> =
            sqlx::query("SELECT sha256, org_id FROM plugin_packages WHERE plugin_id = $1 AND version = $2")
                .bind(&m.plugin.id)
                .bind(&version)
                .fetch_optional(self.store.pool())
                .await?
                .map(|r| (r.get(0), r.get(1)));
        let now = now_ms();
        match existing {
            Some((sha, owner)) if sha == package.sha256 => {
                // The operator installing what an organisation uploaded makes it everyone's.
                if org_id.is_none() && owner.is_some() {
                    sqlx::query(
                        "UPDATE plugin_packages SET org_id = NULL, source = $3 WHERE plugin_id = $1 AND version = $2",
                    )
                    .bind(&m.plugin.id)
                    .bind(&version)
                    .bind(source)
                    .execute(self.store.pool())
                    .await?;
                }
            }
            Some(_) => {
                return Err(Error::Conflict(format!(
                    "{label} is already installed with different contents; give the new build a new version"
                )));
            }
            None => {
                let manifest_json = serde_json::to_string(m).map_err(|e| Error::Internal(e.to_string()))?;
                sqlx::query(
                    "INSERT INTO plugin_packages (plugin_id, version, sha256, api, manifest, package, size, source, org_id, \
                     installed_by, installed_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
                     ON CONFLICT (plugin_id, version) DO NOTHING",
                )
                .bind(&m.plugin.id)
                .bind(&version)
                .bind(&package.sha256)
                .bind(&m.plugin.api)
                .bind(manifest_json)
                .bind(stored)
                .bind(package.bytes.len() as i64)
                .bind(source)
                .bind(org_id)
                .bind(by)
                .bind(now)
                .execute(self.store.pool())
                .await?;
                tracing::info!(plugin = %label, source, "plugin installed");
            }
        }
        self.follow_latest(&m.plugin.id).await?;
        self.bump().await?;
        self.refresh().await?;
        Ok(InstalledVersion {
            plugin_id: m.plugin.id.clone(),
            version,
            sha256: package.sha256.clone(),
            api: m.plugin.api.clone(),
            size: package.bytes.len() as i64,
            source: source.to_owned(),
            installed_at: now,
        })
    }

    /// Moves every organisation that follows the latest version of a plugin onto the newest
    /// version it may run, when its grants cover what that version requests; otherwise its
    /// admins are told that the upgrade waits for them.
    async fn follow_latest(&self, plugin_id: &str) -> Result<()> {
        let rows = sqlx::query(
            "SELECT org_id, version, grants FROM org_plugins WHERE plugin_id = $1 AND follow_latest = 1 AND state = 'enabled'",
        )
        .bind(plugin_id)
        .fetch_all(self.store.pool())
        .await?;
        for row in rows {
            let org_id: Id = row.get(0);
            let current: String = row.get(1);
            let grants: Vec<String> = serde_json::from_str(&row.get::<String, _>(2)).unwrap_or_default();
            let Some(latest) = self.latest_version(org_id, plugin_id).await? else { continue };
            if Version::parse(&current).is_ok_and(|c| c >= latest) {
                continue;
            }
            let package = self.package(org_id, plugin_id, &latest).await?;
            // The admin has seen what the running version requests (and granted some of it);
            // a version that requests nothing more is taken up with the same grants, one that
            // requests more waits for the admin.
            let running = match Version::parse(&current) {
                Ok(v) => self.package(org_id, plugin_id, &v).await.ok().map(|p| p.manifest.plugin.capabilities),
                Err(_) => None,
            }
            .unwrap_or_else(|| grants.clone());
            let missing: Vec<&String> =
                package.manifest.plugin.capabilities.iter().filter(|c| !running.contains(c)).collect();
            if !missing.is_empty() {
                let label = format!("{plugin_id} {latest}");
                let list = missing.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ");
                super::alerts::tell_admins(
                    &self.store,
                    org_id,
                    &format!("upgrade-needs-grant:{plugin_id}:{latest}"),
                    crate::notifications::Text::new(
                        format!("插件 {label} 等待授权"),
                        format!("{label} waits for your grant"),
                    ),
                    crate::notifications::Text::new(
                        format!("新版本需要新的权限：{list}。请在插件管理中升级并授权。"),
                        format!(
                            "The new version requests {list}. Upgrade it from the plugin admin page to grant them."
                        ),
                    ),
                    plugin_id,
                )
                .await?;
                continue;
            }
            let grants: Vec<String> = grants.into_iter().filter(|g| package.manifest.requests(g)).collect();
            if let Err(e) = self.switch_version(org_id, plugin_id, &package, &grants, true).await {
                tracing::warn!(plugin = plugin_id, org_id, error = %e, "cannot move to the latest version");
            }
        }
        Ok(())
    }

    /// The newest installed version an organisation may run.
    pub async fn latest_version(&self, org_id: Id, plugin_id: &str) -> Result<Option<Version>> {
        let versions: Vec<String> = sqlx::query_scalar(
            "SELECT version FROM plugin_packages WHERE plugin_id = $1 AND (org_id IS NULL OR org_id = $2)",
        )
        .bind(plugin_id)
        .bind(org_id)
        .fetch_all(self.store.pool())
        .await?;
        Ok(versions.iter().filter_map(|v| Version::parse(v).ok()).max())
    }

    /// A stored package, read back and checked again.
    pub async fn package(&self, org_id: Id, plugin_id: &str, version: &Version) -> Result<Package> {
        let bytes: Option<Vec<u8>> = sqlx::query_scalar(
            "SELECT package FROM plugin_packages WHERE plugin_id = $1 AND version = $2 AND (org_id IS NULL OR org_id = $3)",
        )
        .bind(plugin_id)
        .bind(version.to_string())
        .bind(org_id)
        .fetch_optional(self.store.pool())
        .await?;
        let bytes = bytes.ok_or_else(|| bad("version", format!("{plugin_id} {version} is not installed")))?;
        self.trust.open(bytes)
    }

    /// Enables a plugin for an organisation with the capabilities its admin grants.
    pub async fn enable(
        &self,
        org_id: Id,
        plugin_id: &str,
        version: Option<&str>,
        grants: &[String],
        by: Option<Id>,
    ) -> Result<()> {
        let version = match version {
            Some(v) => Version::parse(v).map_err(|e| bad("version", format!("{v:?} is not a version: {e}")))?,
            None => self.latest_version(org_id, plugin_id).await?.ok_or(Error::NotFound("plugin"))?,
        };
        let package = self.package(org_id, plugin_id, &version).await?;
        let m = &package.manifest;
        for g in grants {
            if !m.requests(g) {
                return Err(bad(
                    "capabilities",
                    format!(
                        "{plugin_id} {version} does not request {g}; it requests {}",
                        m.plugin.capabilities.join(", ")
                    ),
                ));
            }
        }
        self.check_dependencies(org_id, m).await?;
        super::licenses::check(self, org_id, m).await?;
        self.load(&package).await?;
        super::entities::migrate(&self.store, plugin_id, &m.entities).await?;
        let service_user_id = self.service_user(org_id, m).await?;
        let now = now_ms();
        let grants_json = serde_json::to_string(grants).map_err(|e| Error::Internal(e.to_string()))?;
        let defaults = default_settings(m);
        let mut tx = self.store.begin_write().await?;
        let existing: Option<String> =
            sqlx::query_scalar("SELECT settings FROM org_plugins WHERE org_id = $1 AND plugin_id = $2")
                .bind(org_id)
                .bind(plugin_id)
                .fetch_optional(&mut *tx)
                .await?;
        let cursor: Option<Id> = sqlx::query_scalar("SELECT MAX(id) FROM outbox").fetch_one(&mut *tx).await?;
        match existing {
            Some(_) => {
                sqlx::query(
                    "UPDATE org_plugins SET version = $3, state = 'enabled', state_reason = NULL, grants = $4, \
                     follow_latest = 1, updated_at = $5 WHERE org_id = $1 AND plugin_id = $2",
                )
                .bind(org_id)
                .bind(plugin_id)
                .bind(version.to_string())
                .bind(&grants_json)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
            None => {
                sqlx::query(
                    "INSERT INTO org_plugins (org_id, plugin_id, version, state, grants, settings, follow_latest, \
                     service_user_id, event_cursor, enabled_at, updated_at) \
                     VALUES ($1, $2, $3, 'enabled', $4, $5, 1, $6, $7, $8, $8)",
                )
                .bind(org_id)
                .bind(plugin_id)
                .bind(version.to_string())
                .bind(&grants_json)
                .bind(Value::Object(defaults).to_string())
                .bind(service_user_id)
                .bind(cursor.unwrap_or(0))
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
        }
        super::jobs::register(&mut tx, org_id, m, grants, now).await?;
        let actor = by.unwrap_or(service_user_id);
        crate::workflow::definitions::ensure_for_plugin(&mut tx, org_id, actor, plugin_id, &m.approvals).await?;
        crate::audit::AuditEntry::new(org_id, by, "plugin.enable")
            .detail(serde_json::json!({ "plugin": plugin_id, "version": version.to_string(), "grants": grants }))
            .record(&mut *tx)
            .await?;
        tx.commit().await?;
        tracing::info!(plugin = %format!("{plugin_id} {version}"), org_id, "plugin enabled");
        self.bump().await?;
        self.refresh().await
    }

    /// Every dependency of the manifest must be enabled in the organisation at a version its
    /// range admits.
    async fn check_dependencies(&self, org_id: Id, m: &Manifest) -> Result<()> {
        for (dep, range) in &m.dependencies {
            let req = VersionReq::parse(range).map_err(|e| bad("dependencies", e.to_string()))?;
            let row: Option<(String, String)> =
                sqlx::query("SELECT version, state FROM org_plugins WHERE org_id = $1 AND plugin_id = $2")
                    .bind(org_id)
                    .bind(dep)
                    .fetch_optional(self.store.pool())
                    .await?
                    .map(|r| (r.get(0), r.get(1)));
            let label = format!("{} {}", m.plugin.id, m.plugin.version);
            match row {
                Some((v, state)) if state == "enabled" && Version::parse(&v).is_ok_and(|v| req.matches(&v)) => {}
                Some((v, state)) if state == "enabled" => {
                    return Err(Error::Conflict(format!(
                        "{label} needs {dep} {range}, and this organisation runs {dep} {v}"
                    )));
                }
                _ => {
                    return Err(Error::Conflict(format!("{label} needs {dep} {range}; enable {dep} first")));
                }
            }
        }
        Ok(())
    }

    /// The user a plugin acts as in an organisation when no signed-in user is behind a call:
    /// a user that cannot sign in, named after the plugin.
    async fn service_user(&self, org_id: Id, m: &Manifest) -> Result<Id> {
        let username = format!("plugin.{}", m.plugin.id);
        let existing: Option<Id> = sqlx::query_scalar("SELECT id FROM users WHERE org_id = $1 AND username = $2")
            .bind(org_id)
            .bind(&username)
            .fetch_optional(self.store.pool())
            .await?;
        if let Some(id) = existing {
            return Ok(id);
        }
        let now = now_ms();
        sqlx::query(
            "INSERT INTO users (org_id, username, display_name, password_hash, locale, active, password_changed_at, \
             created_at, updated_at) VALUES ($1, $2, $3, '!', 'zh-CN', 0, $4, $4, $4) ON CONFLICT (org_id, username) DO NOTHING",
        )
        .bind(org_id)
        .bind(&username)
        .bind(format!("{} / {}", m.plugin.name.zh, m.plugin.name.en))
        .bind(now)
        .execute(self.store.pool())
        .await?;
        self.store.auth_changed();
        sqlx::query_scalar("SELECT id FROM users WHERE org_id = $1 AND username = $2")
            .bind(org_id)
            .bind(&username)
            .fetch_one(self.store.pool())
            .await
            .map_err(Into::into)
    }

    /// Moves an organisation to another installed version.
    async fn switch_version(
        &self,
        org_id: Id,
        plugin_id: &str,
        package: &Package,
        grants: &[String],
        follow_latest: bool,
    ) -> Result<()> {
        let m = &package.manifest;
        self.check_dependencies(org_id, m).await?;
        super::licenses::check(self, org_id, m).await?;
        self.load(package).await?;
        super::entities::migrate(&self.store, plugin_id, &m.entities).await?;
        let now = now_ms();
        let mut tx = self.store.begin_write().await?;
        let current: Option<String> =
            sqlx::query_scalar("SELECT version FROM org_plugins WHERE org_id = $1 AND plugin_id = $2")
                .bind(org_id)
                .bind(plugin_id)
                .fetch_optional(&mut *tx)
                .await?;
        let current = current.ok_or(Error::NotFound("enabled plugin"))?;
        if current == m.plugin.version.to_string() {
            tx.rollback().await?;
            return Ok(());
        }
        sqlx::query(
            "UPDATE org_plugins SET version = $3, previous_version = $4, follow_latest = $5, updated_at = $6 \
             WHERE org_id = $1 AND plugin_id = $2",
        )
        .bind(org_id)
        .bind(plugin_id)
        .bind(m.plugin.version.to_string())
        .bind(&current)
        .bind(i64::from(follow_latest))
        .bind(now)
        .execute(&mut *tx)
        .await?;
        super::jobs::register(&mut tx, org_id, m, grants, now).await?;
        if !m.approvals.is_empty() {
            let service_user_id: Id =
                sqlx::query_scalar("SELECT service_user_id FROM org_plugins WHERE org_id = $1 AND plugin_id = $2")
                    .bind(org_id)
                    .bind(plugin_id)
                    .fetch_one(&mut *tx)
                    .await?;
            crate::workflow::definitions::ensure_for_plugin(&mut tx, org_id, service_user_id, plugin_id, &m.approvals)
                .await?;
        }
        tx.commit().await?;
        tracing::info!(plugin = plugin_id, from = %current, to = %m.plugin.version, org_id, "plugin version switched");
        Ok(())
    }

    /// Upgrades to a version (default: the newest), optionally granting more capabilities.
    pub async fn upgrade(
        &self,
        org_id: Id,
        plugin_id: &str,
        version: Option<&str>,
        grants: Option<&[String]>,
    ) -> Result<()> {
        let row = self.org_row(org_id, plugin_id).await?;
        let target = match version {
            Some(v) => Version::parse(v).map_err(|e| bad("version", format!("{v:?}: {e}")))?,
            None => self.latest_version(org_id, plugin_id).await?.ok_or(Error::NotFound("plugin"))?,
        };
        let package = self.package(org_id, plugin_id, &target).await?;
        let grants = grants.map(<[String]>::to_vec).unwrap_or(row.grants);
        for g in &grants {
            if !package.manifest.requests(g) {
                return Err(bad("capabilities", format!("{plugin_id} {target} does not request {g}")));
            }
        }
        let grants_json = serde_json::to_string(&grants).map_err(|e| Error::Internal(e.to_string()))?;
        sqlx::query("UPDATE org_plugins SET grants = $3 WHERE org_id = $1 AND plugin_id = $2")
            .bind(org_id)
            .bind(plugin_id)
            .bind(grants_json)
            .execute(self.store.pool())
            .await?;
        self.switch_version(org_id, plugin_id, &package, &grants, version.is_none()).await?;
        self.bump().await?;
        self.refresh().await
    }

    /// Goes back to the version before the last upgrade (or a named one) and stops following
    /// the latest version, so a package dropped in later does not undo the roll back.
    pub async fn rollback(&self, org_id: Id, plugin_id: &str, version: Option<&str>) -> Result<()> {
        let row = self.org_row(org_id, plugin_id).await?;
        let target = match version.map(str::to_owned).or(row.previous_version) {
            Some(v) => Version::parse(&v).map_err(|e| bad("version", format!("{v:?}: {e}")))?,
            None => return Err(Error::Conflict(format!("{plugin_id} has no earlier version to roll back to"))),
        };
        let package = self.package(org_id, plugin_id, &target).await?;
        let dropped: Vec<&String> = row.grants.iter().filter(|g| !package.manifest.requests(g)).collect();
        let grants: Vec<String> = row.grants.iter().filter(|g| !dropped.contains(g)).cloned().collect();
        self.switch_version(org_id, plugin_id, &package, &grants, false).await?;
        self.bump().await?;
        self.refresh().await
    }

    /// Stops running a plugin for an organisation; its records and settings stay.
    pub async fn disable(&self, org_id: Id, plugin_id: &str, reason: Option<&str>, tripped: bool) -> Result<()> {
        let state = if tripped { "tripped" } else { "disabled" };
        let done = sqlx::query(
            "UPDATE org_plugins SET state = $3, state_reason = $4, updated_at = $5 WHERE org_id = $1 AND plugin_id = $2",
        )
        .bind(org_id)
        .bind(plugin_id)
        .bind(state)
        .bind(reason)
        .bind(now_ms())
        .execute(self.store.pool())
        .await?;
        if done.rows_affected() == 0 {
            return Err(Error::NotFound("enabled plugin"));
        }
        self.bump().await?;
        self.refresh().await
    }

    /// Removes a plugin from an organisation, keeping its records for a later enable or
    /// deleting them.
    pub async fn uninstall(&self, org_id: Id, plugin_id: &str, drop_data: bool) -> Result<()> {
        self.org_row(org_id, plugin_id).await?;
        let mut tx = self.store.begin_write().await?;
        sqlx::query("DELETE FROM org_plugins WHERE org_id = $1 AND plugin_id = $2")
            .bind(org_id)
            .bind(plugin_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM plugin_jobs WHERE org_id = $1 AND plugin_id = $2")
            .bind(org_id)
            .bind(plugin_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        if drop_data {
            super::entities::delete_org_data(&self.store, plugin_id, org_id).await?;
        }
        self.bump().await?;
        self.refresh().await
    }

    /// Stores an organisation's settings of a plugin, checked against the manifest's form.
    pub async fn set_settings(
        &self,
        org_id: Id,
        plugin_id: &str,
        values: &Map<String, Value>,
    ) -> Result<Map<String, Value>> {
        let active = self.active(org_id, plugin_id);
        let manifest = match &active {
            Some(a) => a.loaded.manifest.clone(),
            None => {
                let row = self.org_row(org_id, plugin_id).await?;
                let v = Version::parse(&row.version).map_err(|e| Error::Internal(e.to_string()))?;
                Arc::new(self.package(org_id, plugin_id, &v).await?.manifest)
            }
        };
        let mut current = self.org_row(org_id, plugin_id).await?.settings;
        for (key, value) in values {
            let Some(setting) = manifest.settings.iter().find(|s| &s.name == key) else {
                return Err(bad("settings", format!("{plugin_id} has no setting {key:?}")));
            };
            check_setting(setting, value)?;
            current.insert(key.clone(), value.clone());
        }
        for setting in manifest.settings.iter().filter(|s| s.required) {
            if current.get(&setting.name).is_none_or(Value::is_null) {
                return Err(bad("settings", format!("{} is required", setting.name)));
            }
        }
        self.write_settings(org_id, plugin_id, &current).await?;
        Ok(current)
    }

    /// Writes settings as they are (a plugin storing a value of its own goes through here).
    pub async fn write_settings(&self, org_id: Id, plugin_id: &str, settings: &Map<String, Value>) -> Result<()> {
        sqlx::query("UPDATE org_plugins SET settings = $3, updated_at = $4 WHERE org_id = $1 AND plugin_id = $2")
            .bind(org_id)
            .bind(plugin_id)
            .bind(Value::Object(settings.clone()).to_string())
            .bind(now_ms())
            .execute(self.store.pool())
            .await?;
        self.bump().await?;
        self.refresh().await
    }

    async fn org_row(&self, org_id: Id, plugin_id: &str) -> Result<OrgRow> {
        let row = sqlx::query(
            "SELECT version, previous_version, state, state_reason, grants, settings, follow_latest \
             FROM org_plugins WHERE org_id = $1 AND plugin_id = $2",
        )
        .bind(org_id)
        .bind(plugin_id)
        .fetch_optional(self.store.pool())
        .await?
        .ok_or(Error::NotFound("enabled plugin"))?;
        Ok(OrgRow {
            version: row.get(0),
            previous_version: row.get(1),
            status: PluginStatus::parse(&row.get::<String, _>(2)),
            status_reason: row.get(3),
            grants: serde_json::from_str(&row.get::<String, _>(4)).unwrap_or_default(),
            settings: serde_json::from_str(&row.get::<String, _>(5)).unwrap_or_default(),
            follow_latest: row.get::<i64, _>(6) != 0,
        })
    }

    /// The plugins an organisation can see: installed for everyone or uploaded by it, with
    /// its status of each.
    pub async fn list(&self, org_id: Id) -> Result<Vec<PluginInfo>> {
        let rows = sqlx::query(
            "SELECT plugin_id, version, sha256, api, size, source, installed_at, manifest FROM plugin_packages \
             WHERE org_id IS NULL OR org_id = $1",
        )
        .bind(org_id)
        .fetch_all(self.store.pool())
        .await?;
        let mut by_id: BTreeMap<String, Vec<(InstalledVersion, String)>> = BTreeMap::new();
        for r in rows {
            let v = InstalledVersion {
                plugin_id: r.get(0),
                version: r.get(1),
                sha256: r.get(2),
                api: r.get(3),
                size: r.get(4),
                source: r.get(5),
                installed_at: r.get(6),
            };
            by_id.entry(v.plugin_id.clone()).or_default().push((v, r.get(7)));
        }
        let mut out = Vec::new();
        for (id, mut versions) in by_id {
            versions.sort_by_key(|(v, _)| Version::parse(&v.version).ok());
            let Some((latest, manifest)) = versions.last().cloned() else { continue };
            let org = self.org_row(org_id, &id).await.ok();
            out.push(PluginInfo {
                id,
                latest: latest.version.clone(),
                manifest: serde_json::from_str(&manifest).unwrap_or(Value::Null),
                status: org.as_ref().map(|o| o.status),
                status_reason: org.as_ref().and_then(|o| o.status_reason.clone()),
                version: org.as_ref().map(|o| o.version.clone()),
                previous_version: org.as_ref().and_then(|o| o.previous_version.clone()),
                grants: org.as_ref().map(|o| o.grants.clone()).unwrap_or_default(),
                follow_latest: org.as_ref().is_some_and(|o| o.follow_latest),
                versions: versions.into_iter().rev().map(|(v, _)| v).collect(),
            });
        }
        Ok(out)
    }

    /// One plugin as an organisation sees it.
    pub async fn info(&self, org_id: Id, plugin_id: &str) -> Result<PluginInfo> {
        self.list(org_id).await?.into_iter().find(|p| p.id == plugin_id).ok_or(Error::NotFound("plugin"))
    }

    /// Tells every node that the plugins changed and rebuilds this node's snapshot.
    pub async fn reload(&self) -> Result<()> {
        self.bump().await?;
        self.refresh().await
    }

    async fn bump(&self) -> Result<()> {
        sqlx::query("UPDATE plugin_epoch SET epoch = epoch + 1 WHERE id = 1").execute(self.store.pool()).await?;
        Ok(())
    }

    /// Rebuilds the snapshot of enabled plugins if the database changed since the last one.
    pub async fn follow(&self) -> Result<()> {
        let epoch: i64 =
            sqlx::query_scalar("SELECT epoch FROM plugin_epoch WHERE id = 1").fetch_one(self.store.pool()).await?;
        if *self.seen_epoch.lock().map_err(|_| poisoned())? == epoch {
            return Ok(());
        }
        self.refresh().await
    }

    /// Rebuilds the snapshot of enabled plugins from the database and swaps it in.
    pub async fn refresh(&self) -> Result<()> {
        let _one = self.rebuilding.lock().await;
        let epoch: i64 =
            sqlx::query_scalar("SELECT epoch FROM plugin_epoch WHERE id = 1").fetch_one(self.store.pool()).await?;
        let rows = sqlx::query(
            "SELECT o.org_id, o.plugin_id, o.version, o.grants, o.settings, o.service_user_id, p.sha256 \
             FROM org_plugins o JOIN plugin_packages p ON p.plugin_id = o.plugin_id AND p.version = o.version \
             WHERE o.state = 'enabled'",
        )
        .fetch_all(self.store.pool())
        .await?;
        let mut next: Snapshot = HashMap::new();
        for row in rows {
            let org_id: Id = row.get(0);
            let plugin_id: String = row.get(1);
            let version: String = row.get(2);
            let sha: String = row.get(6);
            let cached = self.compiled.lock().map_err(|_| poisoned())?.get(&sha).cloned();
            let loaded = match cached {
                Some(l) => l,
                None => {
                    let v = Version::parse(&version).map_err(|e| Error::Internal(e.to_string()))?;
                    match self.package(org_id, &plugin_id, &v).await {
                        Ok(p) => match self.load(&p).await {
                            Ok(l) => l,
                            Err(e) => {
                                tracing::error!(plugin = %plugin_id, %version, error = %e, "cannot load an enabled plugin");
                                continue;
                            }
                        },
                        Err(e) => {
                            tracing::error!(plugin = %plugin_id, %version, error = %e, "cannot read an enabled plugin");
                            continue;
                        }
                    }
                }
            };
            if let Some(refusal) =
                self.trust.revoked(loaded.id(), loaded.version(), &loaded.sha256, loaded.key_id.as_ref())
            {
                tracing::error!(plugin = %loaded.label(), org_id, code = refusal.code(), error = %refusal, "not loading a revoked plugin");
                continue;
            }
            if let Err(e) = super::licenses::check_load(self, org_id, &loaded.manifest).await {
                tracing::error!(plugin = %loaded.label(), org_id, error = %e, "not loading a plugin without a valid license");
                continue;
            }
            let enabled = Enabled {
                org_id,
                plugin_id: plugin_id.clone(),
                version: loaded.version().clone(),
                grants: serde_json::from_str(&row.get::<String, _>(3)).unwrap_or_default(),
                settings: serde_json::from_str(&row.get::<String, _>(4)).unwrap_or_default(),
                service_user_id: row.get(5),
            };
            next.insert((org_id, plugin_id), Arc::new(Active { loaded, enabled: Arc::new(enabled) }));
        }
        self.active.store(Arc::new(next));
        *self.seen_epoch.lock().map_err(|_| poisoned())? = epoch;
        Ok(())
    }
}

struct OrgRow {
    version: String,
    previous_version: Option<String>,
    status: PluginStatus,
    status_reason: Option<String>,
    grants: Vec<String>,
    settings: Map<String, Value>,
    follow_latest: bool,
}

fn poisoned() -> Error {
    Error::Internal("the plugin registry's lock was poisoned".into())
}

/// The manifest's defaults, as the settings a new enablement starts with.
fn default_settings(m: &Manifest) -> Map<String, Value> {
    m.settings.iter().filter_map(|s| s.default.clone().map(|d| (s.name.clone(), d))).collect()
}

pub(crate) fn check_setting(setting: &super::manifest::Setting, value: &Value) -> Result<()> {
    let ok = value.is_null()
        || match setting.kind.as_str() {
            "text" | "secret" => value.is_string(),
            "number" => value.is_number(),
            "bool" => value.is_boolean(),
            "user" => value.is_i64(),
            "select" => value.as_str().is_some_and(|v| setting.options.iter().any(|o| o == v)),
            _ => false,
        };
    if ok { Ok(()) } else { Err(bad("settings", format!("{} must be a {} value", setting.name, setting.kind))) }
}
