//! The plugin API of the host: administration (install, enable with grants, disable,
//! upgrade, roll back, uninstall, settings), the UI contributions of enabled plugins, page
//! rendering and actions, and the plugins' own HTTP routes under `/api/plugins/<id>/…`
//! (signed-in users) and `/hooks/<id>/<org>/…` (inbound webhooks).

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::bindings::tessera::plugin::ui;
use super::bindings::{HttpRequest, PluginFault};
use super::invoke::{CallFailure, FailureKind, Origin};
use super::licenses::LicenseInfo;
use super::package::MAX_PACKAGE_BYTES;
use super::registry::{Active, InstalledVersion, PluginInfo};
use crate::error::Error;
use crate::web::{ApiError, ApiResult, AppState, Auth, ClientIp, ErrorBody, Json, Query};

pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_plugins))
        .merge(OpenApiRouter::new().routes(routes!(install)).layer(DefaultBodyLimit::max(MAX_PACKAGE_BYTES)))
        .routes(routes!(get_plugin, uninstall))
        .routes(routes!(enable))
        .routes(routes!(disable))
        .routes(routes!(upgrade))
        .routes(routes!(rollback))
        .routes(routes!(get_settings, put_settings))
        .routes(routes!(put_license))
        .routes(routes!(contributions))
        .routes(routes!(render_page))
        .routes(routes!(act))
        .routes(routes!(run_job))
        .routes(routes!(customer_plugin_timeline))
}

/// The plugins' own routes, outside the OpenAPI document (each plugin defines its own).
pub(crate) fn plugin_http() -> Router<AppState> {
    Router::new()
        .route("/api/plugins/{plugin}", any(api_root))
        .route("/api/plugins/{plugin}/", any(api_root))
        .route("/api/plugins/{plugin}/{*rest}", any(api_route))
        .route("/hooks/{plugin}/{org}", any(hook_root))
        .route("/hooks/{plugin}/{org}/", any(hook_root))
        .route("/hooks/{plugin}/{org}/{*rest}", any(hook_route))
}

/// A failed plugin call as an HTTP error: the plugin's own API errors keep their meaning,
/// an overrun or a crash is the plugin's failure (502, or 504 for a deadline).
impl From<CallFailure> for ApiError {
    fn from(f: CallFailure) -> Self {
        match (&f.kind, &f.fault) {
            (FailureKind::Deadline, _) => ApiError::new(StatusCode::GATEWAY_TIMEOUT, "plugin_deadline", f.message),
            (FailureKind::Busy, _) => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "plugin_busy", f.message),
            (FailureKind::Fault, Some(fault)) => {
                let status = match fault {
                    PluginFault::Denied(_) => StatusCode::FORBIDDEN,
                    PluginFault::NotFound(_) => StatusCode::NOT_FOUND,
                    PluginFault::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
                    PluginFault::Conflict(_) => StatusCode::CONFLICT,
                    PluginFault::Limited(_) => StatusCode::TOO_MANY_REQUESTS,
                    PluginFault::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
                    PluginFault::Internal(_) => StatusCode::BAD_GATEWAY,
                };
                ApiError::new(status, "plugin_error", f.message)
            }
            _ => ApiError::new(StatusCode::BAD_GATEWAY, "plugin_failed", f.message),
        }
    }
}

fn not_enabled(plugin: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "plugin_not_enabled",
        format!("the plugin {plugin:?} is not enabled in this organisation"),
    )
}

fn active(state: &AppState, org_id: crate::store::Id, plugin: &str) -> ApiResult<Arc<Active>> {
    state.plugins.registry.active(org_id, plugin).ok_or_else(|| not_enabled(plugin))
}

/// The plugins this organisation can install or runs (administrators).
#[utoipa::path(get, path = "/api/v1/plugins", tag = "plugins",
    responses((status = 200, body = [PluginInfo]), (status = 403, body = ErrorBody)), security(("token" = []), ("session" = [])))]
async fn list_plugins(State(state): State<AppState>, auth: Auth) -> ApiResult<Json<Vec<PluginInfo>>> {
    auth.require_admin(&state).await?;
    Ok(Json(state.plugins.registry.list(auth.0.principal.org_id).await?))
}

/// Installs a plugin package for this organisation: a signed `.tpkg`
/// (`application/vnd.tessera.tpkg`, as the marketplace delivers it), or on a host started in
/// developer mode also a bare component (`application/wasm`, as `cargo xtask build-plugins`
/// makes it). Nothing runs until it is enabled (administrators).
#[utoipa::path(post, path = "/api/v1/plugins", tag = "plugins",
    request_body(content((Vec<u8> = "application/vnd.tessera.tpkg"), (Vec<u8> = "application/wasm"))),
    responses((status = 201, body = InstalledVersion), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn install(
    State(state): State<AppState>,
    auth: Auth,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<InstalledVersion>)> {
    auth.require_admin(&state).await?;
    let p = auth.0.principal;
    let installed = state.plugins.registry.install(body.to_vec(), "upload", Some(p.org_id), Some(p.user_id)).await?;
    crate::audit::AuditEntry::new(p.org_id, Some(p.user_id), "plugin.install")
        .detail(json!({ "plugin": installed.plugin_id, "version": installed.version, "sha256": installed.sha256 }))
        .record(state.store.pool())
        .await?;
    Ok((StatusCode::CREATED, Json(installed)))
}

/// One plugin (administrators).
#[utoipa::path(get, path = "/api/v1/plugins/{id}", tag = "plugins", params(("id" = String, Path)),
    responses((status = 200, body = PluginInfo), (status = 404, body = ErrorBody)), security(("token" = []), ("session" = [])))]
async fn get_plugin(State(state): State<AppState>, auth: Auth, Path(id): Path<String>) -> ApiResult<Json<PluginInfo>> {
    auth.require_admin(&state).await?;
    Ok(Json(state.plugins.registry.info(auth.0.principal.org_id, &id).await?))
}

/// A license token from the marketplace.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LicenseRequest {
    /// The token as the marketplace gave it (`tl1.…`).
    pub token: String,
}

/// Installs this organisation's license of a plugin, checked against the host's marketplace
/// keys, the plugin and the organisation's marketplace account (taken from the first license
/// stored). A plugin whose manifest requires a license is enabled and loaded only with one
/// that is valid or in its grace period (administrators).
#[utoipa::path(put, path = "/api/v1/plugins/{id}/license", tag = "plugins", params(("id" = String, Path)), request_body = LicenseRequest,
    responses((status = 200, body = LicenseInfo), (status = 422, body = ErrorBody)), security(("token" = []), ("session" = [])))]
async fn put_license(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    Json(req): Json<LicenseRequest>,
) -> ApiResult<Json<LicenseInfo>> {
    auth.require_admin(&state).await?;
    let p = auth.0.principal;
    let info = super::licenses::store(&state.plugins.registry, p.org_id, &id, &req.token, Some(p.user_id)).await?;
    Ok(Json(info))
}

/// What to enable.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnableRequest {
    /// A version; the newest installed by default.
    pub version: Option<String>,
    /// The capabilities granted: a subset of what the manifest requests.
    #[serde(default)]
    pub capabilities: Vec<String>,
}

/// Enables a plugin with the capabilities granted to it (administrators). Its tables are
/// created, its jobs scheduled, and it starts receiving events from now on.
#[utoipa::path(post, path = "/api/v1/plugins/{id}/enable", tag = "plugins", params(("id" = String, Path)), request_body = EnableRequest,
    responses((status = 200, body = PluginInfo), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn enable(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    Json(req): Json<EnableRequest>,
) -> ApiResult<Json<PluginInfo>> {
    auth.require_admin(&state).await?;
    let p = auth.0.principal;
    let registry = &state.plugins.registry;
    registry.enable(p.org_id, &id, req.version.as_deref(), &req.capabilities, Some(p.user_id)).await?;
    Ok(Json(registry.info(p.org_id, &id).await?))
}

/// Stops running a plugin; its records and settings stay (administrators).
#[utoipa::path(post, path = "/api/v1/plugins/{id}/disable", tag = "plugins", params(("id" = String, Path)),
    responses((status = 200, body = PluginInfo), (status = 404, body = ErrorBody)), security(("token" = []), ("session" = [])))]
async fn disable(State(state): State<AppState>, auth: Auth, Path(id): Path<String>) -> ApiResult<Json<PluginInfo>> {
    auth.require_admin(&state).await?;
    let p = auth.0.principal;
    state.plugins.registry.disable(p.org_id, &id, None, false).await?;
    audit(&state, &auth, "plugin.disable", &id).await?;
    Ok(Json(state.plugins.registry.info(p.org_id, &id).await?))
}

/// What to upgrade to.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpgradeRequest {
    /// A version; the newest installed by default (and newer ones are then taken up as they
    /// are installed).
    pub version: Option<String>,
    /// The capabilities granted from now on; the current grants by default.
    pub capabilities: Option<Vec<String>>,
}

/// Moves to another version (administrators).
#[utoipa::path(post, path = "/api/v1/plugins/{id}/upgrade", tag = "plugins", params(("id" = String, Path)), request_body = UpgradeRequest,
    responses((status = 200, body = PluginInfo), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn upgrade(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    Json(req): Json<UpgradeRequest>,
) -> ApiResult<Json<PluginInfo>> {
    auth.require_admin(&state).await?;
    let p = auth.0.principal;
    state.plugins.registry.upgrade(p.org_id, &id, req.version.as_deref(), req.capabilities.as_deref()).await?;
    audit(&state, &auth, "plugin.upgrade", &id).await?;
    Ok(Json(state.plugins.registry.info(p.org_id, &id).await?))
}

/// Where to roll back to.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RollbackRequest {
    /// A version; the one before the last upgrade by default.
    pub version: Option<String>,
}

/// Goes back to an earlier version and stays there until the next upgrade (administrators).
#[utoipa::path(post, path = "/api/v1/plugins/{id}/rollback", tag = "plugins", params(("id" = String, Path)), request_body = RollbackRequest,
    responses((status = 200, body = PluginInfo), (status = 409, body = ErrorBody)), security(("token" = []), ("session" = [])))]
async fn rollback(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    Json(req): Json<RollbackRequest>,
) -> ApiResult<Json<PluginInfo>> {
    auth.require_admin(&state).await?;
    let p = auth.0.principal;
    state.plugins.registry.rollback(p.org_id, &id, req.version.as_deref()).await?;
    audit(&state, &auth, "plugin.rollback", &id).await?;
    Ok(Json(state.plugins.registry.info(p.org_id, &id).await?))
}

/// Whether uninstalling keeps the plugin's records.
#[derive(Debug, Deserialize, IntoParams)]
pub struct UninstallQuery {
    /// `keep` (default) or `drop`.
    pub data: Option<String>,
}

/// Removes a plugin from this organisation, keeping (`data=keep`) or deleting (`data=drop`)
/// its records (administrators).
#[utoipa::path(delete, path = "/api/v1/plugins/{id}", tag = "plugins", params(("id" = String, Path), UninstallQuery),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)), security(("token" = []), ("session" = [])))]
async fn uninstall(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    Query(q): Query<UninstallQuery>,
) -> ApiResult<StatusCode> {
    auth.require_admin(&state).await?;
    let drop_data = match q.data.as_deref() {
        None | Some("keep") => false,
        Some("drop") => true,
        Some(other) => return Err(Error::invalid("data", format!("data must be keep or drop, not {other:?}")).into()),
    };
    state.plugins.registry.uninstall(auth.0.principal.org_id, &id, drop_data).await?;
    audit(&state, &auth, if drop_data { "plugin.uninstall_drop" } else { "plugin.uninstall" }, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn audit(state: &AppState, auth: &Auth, action: &str, plugin: &str) -> ApiResult<()> {
    let p = auth.0.principal;
    crate::audit::AuditEntry::new(p.org_id, Some(p.user_id), action)
        .detail(json!({ "plugin": plugin }))
        .record(state.store.pool())
        .await?;
    Ok(())
}

/// A plugin's settings form and values.
#[derive(Debug, Serialize, ToSchema)]
pub struct SettingsView {
    #[schema(value_type = Object)]
    pub form: Value,
    #[schema(value_type = Object)]
    pub values: Map<String, Value>,
}

/// The settings form and its values (administrators); secrets are masked.
#[utoipa::path(get, path = "/api/v1/plugins/{id}/settings", tag = "plugins", params(("id" = String, Path)),
    responses((status = 200, body = SettingsView), (status = 404, body = ErrorBody)), security(("token" = []), ("session" = [])))]
async fn get_settings(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<SettingsView>> {
    auth.require_admin(&state).await?;
    let active = active(&state, auth.0.principal.org_id, &id)?;
    Ok(Json(settings_view(&active.loaded.manifest, &active.enabled.settings)))
}

fn settings_view(manifest: &super::manifest::Manifest, values: &Map<String, Value>) -> SettingsView {
    let mut shown = values.clone();
    for s in manifest.settings.iter().filter(|s| s.kind == "secret") {
        if shown.get(&s.name).is_some_and(|v| !v.is_null()) {
            shown.insert(s.name.clone(), Value::String("••••••".into()));
        }
    }
    shown.retain(|k, _| !k.starts_with('_'));
    SettingsView { form: serde_json::to_value(&manifest.settings).unwrap_or(Value::Null), values: shown }
}

/// Changes settings (administrators): only the keys sent change.
#[utoipa::path(put, path = "/api/v1/plugins/{id}/settings", tag = "plugins", params(("id" = String, Path)), request_body = Object,
    responses((status = 200, body = SettingsView), (status = 422, body = ErrorBody)), security(("token" = []), ("session" = [])))]
async fn put_settings(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    Json(values): Json<Map<String, Value>>,
) -> ApiResult<Json<SettingsView>> {
    auth.require_admin(&state).await?;
    let org_id = auth.0.principal.org_id;
    let saved = state.plugins.registry.set_settings(org_id, &id, &values).await?;
    audit(&state, &auth, "plugin.settings", &id).await?;
    let active = active(&state, org_id, &id)?;
    Ok(Json(settings_view(&active.loaded.manifest, &saved)))
}

/// A menu item, page, panel or widget an enabled plugin contributes, in the user's language.
#[derive(Debug, Serialize, ToSchema)]
pub struct Contribution {
    pub plugin: String,
    pub id: String,
    pub title: String,
    /// For menu items: the page it opens.
    pub page: Option<String>,
    pub icon: Option<String>,
    pub order: i32,
}

/// What the enabled plugins add to the CRM.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct Contributions {
    pub menus: Vec<Contribution>,
    pub pages: Vec<Contribution>,
    pub panels: Vec<Contribution>,
    pub widgets: Vec<Contribution>,
}

/// Menu items, pages, customer panels and dashboard widgets of the organisation's enabled
/// plugins, in the signed-in user's language.
#[utoipa::path(get, path = "/api/v1/ui/plugins", tag = "plugins",
    responses((status = 200, body = Contributions)), security(("token" = []), ("session" = [])))]
async fn contributions(State(state): State<AppState>, auth: Auth) -> ApiResult<Json<Contributions>> {
    let locale = auth.0.locale.clone();
    let admin = auth.access(&state).await?.is_admin();
    let mut out = Contributions::default();
    for active in state.plugins.registry.active_in(auth.0.principal.org_id) {
        let m = &active.loaded.manifest;
        let plugin = m.plugin.id.clone();
        let item = |id: &str, title: &super::manifest::Localized| Contribution {
            plugin: plugin.clone(),
            id: id.to_owned(),
            title: title.get(&locale).to_owned(),
            page: None,
            icon: None,
            order: 0,
        };
        let shown = |id: &str| m.shows(id, admin);
        out.menus.extend(m.menus.iter().filter(|menu| shown(&menu.page)).map(|menu| Contribution {
            page: Some(menu.page.clone()),
            icon: menu.icon.clone(),
            order: menu.order,
            ..item(&menu.id, &menu.label)
        }));
        out.pages.extend(m.pages.iter().filter(|p| shown(&p.id)).map(|p| item(&p.id, &p.title)));
        out.panels.extend(m.panels.iter().filter(|p| shown(&p.id)).map(|p| item(&p.id, &p.title)));
        out.widgets.extend(m.widgets.iter().filter(|p| shown(&p.id)).map(|p| item(&p.id, &p.title)));
    }
    out.menus.sort_by(|a, b| a.order.cmp(&b.order).then(a.title.cmp(&b.title)));
    Ok(Json(out))
}

/// Renders a plugin page, customer panel (`customer_id=`) or widget for the signed-in user,
/// as declarative blocks. Other query parameters reach the plugin.
#[utoipa::path(get, path = "/api/v1/plugins/{id}/pages/{target}", tag = "plugins",
    params(("id" = String, Path), ("target" = String, Path)),
    responses((status = 200, body = Object), (status = 404, body = ErrorBody), (status = 502, body = ErrorBody), (status = 504, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn render_page(
    State(state): State<AppState>,
    auth: Auth,
    Path((id, target)): Path<(String, String)>,
    Query(params): Query<Vec<(String, String)>>,
    ClientIp(client_ip): ClientIp,
) -> ApiResult<Json<Value>> {
    let access = auth.access(&state).await?;
    let active = active(&state, auth.0.principal.org_id, &id)?;
    let m = &active.loaded.manifest;
    if !m.pages.iter().chain(&m.panels).chain(&m.widgets).any(|p| p.id == target) {
        return Err(ApiError::new(StatusCode::NOT_FOUND, "not_found", format!("{} has no page {target:?}", m.label())));
    }
    let customer_id = match params.iter().find(|(k, _)| k == "customer_id") {
        Some((_, v)) => Some(v.parse().map_err(|_| Error::invalid("customer_id", "customer_id must be a number"))?),
        None => None,
    };
    let request = ui::RenderRequest { target, customer_id, params };
    let page = state.plugins.render(&active, access, &Origin::new(&auth.0.locale, client_ip), request).await?;
    Ok(Json(page_json(&page)))
}

/// An action on a page.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActRequest {
    pub argument: Option<String>,
    /// The form's values.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub input: Map<String, Value>,
}

/// Performs an action of a plugin page for the signed-in user.
#[utoipa::path(post, path = "/api/v1/plugins/{id}/pages/{target}/actions/{action}", tag = "plugins",
    params(("id" = String, Path), ("target" = String, Path), ("action" = String, Path)), request_body = ActRequest,
    responses((status = 200, body = Object), (status = 404, body = ErrorBody), (status = 502, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn act(
    State(state): State<AppState>,
    auth: Auth,
    Path((id, target, action)): Path<(String, String, String)>,
    ClientIp(client_ip): ClientIp,
    Json(req): Json<ActRequest>,
) -> ApiResult<Json<Value>> {
    let access = auth.access(&state).await?;
    let active = active(&state, auth.0.principal.org_id, &id)?;
    let input = Value::Object(req.input).to_string();
    let origin = Origin::new(&auth.0.locale, client_ip);
    let outcome = state.plugins.act(&active, access, &origin, target, action, req.argument, input).await?;
    Ok(Json(outcome_json(&outcome)))
}

/// What a job run by hand took.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobRun {
    pub job: String,
    /// Wall-clock milliseconds of the run.
    pub elapsed_ms: u64,
    /// Host calls the job made.
    pub host_calls: u32,
}

/// Runs a job of an enabled plugin now, as the scheduler would when it falls due: without a
/// signed-in user, on the plugin's grants, under the background deadline (administrators).
/// The scheduled runs go on as before.
#[utoipa::path(post, path = "/api/v1/plugins/{id}/jobs/{job}/run", tag = "plugins",
    params(("id" = String, Path), ("job" = String, Path)),
    responses((status = 200, body = JobRun), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 502, body = ErrorBody), (status = 504, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn run_job(
    State(state): State<AppState>,
    auth: Auth,
    Path((id, job)): Path<(String, String)>,
) -> ApiResult<Json<JobRun>> {
    auth.require_admin(&state).await?;
    let p = auth.0.principal;
    let active = active(&state, p.org_id, &id)?;
    if !active.loaded.manifest.jobs.iter().any(|j| j.name == job) {
        return Err(Error::NotFound("job").into());
    }
    if !active.enabled.grants.iter().any(|g| g == "schedule") {
        return Err(Error::Conflict(format!(
            "{} is not granted schedule, so its jobs do not run",
            active.loaded.manifest.label()
        ))
        .into());
    }
    let stats = state.plugins.run_job(&active, &job).await?;
    audit(&state, &auth, "plugin.job_run", &id).await?;
    let elapsed_ms = u64::try_from(stats.elapsed.as_millis()).unwrap_or(u64::MAX);
    Ok(Json(JobRun { job, elapsed_ms, host_calls: stats.host_calls }))
}

fn action_json(a: &ui::Action) -> Value {
    json!({ "name": a.name, "label": a.label, "style": a.style, "argument": a.argument })
}

/// A page as the REST API and the web pages receive it: `{"title", "blocks": [{"type", …}]}`.
pub fn page_json(page: &ui::Page) -> Value {
    let blocks: Vec<Value> = page
        .blocks
        .iter()
        .map(|b| match b {
            ui::Block::Heading(t) => json!({ "type": "heading", "text": t }),
            ui::Block::Text(t) => json!({ "type": "text", "markdown": t }),
            ui::Block::KeyValues(kv) => json!({ "type": "key_values", "items": kv }),
            ui::Block::Table(t) => json!({
                "type": "table",
                "columns": t.columns.iter().map(|c| json!({ "key": c.key, "label": c.label })).collect::<Vec<_>>(),
                "rows": t.rows, "row_ids": t.row_ids,
                "row_actions": t.row_actions.iter().map(action_json).collect::<Vec<_>>(),
                "next": t.next,
            }),
            ui::Block::Form(f) => json!({
                "type": "form",
                "submit": action_json(&f.submit),
                "fields": f.fields.iter().map(|field| json!({
                    "name": field.name, "label": field.label, "kind": field.kind, "required": field.required,
                    "options": field.options,
                    "value": field.value.as_deref().and_then(|v| serde_json::from_str::<Value>(v).ok()),
                    "help": field.help,
                })).collect::<Vec<_>>(),
            }),
            ui::Block::Stats(stats) => json!({
                "type": "stats",
                "items": stats.iter().map(|s| json!({ "label": s.label, "value": s.value, "hint": s.hint })).collect::<Vec<_>>(),
            }),
            ui::Block::Chart(c) => json!({
                "type": "chart", "kind": c.kind, "labels": c.labels,
                "series": c.series.iter().map(|(name, values)| json!({ "name": name, "values": values })).collect::<Vec<_>>(),
            }),
            ui::Block::Actions(actions) => {
                json!({ "type": "actions", "items": actions.iter().map(action_json).collect::<Vec<_>>() })
            }
            ui::Block::Notice((level, text)) => json!({ "type": "notice", "level": level, "text": text }),
        })
        .collect();
    json!({ "title": page.title, "blocks": blocks })
}

/// An action's outcome: `{"type": "notice" | "redirect" | "invalid", …}`.
pub fn outcome_json(outcome: &ui::Outcome) -> Value {
    match outcome {
        ui::Outcome::Notice((level, text)) => json!({ "type": "notice", "level": level, "text": text }),
        ui::Outcome::Redirect(to) => json!({ "type": "redirect", "to": to }),
        ui::Outcome::Invalid(errors) => {
            let map: Map<String, Value> = errors.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect();
            json!({ "type": "invalid", "errors": map })
        }
    }
}

async fn api_root(
    state: State<AppState>,
    auth: Auth,
    client: ClientIp,
    Path(plugin): Path<String>,
    req: Request,
) -> Response {
    plugin_api(state, auth, client, plugin, String::new(), req).await
}

async fn api_route(
    state: State<AppState>,
    auth: Auth,
    client: ClientIp,
    Path((plugin, rest)): Path<(String, String)>,
    req: Request,
) -> Response {
    plugin_api(state, auth, client, plugin, rest, req).await
}

/// `/api/plugins/<id>/…`: the plugin answers for the signed-in user.
async fn plugin_api(
    State(state): State<AppState>,
    auth: Auth,
    ClientIp(client_ip): ClientIp,
    plugin: String,
    rest: String,
    req: Request,
) -> Response {
    let result = async {
        let access = auth.access(&state).await?;
        let active = active(&state, auth.0.principal.org_id, &plugin)?;
        let request = to_plugin_request(req, &rest, "api", state.plugins.limits.max_body_bytes).await?;
        let (response, _) =
            state.plugins.handle_http(&active, Some(access), &Origin::new(&auth.0.locale, client_ip), request).await?;
        Ok::<_, ApiError>(from_plugin_response(&active, response))
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

async fn hook_root(
    state: State<AppState>,
    client: ClientIp,
    Path((plugin, org)): Path<(String, String)>,
    req: Request,
) -> Response {
    plugin_hook(state, client, plugin, org, String::new(), req).await
}

async fn hook_route(
    state: State<AppState>,
    client: ClientIp,
    Path((plugin, org, rest)): Path<(String, String, String)>,
    req: Request,
) -> Response {
    plugin_hook(state, client, plugin, org, rest, req).await
}

/// `/hooks/<id>/<org>/…`: an inbound webhook; anyone may call it, so the plugin must have
/// been granted `http:inbound` and checks the caller's signature itself.
async fn plugin_hook(
    State(state): State<AppState>,
    ClientIp(client_ip): ClientIp,
    plugin: String,
    org: String,
    rest: String,
    req: Request,
) -> Response {
    let result = async {
        let org = crate::org::find_by_slug(&state.store, &org).await?.ok_or_else(|| not_enabled(&plugin))?;
        let active = active(&state, org.id, &plugin)?;
        if !active.enabled.grants.iter().any(|g| g == "http:inbound") {
            return Err(not_enabled(&plugin));
        }
        let request = to_plugin_request(req, &rest, "hook", state.plugins.limits.max_body_bytes).await?;
        let (response, _) = state.plugins.handle_http(&active, None, &Origin::new("zh-CN", client_ip), request).await?;
        Ok::<_, ApiError>(from_plugin_response(&active, response))
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

/// Headers a plugin never sees: the caller's credentials stay with the host. A webhook's
/// `authorization` is no credential of the host's, and the plugin checks it itself.
const HIDDEN_REQUEST_HEADERS: &[&str] = &["cookie", "authorization", "x-csrf-token"];
const HIDDEN_HOOK_HEADERS: &[&str] = &["cookie", "x-csrf-token"];

async fn to_plugin_request(req: Request, rest: &str, kind: &str, limit: usize) -> ApiResult<HttpRequest> {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, limit).await.map_err(|_| {
        ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "body_too_large", format!("the body is over {limit} bytes"))
    })?;
    let hidden = if kind == "hook" { HIDDEN_HOOK_HEADERS } else { HIDDEN_REQUEST_HEADERS };
    let headers = parts
        .headers
        .iter()
        .filter(|(name, _)| !hidden.contains(&name.as_str()))
        .filter_map(|(name, value)| value.to_str().ok().map(|v| (name.as_str().to_owned(), v.to_owned())))
        .collect();
    Ok(HttpRequest {
        method: parts.method.as_str().to_owned(),
        path: format!("/{rest}"),
        query: parts.uri.query().unwrap_or_default().to_owned(),
        headers,
        body: body.to_vec(),
        kind: kind.to_owned(),
    })
}

/// Content types a plugin may answer with; anything else (HTML, script, SVG) is sent as a
/// download, so no plugin markup ever runs in the CRM's origin.
const SAFE_CONTENT_TYPES: &[&str] = &[
    "application/json",
    "text/plain",
    "text/csv",
    "application/octet-stream",
    "image/png",
    "image/jpeg",
    "image/gif",
    "application/pdf",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
];

/// Response headers a plugin may set.
const PLUGIN_RESPONSE_HEADERS: &[&str] = &[
    "cache-control",
    "etag",
    "last-modified",
    "location",
    "retry-after",
    "content-disposition",
    "idempotent-replayed",
];

fn from_plugin_response(active: &Active, response: super::bindings::HttpResponse) -> Response {
    let status =
        StatusCode::from_u16(response.status).ok().filter(|s| !s.is_informational()).unwrap_or(StatusCode::BAD_GATEWAY);
    let mut headers = HeaderMap::new();
    let mut content_type = None;
    for (name, value) in &response.headers {
        let lower = name.to_ascii_lowercase();
        if lower == "content-type" {
            content_type = Some(value.clone());
        } else if PLUGIN_RESPONSE_HEADERS.contains(&lower.as_str())
            && let (Ok(n), Ok(v)) = (HeaderName::from_bytes(lower.as_bytes()), HeaderValue::from_str(value))
        {
            headers.insert(n, v);
        }
    }
    let essence = content_type.as_deref().map(|c| c.split(';').next().unwrap_or_default().trim().to_ascii_lowercase());
    match essence {
        Some(e) if SAFE_CONTENT_TYPES.contains(&e.as_str()) => {
            if let Some(v) = content_type.and_then(|c| HeaderValue::from_str(&c).ok()) {
                headers.insert(header::CONTENT_TYPE, v);
            }
        }
        None if response.body.is_empty() => {}
        _ => {
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
            headers.insert(header::CONTENT_DISPOSITION, HeaderValue::from_static("attachment"));
        }
    }
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("default-src 'none'; sandbox"));
    if let Ok(v) = HeaderValue::from_str(&active.loaded.label()) {
        headers.insert("x-plugin", v);
    }
    let mut resp = Response::new(Body::from(response.body));
    *resp.status_mut() = status;
    *resp.headers_mut() = headers;
    resp
}

/// Records of enabled plugins linked to a customer, for its timeline, newest first (the
/// customer must be visible to the signed-in user).
#[utoipa::path(get, path = "/api/v1/customers/{id}/plugin-timeline", tag = "plugins", params(("id" = i64, Path)),
    responses((status = 200, body = [super::entities::TimelineItem]), (status = 404, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn customer_plugin_timeline(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<crate::store::Id>,
) -> ApiResult<Json<Vec<super::entities::TimelineItem>>> {
    let access = auth.access(&state).await?;
    let active = state.plugins.registry.active_in(auth.0.principal.org_id);
    let sources: Vec<(&str, &super::manifest::Entity)> = active
        .iter()
        .flat_map(|a| {
            a.loaded.manifest.entities.iter().filter(|e| e.timeline.is_some()).map(move |e| (a.loaded.id(), e))
        })
        .collect();
    Ok(Json(super::entities::timeline(&state.store, &access, id, &sources, 50).await?))
}
