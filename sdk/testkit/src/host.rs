//! The test host: the real `tessera-host` server on a loopback port, on a SQLite database of
//! its own in a temporary directory, with its first organisation and administrator.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tessera_host::events::DispatchConfig;
use tessera_host::runtime::RuntimeConfig;
use tessera_host::server::{self, ServeOptions};
use tessera_host::web::{AppState, WebConfig};

use crate::client::{Client, Role};
use crate::plugin::TestPlugin;

/// The password of the test host's administrator, `admin`.
pub const ADMIN_PASSWORD: &str = "test admin passphrase";
/// The password of the users made by [`TestHost::user`].
pub const USER_PASSWORD: &str = "a user passphrase";

/// The plugin runtime as the test host runs it: the production limits (deadlines, memory cap,
/// host-call budget), but events and jobs looked for every 20 ms, changes followed every
/// 100 ms, a failed event retried after 50 ms (three times), and plain `http://` allowed to
/// `127.0.0.1` and `localhost`, so a plugin's outbound calls can reach a receiver the test runs.
pub fn runtime_config() -> RuntimeConfig {
    RuntimeConfig {
        follow_every: Duration::from_millis(100),
        pump_every: Duration::from_millis(20),
        event_retry_delays: vec![Duration::from_millis(50); 3],
        local_hosts: vec!["127.0.0.1".into(), "localhost".into()],
        // A plugin under development is an unsigned package: the kit's host is a developer's.
        trust: tessera_host::runtime::trust::TrustConfig::developer(),
        ..RuntimeConfig::default()
    }
}

/// A real Tessera host for one test. Its organisation is `acme`; its administrator, `admin`,
/// is signed in as [`TestHost::admin`]. Dropping it stops the server and deletes the database;
/// [`TestHost::stop`] does the same and waits until the server has finished.
pub struct TestHost {
    base: String,
    state: AppState,
    org_id: i64,
    admin: Client,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    /// Deleted after the server stops.
    data: Option<tempfile::TempDir>,
}

impl std::fmt::Debug for TestHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestHost").field("base", &self.base).field("org_id", &self.org_id).finish_non_exhaustive()
    }
}

impl TestHost {
    /// Starts a host with the [`runtime_config`] for tests and signs its administrator in.
    pub async fn start() -> Result<TestHost> {
        TestHost::start_with(runtime_config()).await
    }

    /// Starts a host whose plugin runtime is set up as `plugins` says (e.g. a shorter deadline).
    pub async fn start_with(plugins: RuntimeConfig) -> Result<TestHost> {
        init_logging();
        let data = tempfile::Builder::new()
            .prefix("tessera-testkit-")
            .tempdir()
            .context("cannot make a temporary directory")?;
        let options = ServeOptions {
            listen: ([127, 0, 0, 1], 0).into(),
            database_url: tessera_host::store::sqlite_url_for_data_dir(data.path()),
            web: WebConfig::default(),
            first_org_slug: "acme".into(),
            first_org_name: "Acme Trading 艾克美贸易".into(),
            admin_password: Some(ADMIN_PASSWORD.into()),
            demo: false,
            dispatch: DispatchConfig::default(),
            mail: None,
            plugins,
        };
        let running = server::prepare(&options).await.context("the test host could not start")?;
        let base = format!("http://{}", running.addr);
        let state = running.state.clone();
        let org_id = tessera_host::org::find_by_slug(&state.store, "acme")
            .await?
            .context("the test host has no first organisation")?
            .id;
        let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            if let Err(e) = running.serve(async { stopped.await.unwrap_or_default() }).await {
                eprintln!("the test host stopped with an error: {e}");
            }
        });
        let admin = Client::sign_in(&base, "admin", ADMIN_PASSWORD).await?;
        Ok(TestHost { base, state, org_id, admin, shutdown: Some(shutdown), task: Some(task), data: Some(data) })
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// The full URL of a path of the host.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The organisation the host made at its first start, where every helper works.
    pub fn org_id(&self) -> i64 {
        self.org_id
    }

    /// The host's state: its database (`state().store`) and its plugin runtime
    /// (`state().plugins`), for what the API does not show.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// The folder of the host's database, deleted when the host stops.
    pub fn data_dir(&self) -> Option<&Path> {
        self.data.as_ref().map(|d| d.path())
    }

    /// The administrator, signed in.
    pub fn admin(&self) -> &Client {
        &self.admin
    }

    /// A client with no credentials (for inbound webhooks under `/hooks/<id>/acme/…`).
    pub fn anonymous(&self) -> Result<Client> {
        Client::anonymous(&self.base)
    }

    /// Signs a user in with a password.
    pub async fn sign_in(&self, username: &str, password: &str) -> Result<Client> {
        Client::sign_in(&self.base, username, password).await
    }

    /// Makes a user with a built-in role (in no department, password [`USER_PASSWORD`],
    /// language `zh-CN`) and signs them in; [`Client::user_id`] is their id.
    pub async fn user(&self, username: &str, role: Role) -> Result<Client> {
        let (status, roles) = self.admin.get("/api/v1/roles").await?;
        anyhow::ensure!(status == StatusCode::OK, "cannot list the roles: {status} {roles}");
        let role_id = roles
            .as_array()
            .and_then(|roles| roles.iter().find(|r| r["name"] == role.name()))
            .and_then(|r| r["id"].as_i64())
            .with_context(|| format!("the host has no role {:?}: {roles}", role.name()))?;
        let (status, body) = self
            .admin
            .post(
                "/api/v1/users",
                json!({ "username": username, "display_name": username, "password": USER_PASSWORD, "role_ids": [role_id] }),
            )
            .await?;
        anyhow::ensure!(status == StatusCode::CREATED, "cannot make the user {username:?}: {status} {body}");
        self.sign_in(username, USER_PASSWORD).await
    }

    /// Creates a customer through the API as the administrator (the body of
    /// `POST /api/v1/customers`, e.g. `{"name": "北京科技", "owner_id": 2}`) and returns it as
    /// the API does, with its `id` and `code`. Like every customer, it raises
    /// `customer.created` for the plugins that subscribe.
    pub async fn create_customer(&self, customer: Value) -> Result<Value> {
        let (status, body) = self.admin.post("/api/v1/customers", &customer).await?;
        anyhow::ensure!(status == StatusCode::CREATED, "cannot create the customer {customer}: {status} {body}");
        Ok(body)
    }

    /// Builds the plugin crate in `dir` for `wasm32-wasip2`, packages it with its `plugin.toml`
    /// and installs it (see [`package_crate`](crate::package_crate)). In a plugin's own tests:
    /// `host.install_crate(env!("CARGO_MANIFEST_DIR"))`.
    pub async fn install_crate(&self, dir: impl AsRef<Path>) -> Result<TestPlugin> {
        let dir = dir.as_ref().to_path_buf();
        let package = tokio::task::spawn_blocking(move || crate::package::package_crate(dir))
            .await
            .context("the build was cut short")??;
        self.install_package(package).await
    }

    /// Installs a package (`cargo xtask build-plugins` writes them to `target/plugins/`)
    /// through the admin API, as an administrator uploading it would. A package the host
    /// refuses is an error with the host's reason.
    pub async fn install_package(&self, package: Vec<u8>) -> Result<TestPlugin> {
        let request = self
            .admin
            .request(Method::POST, "/api/v1/plugins")
            .header("content-type", "application/wasm")
            .body(package);
        let (status, installed) = self.admin.send(request).await?;
        anyhow::ensure!(status == StatusCode::CREATED, "the host refused the package: {status} {installed}");
        let id = installed["plugin_id"].as_str().context("the install answer has no plugin_id")?.to_owned();
        let version = installed["version"].as_str().context("the install answer has no version")?.to_owned();
        let (status, info) = self.admin.get(&format!("/api/v1/plugins/{id}")).await?;
        anyhow::ensure!(status == StatusCode::OK, "cannot read the installed plugin {id}: {status} {info}");
        Ok(TestPlugin::new(id, version, info["manifest"].clone(), self.admin.clone(), self.state.clone(), self.org_id))
    }

    /// Calls `check` until it answers `Some(value)`, for at most [`WAIT_LIMIT`](crate::WAIT_LIMIT)
    /// (see [`wait_for`](crate::wait_for)).
    pub async fn wait_for<T, F, Fut>(&self, check: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<Option<T>>>,
    {
        crate::wait::wait_for(check).await
    }

    /// Stops the server, waits until it has finished and deletes its database.
    pub async fn stop(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        drop(self.data.take());
    }
}

impl Drop for TestHost {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

/// Sends the host's log to the test's output (shown when a test fails): warnings (a trap, an
/// overrun, an event set aside), events that will be delivered again, and every line plugins
/// write. `RUST_LOG` chooses otherwise, e.g. `RUST_LOG=plugin=debug,tessera_host=info`.
fn init_logging() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
            tracing_subscriber::EnvFilter::new("warn,plugin=trace,tessera_host::runtime::pump=info")
        });
        // Another subscriber (the test's own) wins.
        let _ = tracing_subscriber::fmt().with_env_filter(filter).with_test_writer().try_init();
    });
}
