//! What the capability tests share: a migrated database of their own (SQLite in a temporary
//! directory, or a fresh PostgreSQL database), organisations with users of the built-in roles,
//! and a [`PluginState`] for a manifest and the grants a test chooses, so that each capability's
//! `Host` impl is called directly, without wasm.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};

use serde_json::{Map, Value};

use crate::access::{Access, Principal};
use crate::auth::PasswordHasher;
use crate::org::NewOrg;
use crate::runtime::Runtime;
use crate::runtime::manifest::Manifest;
use crate::runtime::registry::Enabled;
use crate::runtime::sandbox::{CallContext, Limits, PluginState};
use crate::store::{Backend, Id, Store, now_ms};

/// The PostgreSQL server the tests use.
fn postgres_admin_url() -> String {
    std::env::var("TESSERA_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://root@127.0.0.1:5432/test".into())
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

fn unique_name() -> String {
    let uuid = uuid::Uuid::new_v4().simple().to_string();
    format!("tessera_caps_{}_{}_{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed), &uuid[..8])
}

/// A migrated database of one test, removed when dropped.
pub struct TestDb {
    pub store: Store,
    dir: Option<PathBuf>,
    pg_name: Option<String>,
}

impl TestDb {
    pub async fn new(backend: Backend) -> TestDb {
        let (url, dir, pg_name) = match backend {
            Backend::Sqlite => {
                let dir = std::env::temp_dir().join(unique_name());
                std::fs::create_dir_all(&dir).expect("temporary directory");
                (crate::store::sqlite_url_for_data_dir(&dir), Some(dir), None)
            }
            Backend::Postgres => {
                let name = unique_name();
                let admin_url = postgres_admin_url();
                let admin = Store::connect(&admin_url).await.expect("PostgreSQL must be running for the tests");
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(admin.pool())
                    .await
                    .expect("create a test database");
                admin.close().await;
                let base = admin_url.rsplit_once('/').map(|(b, _)| b.to_owned()).unwrap_or(admin_url);
                (format!("{base}/{name}"), None, Some(name))
            }
        };
        let store = Store::connect(&url).await.expect("connect");
        store.migrate().await.expect("migrate");
        TestDb { store, dir, pg_name }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
        if let Some(name) = self.pg_name.take() {
            // Dropping needs a connection of its own, on a runtime of its own, so that Drop
            // stays synchronous inside the test's runtime.
            let _ = std::thread::spawn(move || {
                let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
                rt.block_on(async {
                    if let Ok(admin) = Store::connect(&postgres_admin_url()).await {
                        let drop = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                        let _ = sqlx::query(sqlx::AssertSqlSafe(drop)).execute(admin.pool()).await;
                        admin.close().await;
                    }
                });
            })
            .join();
        }
    }
}

/// An organisation with its `admin`.
#[derive(Debug, Clone, Copy)]
pub struct TestOrg {
    pub id: Id,
    pub admin_id: Id,
}

/// Creates an organisation with its built-in roles and `admin`.
pub async fn org(store: &Store, slug: &str) -> TestOrg {
    let new = NewOrg {
        slug: slug.into(),
        name: format!("{slug} 贸易"),
        time_zone: "Asia/Shanghai".into(),
        admin_password: "a long admin passphrase".into(),
    };
    let created = crate::org::create(store, &PasswordHasher::new(), &new).await.expect("create organisation");
    TestOrg { id: created.org.id, admin_id: created.admin_user_id }
}

/// Adds an active user holding the built-in role `role` (`Salesperson`, `Sales manager`, …).
pub async fn user(store: &Store, org_id: Id, username: &str, role: &str) -> Id {
    let now = now_ms();
    let id: Id = sqlx::query_scalar(
        "INSERT INTO users (org_id, username, display_name, password_hash, locale, active, password_changed_at, \
         created_at, updated_at) VALUES ($1, $2, $2, '!', 'zh-CN', 1, $3, $3, $3) RETURNING id",
    )
    .bind(org_id)
    .bind(username)
    .bind(now)
    .fetch_one(store.pool())
    .await
    .expect("insert user");
    let role_id: Id = sqlx::query_scalar("SELECT id FROM roles WHERE org_id = $1 AND name = $2")
        .bind(org_id)
        .bind(role)
        .fetch_one(store.pool())
        .await
        .expect("built-in role");
    sqlx::query("INSERT INTO user_roles (org_id, user_id, role_id) VALUES ($1, $2, $3)")
        .bind(org_id)
        .bind(id)
        .bind(role_id)
        .execute(store.pool())
        .await
        .expect("assign role");
    store.auth_changed();
    id
}

/// The user a plugin acts as on its own: inactive, unable to sign in, as the registry makes it.
pub async fn service_user(store: &Store, org_id: Id, plugin_id: &str) -> Id {
    let now = now_ms();
    sqlx::query_scalar(
        "INSERT INTO users (org_id, username, display_name, password_hash, locale, active, password_changed_at, \
         created_at, updated_at) VALUES ($1, $2, $2, '!', 'zh-CN', 0, $3, $3, $3) RETURNING id",
    )
    .bind(org_id)
    .bind(format!("plugin.{plugin_id}"))
    .bind(now)
    .fetch_one(store.pool())
    .await
    .expect("insert service user")
}

/// A user's access, as a signed-in request would carry it.
pub async fn access(store: &Store, org_id: Id, user_id: Id) -> Access {
    let department_id: Option<Id> = sqlx::query_scalar("SELECT department_id FROM users WHERE org_id = $1 AND id = $2")
        .bind(org_id)
        .bind(user_id)
        .fetch_one(store.pool())
        .await
        .expect("user");
    Access::load(store, Principal { org_id, user_id, department_id }).await.expect("access")
}

/// A manifest of the plugin `test-plugin` requesting `capabilities`, with `more` TOML after the
/// `[plugin]` table (entities, settings, …) and `http-allow` hosts.
pub fn manifest(capabilities: &[&str], http_allow: &[&str], more: &str) -> Manifest {
    let list = |items: &[&str]| items.iter().map(|c| format!("{c:?}")).collect::<Vec<_>>().join(", ");
    let text = format!(
        r#"
[plugin]
id = "test-plugin"
name = {{ zh = "测试插件", en = "Test plugin" }}
description = {{ zh = "测试", en = "For tests" }}
version = "1.0.0"
api = "^0.1"
capabilities = [{}]
http-allow = [{}]

{more}
"#,
        list(capabilities),
        list(http_allow),
    );
    Manifest::parse(&text).expect("test manifest")
}

/// What one call runs with; change the fields, then make its [`PluginState`].
pub struct Setup {
    pub store: Store,
    pub plugin: Arc<Manifest>,
    pub enabled: Enabled,
    pub user: Option<Access>,
    pub limits: Limits,
    pub runtime: Weak<Runtime>,
}

impl Setup {
    /// The plugin enabled in `org_id` with `grants`, acting on its own as `service_user_id`.
    pub fn new(store: &Store, org_id: Id, service_user_id: Id, manifest: Manifest, grants: &[&str]) -> Setup {
        let settings: Map<String, Value> =
            manifest.settings.iter().filter_map(|s| s.default.clone().map(|d| (s.name.clone(), d))).collect();
        let enabled = Enabled {
            org_id,
            plugin_id: manifest.plugin.id.clone(),
            version: manifest.plugin.version.clone(),
            grants: grants.iter().map(|g| (*g).to_owned()).collect(),
            settings,
            service_user_id,
        };
        Setup {
            store: store.clone(),
            plugin: Arc::new(manifest),
            enabled,
            user: None,
            limits: Limits::default(),
            runtime: Weak::new(),
        }
    }

    /// The same plugin and grants, called for a signed-in user.
    pub fn for_user(mut self, user: Access) -> Setup {
        self.user = Some(user);
        self
    }

    pub fn state(&self) -> PluginState {
        PluginState::new(CallContext {
            store: self.store.clone(),
            plugin: self.plugin.clone(),
            enabled: Arc::new(self.enabled.clone()),
            user: self.user.clone(),
            locale: "zh-CN".into(),
            client_ip: None,
            limits: Arc::new(self.limits.clone()),
            http: crate::runtime::capabilities::http::outbound_client(&[]),
            runtime: self.runtime.clone(),
            host_time: Default::default(),
        })
    }
}

/// The message of a fault, asserting its kind.
pub fn fault<T: std::fmt::Debug>(
    answer: wasmtime::Result<Result<T, crate::runtime::bindings::PluginFault>>,
    kind: &str,
) -> String {
    let fault = answer.expect("no trap").expect_err(kind);
    assert_eq!(fault.kind(), kind, "{fault:?}");
    match fault {
        crate::runtime::bindings::PluginFault::Denied(m)
        | crate::runtime::bindings::PluginFault::NotFound(m)
        | crate::runtime::bindings::PluginFault::Invalid(m)
        | crate::runtime::bindings::PluginFault::Conflict(m)
        | crate::runtime::bindings::PluginFault::Limited(m)
        | crate::runtime::bindings::PluginFault::Unavailable(m)
        | crate::runtime::bindings::PluginFault::Internal(m) => m,
    }
}

/// Runs each named `async fn name(backend: Backend)` of the enclosing test module as two
/// tests, `sqlite::name` and `postgres::name`.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test]
            async fn $name() {
                super::$name(crate::store::Backend::Sqlite).await;
            })*
        }
        mod postgres {
            $(#[tokio::test]
            async fn $name() {
                super::$name(crate::store::Backend::Postgres).await;
            })*
        }
    };
}
pub(crate) use on_both_backends;
