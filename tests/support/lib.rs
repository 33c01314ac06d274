//! Test support for Tessera's end-to-end suites: a fresh database on each backend, a host
//! serving on a real loopback socket, and an HTTP client that signs in like a browser or an
//! API client would.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, Result};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tessera_host::events::DispatchConfig;
pub use tessera_host::notifications::mail::MailConfig;
pub use tessera_host::runtime::RuntimeConfig;
use tessera_host::server::{self, ServeOptions};
use tessera_host::store::{Backend, Store};
use tessera_host::web::{AppState, WebConfig};

pub use tessera_host;

pub mod components;
pub mod pages;
pub mod webhooks;

/// The admin password every test server starts with.
pub const ADMIN_PASSWORD: &str = "test admin passphrase";
/// The password of users made by [`TestServer::add_user`].
pub const USER_PASSWORD: &str = "a user passphrase";

/// PostgreSQL server used by the tests: `TESSERA_TEST_POSTGRES_URL`, or the local one.
pub fn postgres_admin_url() -> String {
    std::env::var("TESSERA_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://root@127.0.0.1:5432/test".into())
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

fn unique_name() -> String {
    format!(
        "tessera_t_{}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        uuid::Uuid::new_v4().simple().to_string().get(..8).unwrap_or("x")
    )
}

/// A database of its own for one test, dropped afterwards.
pub struct TestDb {
    pub backend: Backend,
    pub url: String,
    pg_name: Option<String>,
    dir: Option<PathBuf>,
}

impl TestDb {
    pub async fn new(backend: Backend) -> Result<TestDb> {
        match backend {
            Backend::Sqlite => {
                let dir = std::env::temp_dir().join(unique_name());
                std::fs::create_dir_all(&dir)?;
                let url = tessera_host::store::sqlite_url_for_data_dir(&dir);
                Ok(TestDb { backend, url, pg_name: None, dir: Some(dir) })
            }
            Backend::Postgres => {
                let name = unique_name();
                let admin = postgres_admin_url();
                let admin_store = Store::connect(&admin)
                    .await
                    .with_context(|| format!("PostgreSQL must be running for the tests ({admin})"))?;
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(admin_store.pool()).await?;
                admin_store.close().await;
                let base = admin.rsplit_once('/').map(|(b, _)| b.to_owned()).unwrap_or(admin);
                Ok(TestDb { backend, url: format!("{base}/{name}"), pg_name: Some(name), dir: None })
            }
        }
    }

    /// A migrated store on this database.
    pub async fn store(&self) -> Result<Store> {
        let store = Store::connect(&self.url).await?;
        store.migrate().await?;
        Ok(store)
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
        if let Some(name) = self.pg_name.take() {
            // Dropping needs a connection of its own; do it on a short-lived thread so that
            // Drop stays synchronous.
            let _ = std::thread::spawn(move || {
                let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
                rt.block_on(async {
                    if let Ok(store) = Store::connect(&postgres_admin_url()).await {
                        let _ =
                            sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")))
                                .execute(store.pool())
                                .await;
                        store.close().await;
                    }
                });
            })
            .join();
        }
    }
}

/// The production retry schedule, scaled from seconds and hours down to milliseconds, so that
/// a test sees every retry and the dead letter in a moment.
pub fn fast_dispatch() -> DispatchConfig {
    let production = DispatchConfig::default();
    DispatchConfig {
        retry_delays: production.retry_delays.iter().map(|d| *d / 1000).collect(),
        max_retry_after: std::time::Duration::from_secs(5),
        request_timeout: std::time::Duration::from_secs(5),
        lease: std::time::Duration::from_secs(5),
        idle: std::time::Duration::from_millis(10),
        ..production
    }
}

/// The plugin runtime as tests run it: events and jobs looked for every 20 ms, retries of
/// events in milliseconds, plain HTTP allowed to loopback receivers.
pub fn test_plugins() -> RuntimeConfig {
    RuntimeConfig {
        follow_every: std::time::Duration::from_millis(100),
        pump_every: std::time::Duration::from_millis(20),
        event_retry_delays: vec![std::time::Duration::from_millis(50); 3],
        local_hosts: vec!["127.0.0.1".into(), "localhost".into()],
        // The suites load the unsigned packages `cargo xtask build-plugins` makes.
        trust: tessera_host::runtime::trust::TrustConfig::developer(),
        ..RuntimeConfig::default()
    }
}

/// A host listening on a loopback port, on a database of its own.
pub struct TestServer {
    pub addr: SocketAddr,
    pub base: String,
    pub state: AppState,
    pub org_id: i64,
    pub db: std::sync::Arc<TestDb>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl TestServer {
    pub async fn start(backend: Backend) -> Result<TestServer> {
        Self::start_with(backend, WebConfig::default()).await
    }

    pub async fn start_with(backend: Backend, web: WebConfig) -> Result<TestServer> {
        let db = std::sync::Arc::new(TestDb::new(backend).await?);
        Self::start_on(db, web).await
    }

    /// Another node on the same database (what several host nodes behind a load balancer do).
    pub async fn start_on(db: std::sync::Arc<TestDb>, web: WebConfig) -> Result<TestServer> {
        Self::start_configured(db, web, fast_dispatch(), None).await
    }

    /// A host on `db` that delivers events as `dispatch` says and sends mail through `mail`.
    pub async fn start_configured(
        db: std::sync::Arc<TestDb>,
        web: WebConfig,
        dispatch: DispatchConfig,
        mail: Option<MailConfig>,
    ) -> Result<TestServer> {
        Self::start_full(db, web, dispatch, mail, test_plugins()).await
    }

    /// A host on `db` whose plugin runtime is set up as `plugins` says.
    pub async fn start_with_plugins(db: std::sync::Arc<TestDb>, plugins: RuntimeConfig) -> Result<TestServer> {
        Self::start_full(db, WebConfig::default(), fast_dispatch(), None, plugins).await
    }

    async fn start_full(
        db: std::sync::Arc<TestDb>,
        web: WebConfig,
        dispatch: DispatchConfig,
        mail: Option<MailConfig>,
        plugins: RuntimeConfig,
    ) -> Result<TestServer> {
        let opts = ServeOptions {
            listen: "127.0.0.1:0".parse()?,
            database_url: db.url.clone(),
            web,
            first_org_slug: "acme".into(),
            first_org_name: "Acme Trading 艾克美贸易".into(),
            admin_password: Some(ADMIN_PASSWORD.into()),
            demo: false,
            dispatch,
            mail,
            plugins,
        };
        let running = server::prepare(&opts).await?;
        let addr = running.addr;
        let state = running.state.clone();
        let org_id = tessera_host::org::find_by_slug(&state.store, "acme").await?.context("first org")?.id;
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = running
                .serve(async {
                    let _ = rx.await;
                })
                .await;
        });
        Ok(TestServer { addr, base: format!("http://{addr}"), state, org_id, db, shutdown: Some(tx), task: Some(task) })
    }

    pub fn store(&self) -> &Store {
        &self.state.store
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A client with no credentials.
    pub fn anonymous(&self) -> Client {
        Client::new(&self.base, None)
    }

    /// Signs in with a password, as a browser does (cookie + CSRF token).
    pub async fn sign_in(&self, username: &str, password: &str) -> Result<Client> {
        let client = self.anonymous();
        let (status, body) =
            client.post("/api/v1/auth/sign-in", &json!({ "username": username, "password": password })).await?;
        anyhow::ensure!(status == StatusCode::OK, "sign-in of {username} failed: {status} {body}");
        let csrf = body["csrf_token"].as_str().context("csrf token")?.to_owned();
        Ok(client.with_csrf(csrf))
    }

    pub async fn admin(&self) -> Result<Client> {
        self.sign_in("admin", ADMIN_PASSWORD).await
    }

    /// A client authenticated with a fresh personal API token of `user`.
    pub async fn token_client(&self, user: &Client) -> Result<Client> {
        let (status, body) = user.post("/api/v1/me/tokens", &json!({ "name": "test" })).await?;
        anyhow::ensure!(status == StatusCode::CREATED, "token: {status} {body}");
        Ok(Client::new(&self.base, Some(body["token"].as_str().context("token")?.to_owned())))
    }

    /// Adds a user through the API (as `admin_client`) and returns their id.
    pub async fn add_user(
        &self,
        admin: &Client,
        username: &str,
        department_id: Option<i64>,
        role_ids: &[i64],
    ) -> Result<i64> {
        let (status, body) = admin
            .post(
                "/api/v1/users",
                &json!({ "username": username, "display_name": username, "password": USER_PASSWORD,
                         "department_id": department_id, "role_ids": role_ids }),
            )
            .await?;
        anyhow::ensure!(status == StatusCode::CREATED, "add user {username}: {status} {body}");
        body["id"].as_i64().context("user id")
    }

    /// The id of a built-in role by name.
    pub async fn role_id(&self, admin: &Client, name: &str) -> Result<i64> {
        let (_, roles) = admin.get("/api/v1/roles").await?;
        roles
            .as_array()
            .and_then(|rs| rs.iter().find(|r| r["name"] == name))
            .and_then(|r| r["id"].as_i64())
            .with_context(|| format!("role {name}"))
    }

    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// An HTTP client over a real socket, holding cookies like a browser.
#[derive(Clone)]
pub struct Client {
    pub http: reqwest::Client,
    base: String,
    bearer: Option<String>,
    csrf: Option<String>,
}

impl Client {
    pub fn new(base: &str, bearer: Option<String>) -> Client {
        let http = reqwest::Client::builder().cookie_store(true).build().unwrap_or_else(|_| reqwest::Client::new());
        Client { http, base: base.to_owned(), bearer, csrf: None }
    }

    pub fn with_csrf(mut self, csrf: String) -> Client {
        self.csrf = Some(csrf);
        self
    }

    pub fn without_csrf(&self) -> Client {
        Client { csrf: None, ..self.clone() }
    }

    pub fn csrf(&self) -> Option<&str> {
        self.csrf.as_deref()
    }

    pub fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(b) = &self.bearer {
            req = req.bearer_auth(b);
        }
        if let Some(c) = &self.csrf {
            req = req.header("x-csrf-token", c);
        }
        req
    }

    pub async fn send(&self, req: reqwest::RequestBuilder) -> Result<(StatusCode, Value)> {
        answer(req.send().await?).await
    }

    pub async fn get(&self, path: &str) -> Result<(StatusCode, Value)> {
        self.send(self.request(Method::GET, path)).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Result<(StatusCode, Value)> {
        self.send(self.request(Method::POST, path).json(body)).await
    }

    pub async fn patch(&self, path: &str, body: &Value) -> Result<(StatusCode, Value)> {
        self.send(self.request(Method::PATCH, path).json(body)).await
    }

    pub async fn put(&self, path: &str, body: &Value) -> Result<(StatusCode, Value)> {
        self.send(self.request(Method::PUT, path).json(body)).await
    }

    pub async fn delete(&self, path: &str) -> Result<(StatusCode, Value)> {
        self.send(self.request(Method::DELETE, path)).await
    }
}

/// A response's status and JSON body (`Null` when empty, a string when it is not JSON).
pub async fn answer(resp: reqwest::Response) -> Result<(StatusCode, Value)> {
    let status = resp.status();
    let text = resp.text().await?;
    let body = if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
    Ok((status, body))
}

/// Asserts that `body` is the API's JSON error with a code and a message, and returns the code.
pub fn error_code(body: &Value) -> String {
    let err = &body["error"];
    assert!(err["message"].as_str().is_some_and(|m| !m.is_empty()), "error without a message: {body}");
    assert!(err["request_id"].as_str().is_some_and(|m| !m.is_empty()), "error without a request id: {body}");
    err["code"].as_str().unwrap_or_default().to_owned()
}

/// Runs an async test body once per backend, as two test functions `sqlite` and `postgres`
/// inside a module named after the test.
#[macro_export]
macro_rules! both_backends {
    ($(async fn $name:ident($backend:ident) $body:block)*) => {$(
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            async fn run($backend: $crate::tessera_host::store::Backend) -> anyhow::Result<()> $body
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() -> anyhow::Result<()> {
                run($crate::tessera_host::store::Backend::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() -> anyhow::Result<()> {
                run($crate::tessera_host::store::Backend::Postgres).await
            }
        }
    )*};
}

/// The directory `cargo xtask build-plugins` writes packages to.
pub fn plugin_packages_dir() -> PathBuf {
    std::env::var_os("TESSERA_PLUGIN_PACKAGES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/plugins"))
}

/// The newest built package of a plugin (`<id>-<version>.wasm`).
pub fn plugin_package(id: &str) -> Result<Vec<u8>> {
    let dir = plugin_packages_dir();
    let mut found: Vec<(Vec<u64>, PathBuf)> = std::fs::read_dir(&dir)
        .with_context(|| format!("no plugin packages in {}: run `cargo xtask build-plugins`", dir.display()))?
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let version = name.strip_prefix(&format!("{id}-"))?.strip_suffix(".wasm")?.to_owned();
            let key: Vec<u64> = version.split('.').map(|p| p.parse().ok()).collect::<Option<_>>()?;
            Some((key, e.path()))
        })
        .collect();
    found.sort();
    let (_, path) = found
        .pop()
        .with_context(|| format!("no package of {id} in {}: run `cargo xtask build-plugins`", dir.display()))?;
    Ok(std::fs::read(path)?)
}

/// The `plugin.toml` a package carries.
pub fn manifest_of(package_bytes: &[u8]) -> Result<String> {
    for payload in wasmparser::Parser::new(0).parse_all(package_bytes) {
        if let wasmparser::Payload::CustomSection(s) = payload?
            && s.name() == tessera_host::runtime::package::MANIFEST_SECTION
        {
            return Ok(String::from_utf8(s.data().to_vec())?);
        }
    }
    anyhow::bail!("the package has no manifest")
}

impl Client {
    /// Installs a package through the admin API.
    pub async fn install_plugin(&self, package: Vec<u8>) -> Result<(StatusCode, Value)> {
        self.send(
            self.request(Method::POST, "/api/v1/plugins").header("content-type", "application/wasm").body(package),
        )
        .await
    }

    /// Installs the built package of `id` and enables it with `capabilities`; fails the test
    /// if either step is refused.
    pub async fn install_and_enable(&self, id: &str, capabilities: &[&str]) -> Result<Value> {
        let (status, body) = self.install_plugin(plugin_package(id)?).await?;
        anyhow::ensure!(status == StatusCode::CREATED, "install {id}: {status} {body}");
        let (status, body) =
            self.post(&format!("/api/v1/plugins/{id}/enable"), &json!({ "capabilities": capabilities })).await?;
        anyhow::ensure!(status == StatusCode::OK, "enable {id}: {status} {body}");
        Ok(body)
    }
}
