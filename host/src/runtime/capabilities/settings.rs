//! `settings`: the plugin's settings as its organisation's admin filled in the form the manifest
//! declares (defaults where nothing was set), and values the plugin keeps for itself: a
//! declared setting (e.g. a token it obtained into a `secret` one, of the declared kind) or a
//! key of its own starting with `_`. The plugin reads its `secret` settings too: they are its
//! own. Needs no grant.

use std::sync::Arc;

use serde_json::{Map, Value};

use crate::runtime::bindings::PluginFault;
use crate::runtime::bindings::tessera::plugin::settings::Host;
use crate::runtime::registry::check_setting;
use crate::runtime::sandbox::{CallContext, PluginState};

/// Largest value, as JSON text.
const MAX_VALUE: usize = 16 << 10;
/// Largest set of settings of one plugin in one organisation, as JSON text.
const MAX_ALL: usize = 1 << 20;
const MAX_KEY: usize = 64;

impl Host for PluginState {
    async fn get(&mut self, key: String) -> wasmtime::Result<Option<String>> {
        self.enter()?;
        Ok(effective(&self.ctx).get(&key).map(Value::to_string))
    }

    async fn all(&mut self) -> wasmtime::Result<String> {
        self.enter()?;
        Ok(Value::Object(effective(&self.ctx)).to_string())
    }

    async fn set(&mut self, key: String, value: String) -> wasmtime::Result<Result<(), PluginFault>> {
        self.enter()?;
        match set(&self.ctx, key, &value).await {
            Ok(settings) => {
                // The rest of this call reads what it wrote.
                let mut enabled = (*self.ctx.enabled).clone();
                enabled.settings = settings;
                self.ctx.enabled = Arc::new(enabled);
                Ok(Ok(()))
            }
            Err(fault) => Ok(Err(fault)),
        }
    }
}

/// The settings as the plugin sees them: the manifest's defaults, overlaid with every value
/// that is set (`null` is unset).
fn effective(ctx: &CallContext) -> Map<String, Value> {
    let mut out: Map<String, Value> =
        ctx.plugin.settings.iter().filter_map(|s| s.default.clone().map(|d| (s.name.clone(), d))).collect();
    for (key, value) in &ctx.enabled.settings {
        if !value.is_null() {
            out.insert(key.clone(), value.clone());
        }
    }
    out
}

/// A key the plugin keeps for itself: `_` then letters, digits, `_`, `-` or `.`.
fn is_private_key(key: &str) -> bool {
    key.len() >= 2
        && key.len() <= MAX_KEY
        && key.starts_with('_')
        && key.chars().all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
}

/// Stores a value and answers the plugin's settings as they now are.
async fn set(ctx: &CallContext, key: String, value: &str) -> Result<Map<String, Value>, PluginFault> {
    let plugin = ctx.plugin.clone();
    let declared = plugin.settings.iter().find(|s| s.name == key);
    if declared.is_none() && !is_private_key(&key) {
        let names: Vec<&str> = plugin.settings.iter().map(|s| s.name.as_str()).collect();
        return Err(PluginFault::Invalid(format!(
            "key: {key:?} is not a setting of {} ({}); a key the plugin keeps for itself starts with `_` and has up \
             to {MAX_KEY} letters, digits, `_`, `-` or `.`",
            plugin.label(),
            if names.is_empty() { "it declares none".to_owned() } else { format!("it declares {}", names.join(", ")) }
        )));
    }
    if value.len() > MAX_VALUE {
        return Err(PluginFault::Invalid(format!("value: at most {} KiB of JSON", MAX_VALUE >> 10)));
    }
    let value: Value =
        serde_json::from_str(value).map_err(|e| PluginFault::Invalid(format!("value: not JSON: {e}")))?;
    if let Some(setting) = declared {
        check_setting(setting, &value)?;
    }
    let Some(runtime) = ctx.runtime.upgrade() else {
        return Err(PluginFault::Unavailable("the plugin runtime is stopping; settings cannot be stored now".into()));
    };
    let org_id = ctx.org_id();
    let plugin_id = plugin.plugin.id.as_str();
    // Start from the newest snapshot, so that an admin's change made while this call ran stays.
    let mut settings = runtime
        .registry
        .active(org_id, plugin_id)
        .map(|a| a.enabled.settings.clone())
        .unwrap_or_else(|| ctx.enabled.settings.clone());
    if value.is_null() && declared.is_none() {
        settings.remove(&key);
    } else {
        settings.insert(key, value);
    }
    let size = Value::Object(settings.clone()).to_string().len();
    if size > MAX_ALL {
        return Err(PluginFault::Limited(format!(
            "the settings of {} would take {size} bytes; at most {} KiB are kept",
            plugin.label(),
            MAX_ALL >> 10
        )));
    }
    ctx.bounded("settings.set", runtime.registry.write_settings(org_id, plugin_id, &settings)).await?;
    Ok(settings)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::runtime::capabilities::testing::{self, Setup, TestDb, fault};
    use crate::runtime::sandbox::{BudgetSpent, Limits};
    use crate::runtime::{Runtime, RuntimeConfig};
    use crate::store::{Backend, Store, now_ms};

    const SETTINGS: &str = r#"
[[settings]]
name = "endpoint"
label = { zh = "地址", en = "Endpoint" }
kind = "text"
default = "https://erp.example.com"

[[settings]]
name = "token"
label = { zh = "令牌", en = "Token" }
kind = "secret"

[[settings]]
name = "days"
label = { zh = "天数", en = "Days" }
kind = "number"
default = 30
"#;

    async fn stored(store: &Store, org_id: crate::store::Id) -> Value {
        let text: String =
            sqlx::query_scalar("SELECT settings FROM org_plugins WHERE org_id = $1 AND plugin_id = 'test-plugin'")
                .bind(org_id)
                .fetch_one(store.pool())
                .await
                .expect("row");
        serde_json::from_str(&text).expect("settings JSON")
    }

    #[tokio::test]
    async fn values_round_trip_through_the_registry() {
        let db = TestDb::new(Backend::Sqlite).await;
        let org = testing::org(&db.store, "acme").await;
        let service = testing::service_user(&db.store, org.id, "test-plugin").await;
        sqlx::query(
            "INSERT INTO org_plugins (org_id, plugin_id, version, state, grants, settings, service_user_id, enabled_at, updated_at) \
             VALUES ($1, 'test-plugin', '1.0.0', 'enabled', '[]', $2, $3, $4, $4)",
        )
        .bind(org.id)
        .bind(json!({ "endpoint": "https://erp.example.com", "days": 30, "token": "s3cret" }).to_string())
        .bind(service)
        .bind(now_ms())
        .execute(db.store.pool())
        .await
        .expect("enable");
        let runtime = Runtime::new(db.store.clone(), RuntimeConfig::default());
        let mut setup = Setup::new(&db.store, org.id, service, testing::manifest(&[], &[], SETTINGS), &[]);
        setup.enabled.settings.insert("token".into(), json!("s3cret"));
        setup.runtime = Arc::downgrade(&runtime);
        let mut s = setup.state();

        assert_eq!(
            s.get("token".into()).await.expect("no trap").as_deref(),
            Some("\"s3cret\""),
            "secrets are the plugin's own"
        );
        assert_eq!(s.get("days".into()).await.expect("no trap").as_deref(), Some("30"));
        assert_eq!(s.get("nothing".into()).await.expect("no trap"), None);

        s.set("token".into(), "\"new-token\"".into()).await.expect("no trap").expect("set a declared secret");
        s.set("_cursor".into(), r#"{"after":42}"#.into()).await.expect("no trap").expect("set a private key");
        assert_eq!(s.get("token".into()).await.expect("no trap").as_deref(), Some("\"new-token\""));
        assert_eq!(s.get("_cursor".into()).await.expect("no trap").as_deref(), Some(r#"{"after":42}"#));
        let all: Value = serde_json::from_str(&s.all().await.expect("no trap")).expect("all is JSON");
        assert_eq!(
            all,
            json!({ "endpoint": "https://erp.example.com", "days": 30, "token": "new-token", "_cursor": { "after": 42 } })
        );
        assert_eq!(stored(&db.store, org.id).await, all, "stored through the registry");

        s.set("_cursor".into(), "null".into()).await.expect("no trap").expect("remove");
        assert_eq!(s.get("_cursor".into()).await.expect("no trap"), None);
        assert!(stored(&db.store, org.id).await.get("_cursor").is_none());

        // A later call sees the stored values.
        let mut next = Setup::new(&db.store, org.id, service, testing::manifest(&[], &[], SETTINGS), &[]);
        next.enabled.settings = stored(&db.store, org.id).await.as_object().cloned().unwrap_or_default();
        assert_eq!(next.state().get("token".into()).await.expect("no trap").as_deref(), Some("\"new-token\""));

        let m = fault(s.set("colour".into(), "\"red\"".into()).await, "invalid");
        assert!(m.contains("endpoint, token, days") && m.contains('_'), "{m}");
        fault(s.set("_bad key".into(), "1".into()).await, "invalid");
        fault(s.set("_".into(), "1".into()).await, "invalid");
        let m = fault(s.set("days".into(), "\"thirty\"".into()).await, "invalid");
        assert!(m.contains("days must be a number"), "{m}");
        fault(s.set("_x".into(), "{not json".into()).await, "invalid");
        let big = Value::String("x".repeat(MAX_VALUE)).to_string();
        let m = fault(s.set("_x".into(), big).await, "invalid");
        assert!(m.contains("16 KiB"), "{m}");
        assert_eq!(stored(&db.store, org.id).await["days"], 30, "nothing refused was stored");
    }

    #[tokio::test]
    async fn defaults_fill_what_is_unset_and_storing_needs_the_runtime() {
        let db = TestDb::new(Backend::Sqlite).await;
        let org = testing::org(&db.store, "acme").await;
        let mut setup = Setup::new(&db.store, org.id, org.admin_id, testing::manifest(&[], &[], SETTINGS), &[]);
        setup.enabled.settings = Map::new();
        setup.enabled.settings.insert("days".into(), Value::Null);
        let mut s = setup.state();
        let all: Value = serde_json::from_str(&s.all().await.expect("no trap")).expect("JSON");
        assert_eq!(all, json!({ "endpoint": "https://erp.example.com", "days": 30 }));
        assert_eq!(s.get("token".into()).await.expect("no trap"), None, "unset, without a default");
        fault(s.set("_x".into(), "1".into()).await, "unavailable");
    }

    #[tokio::test]
    async fn the_host_call_budget_traps() {
        let db = TestDb::new(Backend::Sqlite).await;
        let org = testing::org(&db.store, "acme").await;
        let mut setup = Setup::new(&db.store, org.id, org.admin_id, testing::manifest(&[], &[], SETTINGS), &[]);
        setup.limits = Limits { host_call_budget: 3, ..Limits::default() };
        let mut s = setup.state();
        for _ in 0..3 {
            s.all().await.expect("within the budget");
        }
        let trap = s.get("days".into()).await.expect_err("the fourth call traps");
        assert_eq!(trap.downcast_ref::<BudgetSpent>().map(|b| b.0), Some(3), "{trap:?}");
        assert_eq!(s.host_calls(), 4);
    }
}
