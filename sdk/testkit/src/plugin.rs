//! An installed plugin of the test host: enabling it with grants, its pages and actions, its
//! jobs.

use anyhow::{Context, Result, bail, ensure};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tessera_host::web::AppState;

use crate::client::Client;

/// A plugin installed on a [`TestHost`](crate::TestHost). Pages and actions go through the REST
/// API, as the CRM's web pages call them; jobs go to the runtime directly, as its scheduler
/// does.
#[derive(Clone)]
pub struct TestPlugin {
    id: String,
    version: String,
    manifest: Value,
    admin: Client,
    state: AppState,
    org_id: i64,
}

impl std::fmt::Debug for TestPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestPlugin").field("id", &self.id).field("version", &self.version).finish_non_exhaustive()
    }
}

impl TestPlugin {
    pub(crate) fn new(
        id: String,
        version: String,
        manifest: Value,
        admin: Client,
        state: AppState,
        org_id: i64,
    ) -> Self {
        TestPlugin { id, version, manifest, admin, state, org_id }
    }

    /// The plugin's id, from its `plugin.toml`.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The installed version.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The manifest as the host read it, as JSON (`manifest()["plugin"]["capabilities"]`, …).
    pub fn manifest(&self) -> &Value {
        &self.manifest
    }

    /// The capabilities the manifest requests.
    pub fn requested_capabilities(&self) -> Vec<String> {
        self.manifest["plugin"]["capabilities"]
            .as_array()
            .map(|caps| caps.iter().filter_map(|c| c.as_str().map(str::to_owned)).collect())
            .unwrap_or_default()
    }

    /// `/api/plugins/<id><rest>`: a path of the plugin's own API, for a [`Client`].
    pub fn api_path(&self, rest: &str) -> String {
        format!("/api/plugins/{}{rest}", self.id)
    }

    /// Enables the plugin granting every capability it requests; returns the plugin as the
    /// admin API shows it.
    pub async fn enable_all(&self) -> Result<Value> {
        self.enable(&self.requested_capabilities()).await
    }

    /// Enables the plugin granting only `capabilities` (a subset of what it requests), as the
    /// organisation's administrator does; anything else it calls is denied.
    pub async fn enable<S: AsRef<str>>(&self, capabilities: &[S]) -> Result<Value> {
        let capabilities: Vec<&str> = capabilities.iter().map(AsRef::as_ref).collect();
        let (status, body) = self
            .admin
            .post(&format!("/api/v1/plugins/{}/enable", self.id), json!({ "capabilities": capabilities }))
            .await?;
        ensure!(status == StatusCode::OK, "enabling {} with {capabilities:?} failed: {status} {body}", self.id);
        Ok(body)
    }

    /// Disables the plugin; its records and settings stay.
    pub async fn disable(&self) -> Result<Value> {
        let (status, body) = self.admin.post(&format!("/api/v1/plugins/{}/disable", self.id), json!({})).await?;
        ensure!(status == StatusCode::OK, "disabling {} failed: {status} {body}", self.id);
        Ok(body)
    }

    /// The organisation's settings of the plugin (secrets masked), as the admin API shows them.
    pub async fn settings(&self) -> Result<Value> {
        let (status, body) = self.admin.get(&format!("/api/v1/plugins/{}/settings", self.id)).await?;
        ensure!(status == StatusCode::OK, "reading the settings of {} failed: {status} {body}", self.id);
        Ok(body["values"].clone())
    }

    /// Changes settings as the administrator does in the settings form (only the keys given).
    pub async fn set_settings(&self, values: Value) -> Result<Value> {
        let (status, body) = self.admin.put(&format!("/api/v1/plugins/{}/settings", self.id), &values).await?;
        ensure!(status == StatusCode::OK, "changing the settings of {} to {values} failed: {status} {body}", self.id);
        Ok(body["values"].clone())
    }

    /// Renders a page, customer panel (`&[("customer_id", "42")]`) or widget for the
    /// administrator: `{"title", "blocks": [{"type": "table", …}, …]}`. Anything but 200 is
    /// an error with the host's answer.
    pub async fn render(&self, target: &str, params: &[(&str, &str)]) -> Result<Value> {
        self.render_as(&self.admin, target, params).await
    }

    /// Renders a page for the user signed in on `client`; the plugin sees only what they may.
    pub async fn render_as(&self, client: &Client, target: &str, params: &[(&str, &str)]) -> Result<Value> {
        let path = format!("/api/v1/plugins/{}/pages/{target}", self.id);
        let (status, body) = client.send(client.request(reqwest::Method::GET, &path).query(params)).await?;
        ensure!(status == StatusCode::OK, "rendering {target:?} of {} failed: {status} {body}", self.id);
        Ok(body)
    }

    /// Performs an action of a page for the administrator, as submitting its form or pressing
    /// its button does: `input` is the form's values. Returns the outcome: `{"type": "notice",
    /// "level", "text"}`, `{"type": "redirect", "to"}` or `{"type": "invalid", "errors"}`.
    pub async fn act(&self, target: &str, action: &str, argument: Option<&str>, input: Value) -> Result<Value> {
        self.act_as(&self.admin, target, action, argument, input).await
    }

    /// Performs an action for the user signed in on `client`.
    pub async fn act_as(
        &self,
        client: &Client,
        target: &str,
        action: &str,
        argument: Option<&str>,
        input: Value,
    ) -> Result<Value> {
        let path = format!("/api/v1/plugins/{}/pages/{target}/actions/{action}", self.id);
        let (status, body) = client.post(&path, json!({ "argument": argument, "input": input })).await?;
        ensure!(status == StatusCode::OK, "the action {action:?} of {target:?} of {} failed: {status} {body}", self.id);
        Ok(body)
    }

    /// Runs a job of the manifest now, as the scheduler would when it falls due: without a
    /// signed-in user, on the plugin's grants, under the background deadline. The plugin must
    /// be enabled and granted `schedule` (without it the host never runs its jobs). An error
    /// the job returns, or a trap, is an error naming the plugin.
    pub async fn run_job(&self, name: &str) -> Result<()> {
        let runtime = &self.state.plugins;
        let active = runtime
            .registry
            .active(self.org_id, &self.id)
            .with_context(|| format!("{} is not enabled; call enable or enable_all first", self.id))?;
        let manifest = &active.loaded.manifest;
        if !manifest.jobs.iter().any(|job| job.name == name) {
            let declared: Vec<&str> = manifest.jobs.iter().map(|job| job.name.as_str()).collect();
            bail!("{} declares no job {name:?} in its plugin.toml; it declares {declared:?}", manifest.label());
        }
        ensure!(
            active.enabled.grants.iter().any(|g| g == "schedule"),
            "{} is not granted schedule, so the host would never run its job {name:?}",
            manifest.label()
        );
        runtime
            .run_job(&active, name)
            .await
            .map_err(|failure| anyhow::anyhow!("the job {name:?} failed: {failure}"))?;
        Ok(())
    }
}
