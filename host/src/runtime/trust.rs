//! What this host trusts: the marketplace keys it was started with (its pinned
//! [`TrustRoot`]), whether it is a developer's host that also runs unsigned packages, and the
//! last revocation list it accepted. Every package goes through [`Trust::open`] whenever it
//! is read, at install and at every load (start, enable, upgrade, roll back), so a package
//! revoked or a key withdrawn since it was installed stops loading.
//!
//! The revocation list is fetched from the marketplace by [`spawn_revocation_poll`],
//! verified, never replaced by a lower-numbered one, and kept in `marketplace_revocations` so
//! that a restart does not forget it.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use semver::Version;
use tessera_package::{KeyId, Refusal, RevocationList, Tpkg, TrustRoot};

use super::Runtime;
use super::package::{self, Package};
use crate::error::{Error, Result};
use crate::notifications::Text;
use crate::store::{Store, now_ms};

/// How the host decides what it runs.
#[derive(Debug, Clone)]
pub struct TrustConfig {
    /// The marketplace keys packages, licenses and revocation lists must be signed by (their
    /// publisher certificates, for packages). None: only a developer host runs plugins.
    pub root: Option<TrustRoot>,
    /// Also run unsigned packages (bare `.wasm`): a developer's own host, never production.
    pub developer_mode: bool,
    /// The marketplace the revocation list is fetched from.
    pub marketplace_url: Option<String>,
    /// How often the revocation list is fetched.
    pub revocation_poll: Duration,
}

impl Default for TrustConfig {
    fn default() -> Self {
        TrustConfig {
            root: None,
            developer_mode: false,
            marketplace_url: None,
            revocation_poll: Duration::from_secs(300),
        }
    }
}

impl TrustConfig {
    /// A developer's host: unsigned packages load (what the test suites and the demo use).
    pub fn developer() -> TrustConfig {
        TrustConfig { developer_mode: true, ..TrustConfig::default() }
    }
}

/// Who signed a stored package: kept with it, so every load checks it again.
#[derive(Debug, Clone)]
pub struct Signer {
    /// The `.tpkg` as it was installed.
    pub tpkg: Vec<u8>,
    /// The publisher the marketplace's certificate names.
    pub publisher: String,
    /// The publisher key that signed.
    pub key_id: KeyId,
}

/// The trust configuration and the revocation list in force.
#[derive(Debug)]
pub struct Trust {
    config: TrustConfig,
    revocations: RwLock<Option<RevocationList>>,
}

/// A refusal of the trust layer, as the API and the logs give it: what, why, and its code.
pub fn refused(label: &str, refusal: &Refusal) -> Error {
    Error::invalid("package", format!("{label} refused: {refusal} [{}]", refusal.code()))
}

impl Trust {
    pub fn new(config: TrustConfig) -> Trust {
        Trust { config, revocations: RwLock::new(None) }
    }

    pub fn config(&self) -> &TrustConfig {
        &self.config
    }

    pub fn developer_mode(&self) -> bool {
        self.config.developer_mode
    }

    /// The pinned marketplace keys, or a refusal naming how to give them.
    pub fn root(&self) -> Result<&TrustRoot> {
        self.config.root.as_ref().ok_or_else(|| {
            Error::invalid(
                "package",
                "this host trusts no marketplace key; start it with --marketplace-key (TESSERA_MARKETPLACE_KEY)",
            )
        })
    }

    /// The revocation list in force, if one was accepted.
    pub fn revocations(&self) -> Option<RevocationList> {
        self.revocations.read().ok().and_then(|l| l.clone())
    }

    fn set_revocations(&self, list: RevocationList) {
        if let Ok(mut held) = self.revocations.write() {
            *held = Some(list);
        }
    }

    /// Reads a package, `.tpkg` or bare `.wasm`, and checks everything trust asks of it:
    /// the signature against the pinned keys, the revocation list, and (unsigned) that this
    /// is a developer's host. Then the component is checked as every package is.
    pub fn open(&self, bytes: Vec<u8>) -> Result<Package> {
        if bytes.starts_with(&tessera_package::tpkg::MAGIC) {
            return self.open_signed(bytes);
        }
        let package = package::read(bytes)?;
        let label = package.manifest.label();
        if !self.config.developer_mode {
            return Err(Error::invalid(
                "package",
                format!(
                    "{label} is an unsigned package (a bare .wasm); this host runs only .tpkg packages signed by \
                     a publisher the marketplace vouches for: sign it into a .tpkg with your publisher key (see \
                     docs/marketplace.md) or install it from the marketplace, or start the host with --developer-mode to run unsigned plugins"
                ),
            ));
        }
        self.check_revoked(
            &label,
            &package.manifest.plugin.id,
            &package.manifest.plugin.version,
            &package.sha256,
            None,
        )?;
        Ok(package)
    }

    fn open_signed(&self, bytes: Vec<u8>) -> Result<Package> {
        let tpkg = Tpkg::decode(&bytes).map_err(|r| refused("the package", &r))?;
        let signed = tessera_package::verify(&tpkg, self.root()?).map_err(|r| refused("the package", &r))?;
        let label = format!("{} {}", signed.plugin, signed.version);
        let key_id = signed.publisher.key.key_id();
        self.check_revoked(&label, &signed.plugin, &signed.version, &signed.component_sha256, Some(&key_id))?;
        let mut package = package::read(tpkg.component().to_vec())?;
        if package.manifest_text != tpkg.manifest() {
            let refusal = Refusal::ManifestMismatch(format!(
                "the plugin.toml of the package and the one inside its component differ; build and sign {label} again"
            ));
            return Err(refused(&label, &refusal));
        }
        package.signed = Some(Signer { tpkg: bytes, publisher: signed.publisher.id, key_id });
        Ok(package)
    }

    /// The revocation, if the list in force withdraws this build or the key that signed it.
    pub fn revoked(&self, plugin: &str, version: &Version, sha256: &str, key_id: Option<&KeyId>) -> Option<Refusal> {
        let held = self.revocations.read().ok()?;
        let list = held.as_ref()?;
        if let Some(key) = key_id.and_then(|k| list.is_key_revoked(k)) {
            return Some(Refusal::RevokedKey { key_id: key.key_id.clone(), reason: key.reason.clone() });
        }
        list.is_revoked(plugin, version, sha256).map(|entry| Refusal::Revoked {
            plugin: plugin.to_owned(),
            version: version.to_string(),
            reason: entry.reason.clone(),
        })
    }

    fn check_revoked(
        &self,
        label: &str,
        plugin: &str,
        version: &Version,
        sha256: &str,
        key_id: Option<&KeyId>,
    ) -> Result<()> {
        match self.revoked(plugin, version, sha256, key_id) {
            Some(refusal) => Err(refused(label, &refusal)),
            None => Ok(()),
        }
    }

    /// Takes up the revocation list stored by an earlier run, checked again.
    pub async fn restore(&self, store: &Store) -> Result<()> {
        let Some(root) = &self.config.root else { return Ok(()) };
        let text: Option<String> = sqlx::query_scalar("SELECT list FROM marketplace_revocations WHERE id = 1")
            .fetch_optional(store.pool())
            .await?;
        if let Some(text) = text {
            match RevocationList::verify(text.as_bytes(), root) {
                Ok(list) => self.set_revocations(list),
                Err(e) => tracing::error!(error = %e, "the stored revocation list does not verify; fetching it again"),
            }
        }
        Ok(())
    }

    /// Accepts a signed revocation list fetched from the marketplace: verified, not older
    /// than the one in force, stored. Returns whether it is a new list.
    pub async fn accept_revocations(&self, store: &Store, signed: &[u8]) -> std::result::Result<bool, AcceptError> {
        let root = self.root().map_err(AcceptError::Host)?;
        let last = self.revocations().map(|l| l.seq);
        let list = RevocationList::verify_update(signed, root, last).map_err(AcceptError::Refused)?;
        if last == Some(list.seq) {
            return Ok(false);
        }
        let text = String::from_utf8_lossy(signed).trim().to_owned();
        let seq = i64::try_from(list.seq).unwrap_or(i64::MAX);
        let mut tx = store.begin_write().await.map_err(AcceptError::Host)?;
        // A list another node stored meanwhile wins when it is newer.
        let stored: Option<i64> = sqlx::query_scalar("SELECT seq FROM marketplace_revocations WHERE id = 1")
            .fetch_optional(&mut *tx)
            .await
            .map_err(|e| AcceptError::Host(e.into()))?;
        if stored.is_none_or(|s| s < seq) {
            sqlx::query(
                "INSERT INTO marketplace_revocations (id, seq, list, fetched_at) VALUES (1, $1, $2, $3) \
                 ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, list = excluded.list, fetched_at = excluded.fetched_at",
            )
            .bind(seq)
            .bind(text)
            .bind(now_ms())
            .execute(&mut *tx)
            .await
            .map_err(|e| AcceptError::Host(e.into()))?;
        }
        tx.commit().await.map_err(|e| AcceptError::Host(e.into()))?;
        tracing::info!(
            seq = list.seq,
            entries = list.entries.len(),
            keys = list.keys.len(),
            "revocation list accepted"
        );
        self.set_revocations(list);
        Ok(true)
    }
}

/// Why a fetched revocation list was not taken up.
#[derive(Debug, thiserror::Error)]
pub enum AcceptError {
    #[error("{0}")]
    Refused(Refusal),
    #[error("{0}")]
    Host(Error),
}

/// Fetches the revocation list every poll interval and stops, in every organisation, each
/// running plugin it revokes (their data stays), telling the organisation's admins.
pub fn spawn_revocation_poll(runtime: Arc<Runtime>, base_url: String) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let url = format!("{}/api/v1/revocations", base_url.trim_end_matches('/'));
        let client = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap_or_default();
        let mut every =
            tokio::time::interval(runtime.registry.trust().config().revocation_poll.max(Duration::from_millis(100)));
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            if let Err(e) = poll_once(&runtime, &client, &url).await {
                tracing::warn!(url = %url, error = %e, "cannot update the revocation list");
            }
        }
    })
}

async fn poll_once(runtime: &Runtime, client: &reqwest::Client, url: &str) -> anyhow::Result<()> {
    let response = client.get(url).send().await?.error_for_status()?;
    let body = response.bytes().await?;
    match runtime.registry.trust().accept_revocations(runtime.store(), &body).await {
        Ok(_) => {}
        Err(AcceptError::Refused(refusal)) => {
            tracing::error!(url = %url, code = refusal.code(), error = %refusal, "revocation list refused");
            return Ok(());
        }
        Err(AcceptError::Host(e)) => return Err(e.into()),
    }
    enforce_revocations(runtime).await?;
    Ok(())
}

/// Stops every running plugin the list in force revokes, in every organisation.
pub async fn enforce_revocations(runtime: &Runtime) -> Result<()> {
    let registry = &runtime.registry;
    registry.follow().await?;
    for active in registry.all_active() {
        let loaded = &active.loaded;
        let Some(refusal) =
            registry.trust().revoked(loaded.id(), loaded.version(), &loaded.sha256, loaded.key_id.as_ref())
        else {
            continue;
        };
        let org_id = active.enabled.org_id;
        let label = loaded.label();
        let reason = format!("revoked by the marketplace: {refusal}");
        tracing::error!(plugin = %label, org_id, code = refusal.code(), "stopping a revoked plugin; its data stays");
        registry.disable(org_id, loaded.id(), Some(&reason), false).await?;
        super::alerts::tell_admins(
            runtime.store(),
            org_id,
            &format!("revoked:{}:{}", loaded.id(), loaded.version()),
            Text::new(format!("插件 {label} 已被市场撤销并停用"), format!("{label} was revoked and stopped")),
            Text::new(
                format!("市场撤销了 {label}（{refusal}）。插件已停用，数据保留。请升级到未被撤销的版本或将其卸载。"),
                format!(
                    "The marketplace revoked {label} ({refusal}). It is stopped and its data kept; upgrade to a \
                     version that is not revoked, or remove it."
                ),
            ),
            loaded.id(),
        )
        .await?;
    }
    Ok(())
}
