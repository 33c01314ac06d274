//! Licenses of paid plugins: a plugin whose manifest says `license-required` runs in an
//! organisation only with a license token the marketplace issued to that organisation for
//! that plugin. The token is stored per organisation and plugin (`org_plugin_licenses`) and
//! checked offline, against the host's pinned marketplace keys, at enable, at every load and
//! by an hourly sweep: a subscription past its end runs on through its grace period (the
//! admins are told when it ends), then the plugin is stopped for that organisation and its
//! data kept.
//!
//! The organisation's account id at the marketplace is taken from the first token stored and
//! kept (`org_marketplace_accounts`): a later token issued to another account is refused
//! (`other_org`), so a token bought by one customer does not unlock another's host.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;
use sqlx::Row;
use tessera_package::{LicenseState, Refusal, Timestamp};
use utoipa::ToSchema;

use super::Runtime;
use super::manifest::Manifest;
use super::registry::Registry;
use crate::error::{Error, Result};
use crate::notifications::Text;
use crate::store::{Id, now_ms};

/// How often every license in use is checked again.
pub const SWEEP_EVERY: Duration = Duration::from_secs(3600);

/// A stored license, as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LicenseInfo {
    pub plugin_id: String,
    /// The organisation's account id at the marketplace the token was issued to.
    pub account_id: String,
    /// `free`, `one-off` or `subscription`.
    pub kind: String,
    /// When the paid period ends (RFC 3339); none for good.
    pub expires_at: Option<String>,
    /// When the grace period after it ends (RFC 3339); none for good.
    pub grace_ends: Option<String>,
    /// `valid` or `grace`.
    pub state: String,
}

fn license_refused(plugin_id: &str, refusal: &Refusal) -> Error {
    Error::invalid("token", format!("the license of {plugin_id} is refused: {refusal} [{}]", refusal.code()))
}

fn ms(t: Timestamp) -> i64 {
    t.as_millisecond()
}

fn now() -> Timestamp {
    Timestamp::now()
}

/// The organisation's account id at the marketplace, once a license was stored.
async fn account(registry: &Registry, org_id: Id) -> Result<Option<String>> {
    Ok(sqlx::query_scalar("SELECT account_id FROM org_marketplace_accounts WHERE org_id = $1")
        .bind(org_id)
        .fetch_optional(registry.store().pool())
        .await?)
}

/// Checks a token and stores it as the organisation's license of the plugin, then reloads
/// the plugins so that one waiting for its license starts.
pub async fn store(
    registry: &Registry,
    org_id: Id,
    plugin_id: &str,
    token: &str,
    by: Option<Id>,
) -> Result<LicenseInfo> {
    let root = registry.trust().root()?;
    let claims = tessera_package::license::verify_token(token, root).map_err(|r| license_refused(plugin_id, &r))?;
    let account_id = match account(registry, org_id).await? {
        Some(a) => a,
        None => claims.org.clone(),
    };
    let state = tessera_package::license::check(token, root, &account_id, plugin_id, now())
        .map_err(|r| license_refused(plugin_id, &r))?;
    let grace_ends = claims
        .expires_at
        .and_then(|e| e.checked_add(jiff::SignedDuration::from_hours(i64::from(claims.grace_days) * 24)).ok());
    let at = now_ms();
    let mut tx = registry.store().begin_write().await?;
    sqlx::query(
        "INSERT INTO org_marketplace_accounts (org_id, account_id, created_at) VALUES ($1, $2, $3) \
         ON CONFLICT (org_id) DO NOTHING",
    )
    .bind(org_id)
    .bind(&account_id)
    .bind(at)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO org_plugin_licenses (org_id, plugin_id, token, expires_at, grace_ends, stored_by, stored_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (org_id, plugin_id) DO UPDATE SET token = excluded.token, \
         expires_at = excluded.expires_at, grace_ends = excluded.grace_ends, stored_by = excluded.stored_by, \
         stored_at = excluded.stored_at",
    )
    .bind(org_id)
    .bind(plugin_id)
    .bind(token.trim())
    .bind(claims.expires_at.map(ms))
    .bind(grace_ends.map(ms))
    .bind(by)
    .bind(at)
    .execute(&mut *tx)
    .await?;
    crate::audit::AuditEntry::new(org_id, by, "plugin.license")
        .detail(
            serde_json::json!({ "plugin": plugin_id, "account": account_id, "expires_at": claims.expires_at.map(ms) }),
        )
        .record(&mut *tx)
        .await?;
    tx.commit().await?;
    tracing::info!(plugin = plugin_id, org_id, "plugin license stored");
    registry.reload().await?;
    Ok(LicenseInfo {
        plugin_id: plugin_id.to_owned(),
        account_id,
        kind: serde_json::to_value(claims.kind).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default(),
        expires_at: claims.expires_at.map(|t| t.to_string()),
        grace_ends: grace_ends.map(|t| t.to_string()),
        state: match state {
            LicenseState::Valid { .. } => "valid".into(),
            LicenseState::Grace { .. } => "grace".into(),
        },
    })
}

/// Where an organisation's license of a plugin stands: none needed (`None`), valid or in
/// grace; an error when it has none or it is refused.
pub async fn check(registry: &Registry, org_id: Id, manifest: &Manifest) -> Result<Option<LicenseState>> {
    if !manifest.plugin.license_required {
        return Ok(None);
    }
    let plugin_id = &manifest.plugin.id;
    let trust = registry.trust();
    if trust.config().root.is_none() && trust.developer_mode() {
        // A developer's host without a marketplace key cannot check a license; it runs the
        // plugin, as it runs unsigned ones.
        return Ok(None);
    }
    let root = trust.root()?;
    let token: Option<String> =
        sqlx::query_scalar("SELECT token FROM org_plugin_licenses WHERE org_id = $1 AND plugin_id = $2")
            .bind(org_id)
            .bind(plugin_id)
            .fetch_optional(registry.store().pool())
            .await?;
    let Some(token) = token else {
        return Err(Error::invalid(
            "license",
            format!(
                "{plugin_id} needs a license from the marketplace for this organisation [no_license]; buy it there \
                 and install its token with PUT /api/v1/plugins/{plugin_id}/license"
            ),
        ));
    };
    let account = account(registry, org_id).await?.unwrap_or_default();
    tessera_package::license::check(&token, root, &account, plugin_id, now())
        .map(Some)
        .map_err(|r| license_refused(plugin_id, &r))
}

/// The check of a load: a plugin past its grace period is not loaded.
pub async fn check_load(registry: &Registry, org_id: Id, manifest: &Manifest) -> Result<()> {
    check(registry, org_id, manifest).await.map(|_| ())
}

/// Checks every license in use: tells the admins of an organisation whose license is in its
/// grace period when the plugin stops, and stops (keeping its data) a plugin whose license
/// is past it, or missing, or refused.
pub async fn sweep(runtime: &Runtime) -> Result<()> {
    let registry = &runtime.registry;
    let rows = sqlx::query(
        "SELECT o.org_id, o.plugin_id, p.manifest FROM org_plugins o \
         JOIN plugin_packages p ON p.plugin_id = o.plugin_id AND p.version = o.version WHERE o.state = 'enabled'",
    )
    .fetch_all(runtime.store().pool())
    .await?;
    for row in rows {
        let org_id: Id = row.get(0);
        let plugin_id: String = row.get(1);
        let manifest: Value = serde_json::from_str(&row.get::<String, _>(2)).unwrap_or(Value::Null);
        if manifest["plugin"]["license-required"].as_bool() != Some(true) {
            continue;
        }
        let Some(manifest) = serde_json::from_value::<Manifest>(manifest).ok() else { continue };
        match check(registry, org_id, &manifest).await {
            Ok(Some(LicenseState::Grace { ends, .. })) => {
                let label = manifest.label();
                let date = ends.to_string();
                super::alerts::tell_admins(
                    runtime.store(),
                    org_id,
                    &format!("license-grace:{plugin_id}:{}", ms(ends)),
                    Text::new(format!("插件 {label} 的许可证已过期"), format!("The license of {label} expired")),
                    Text::new(
                        format!("宽限期至 {date} 结束，届时插件将停用（数据保留）。请在市场续订并安装新的许可证。"),
                        format!(
                            "Its grace period ends at {date}; then the plugin stops (its data is kept). Renew it \
                             in the marketplace and install the new license token."
                        ),
                    ),
                    &plugin_id,
                )
                .await?;
            }
            Ok(_) => {}
            Err(Error::Invalid { message, .. }) => {
                let label = manifest.label();
                tracing::warn!(plugin = %label, org_id, reason = %message, "stopping a plugin without a valid license; its data stays");
                registry.disable(org_id, &plugin_id, Some(&message), false).await?;
                super::alerts::tell_admins(
                    runtime.store(),
                    org_id,
                    &format!("license-stopped:{plugin_id}:{}", now_ms() / 86_400_000),
                    Text::new(format!("插件 {label} 因许可证已停用"), format!("{label} stopped: no valid license")),
                    Text::new(
                        format!("{message}。插件已停用，数据保留；安装有效的许可证后重新启用。"),
                        format!("{message}. The plugin is stopped and its data kept; install a valid license and enable it again."),
                    ),
                    &plugin_id,
                )
                .await?;
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Runs [`sweep`] at start and then every hour.
pub fn spawn_sweep(runtime: Arc<Runtime>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(SWEEP_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            if let Err(e) = sweep(&runtime).await {
                tracing::warn!(error = %e, "cannot check the plugins' licenses");
            }
        }
    })
}
