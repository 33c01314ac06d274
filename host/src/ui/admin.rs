//! Administration pages: users, roles with their scope matrix, and plugins (enable with the
//! capability grant screen, disable, upgrade, roll back). Only organisation administrators
//! reach them; everyone else gets a 403 page.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{FromRequest, Path, Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::Value;

use super::{Choice, Chrome, FormFields, Lang, Posted, UiError, Viewer, render_with, see_other};
use crate::access::{Action, HOST_MODULES, Scope};
use crate::error::Error;
use crate::org::{departments, roles, users};
use crate::runtime::registry::{PluginInfo, PluginStatus};
use crate::store::Id;
use crate::web::{AppState, ClientIp};

pub(super) fn require_admin(viewer: &Viewer) -> Result<(), UiError> {
    viewer.access.require("org", Action::Admin, Scope::All)?;
    Ok(())
}

/// A form posted by an organisation administrator, its CSRF token checked; anyone else gets
/// the 403 page.
pub(super) struct AdminPosted(pub Viewer, pub FormFields);

impl FromRequest<AppState> for AdminPosted {
    type Rejection = UiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let Posted { viewer, form } = Posted::from_request(req, state).await?;
        require_admin(&viewer)?;
        Ok(AdminPosted(viewer, form))
    }
}

/// A page's status: 422 when it shows a refused form again.
pub(super) fn status_of(error: &Option<String>) -> StatusCode {
    if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK }
}

pub struct UserRow {
    pub display_name: String,
    pub username: String,
    pub department: String,
    pub roles: String,
    pub active: bool,
}

#[derive(Template)]
#[template(path = "admin_users.html")]
struct UsersPage {
    chrome: Chrome,
    users: Vec<UserRow>,
    departments: Vec<Choice>,
    roles: Vec<Choice>,
    form: FormFields,
    error: Option<String>,
}

async fn users_page(
    state: &AppState,
    viewer: Viewer,
    form: FormFields,
    error: Option<String>,
) -> Result<Response, UiError> {
    require_admin(&viewer)?;
    let org_id = viewer.org_id();
    let list =
        users::list(&state.store, &viewer.access, &users::UserQuery { limit: Some(500), ..Default::default() }).await?;
    let depts = departments::list(&state.store, org_id).await?;
    let dept_names: HashMap<Id, &str> = depts.iter().map(|d| (d.id, d.name.as_str())).collect();
    let all_roles = roles::list(&state.store, org_id).await?;
    let chosen_roles: Vec<&str> = form.all("role_ids").collect();
    let title = viewer.lang().t("admin.users");
    let chrome = viewer.chrome(title, "/admin/users");
    let page = UsersPage {
        users: list
            .iter()
            .map(|u| UserRow {
                display_name: u.display_name.clone(),
                username: u.username.clone(),
                department: u
                    .department_id
                    .and_then(|d| dept_names.get(&d).map(|n| (*n).to_owned()))
                    .unwrap_or_default(),
                roles: u.roles.iter().map(|r| r.name.as_str()).collect::<Vec<_>>().join(", "),
                active: u.active,
            })
            .collect(),
        departments: depts
            .iter()
            .map(|d| Choice {
                value: d.id.to_string(),
                label: d.name.clone(),
                selected: form.get("department_id") == d.id.to_string(),
            })
            .collect(),
        roles: all_roles
            .iter()
            .map(|r| Choice {
                value: r.id.to_string(),
                label: r.name.clone(),
                selected: chosen_roles.contains(&r.id.to_string().as_str()),
            })
            .collect(),
        form,
        chrome,
        error,
    };
    Ok(render_with(status_of(&page.error), &page))
}

pub async fn users(State(state): State<AppState>, viewer: Viewer) -> Result<Response, UiError> {
    users_page(&state, viewer, FormFields::default(), None).await
}

fn ids(form: &FormFields, name: &'static str) -> Result<Vec<Id>, Error> {
    form.all(name).map(|v| v.parse::<Id>().map_err(|_| Error::invalid(name, "not an id"))).collect()
}

pub async fn create_user(
    State(state): State<AppState>,
    ip: ClientIp,
    AdminPosted(viewer, form): AdminPosted,
) -> Result<Response, UiError> {
    let made = async {
        let new = users::NewUser {
            username: form.get("username").to_owned(),
            display_name: form.get("display_name").to_owned(),
            password: form.0.iter().find(|(k, _)| k == "password").map(|(_, v)| v.clone()).unwrap_or_default(),
            email: form.opt("email"),
            phone: form.opt("phone"),
            department_id: form
                .opt("department_id")
                .map(|d| d.parse())
                .transpose()
                .map_err(|_| Error::invalid("department_id", "not an id"))?,
            manager_id: None,
            locale: form.opt("locale"),
            role_ids: ids(&form, "role_ids")?,
        };
        users::create(&state, viewer.org_id(), Some(viewer.user_id()), ip.0, &new).await
    }
    .await;
    match made {
        Ok(_) => Ok(see_other("/admin/users?notice=admin.user_created")),
        Err(Error::Invalid { message, .. } | Error::Conflict(message)) => {
            users_page(&state, viewer, form, Some(message)).await
        }
        Err(e) => Err(e.into()),
    }
}

pub struct RoleRow {
    pub name: String,
    pub description: String,
    pub builtin: bool,
    pub users: i64,
    /// "customers: read (all), edit (own)" lines.
    pub grants: Vec<String>,
}

/// One row of the scope matrix: a module and, per action, the scope choices.
pub struct MatrixRow {
    pub label: &'static str,
    pub cells: Vec<MatrixCell>,
}

pub struct MatrixCell {
    pub field: String,
    pub label: String,
    pub choices: Vec<Choice>,
}

#[derive(Template)]
#[template(path = "admin_roles.html")]
struct RolesPage {
    chrome: Chrome,
    roles: Vec<RoleRow>,
    actions: Vec<&'static str>,
    matrix: Vec<MatrixRow>,
    name: String,
    description: String,
    error: Option<String>,
}

fn module_key(module: &str) -> &'static str {
    match module {
        "customers" => "admin.module.customers",
        "contacts" => "admin.module.contacts",
        "activities" => "admin.module.activities",
        _ => "admin.module.org",
    }
}

fn action_key(action: Action) -> &'static str {
    match action {
        Action::Read => "admin.action.read",
        Action::Create => "admin.action.create",
        Action::Edit => "admin.action.edit",
        Action::Delete => "admin.action.delete",
        Action::Transfer => "admin.action.transfer",
        Action::Export => "admin.action.export",
        Action::Admin => "admin.action.admin",
    }
}

fn scope_key(scope: Scope) -> &'static str {
    match scope {
        Scope::Own => "admin.scope.own",
        Scope::Department => "admin.scope.department",
        Scope::DepartmentTree => "admin.scope.department_tree",
        Scope::All => "admin.scope.all",
    }
}

fn matrix(lang: Lang, form: &FormFields) -> Vec<MatrixRow> {
    HOST_MODULES
        .iter()
        .map(|module| MatrixRow {
            label: lang.t(module_key(module)),
            cells: Action::ALL
                .iter()
                .map(|action| {
                    let field = format!("grant.{module}.{}", action.as_str());
                    let current = form.get(&field).to_owned();
                    let mut choices = vec![Choice {
                        value: String::new(),
                        label: lang.t("admin.scope.none").into(),
                        selected: current.is_empty(),
                    }];
                    choices.extend(Scope::ALL.iter().map(|scope| Choice {
                        value: scope.as_str().into(),
                        label: lang.t(scope_key(*scope)).into(),
                        selected: current == scope.as_str(),
                    }));
                    MatrixCell {
                        label: format!("{} · {}", lang.t(module_key(module)), lang.t(action_key(*action))),
                        field,
                        choices,
                    }
                })
                .collect(),
        })
        .collect()
}

async fn roles_page(
    state: &AppState,
    viewer: Viewer,
    form: FormFields,
    error: Option<String>,
) -> Result<Response, UiError> {
    require_admin(&viewer)?;
    let lang = viewer.lang();
    let list = roles::list(&state.store, viewer.org_id()).await?;
    let rows = list
        .iter()
        .map(|r| {
            let mut by_module: Vec<(String, Vec<String>)> = Vec::new();
            for g in &r.grants {
                let text = format!("{} ({})", lang.t(action_key(g.action)), lang.t(scope_key(g.scope)));
                match by_module.iter_mut().find(|(m, _)| *m == g.module) {
                    Some((_, list)) => list.push(text),
                    None => by_module.push((g.module.clone(), vec![text])),
                }
            }
            RoleRow {
                name: r.name.clone(),
                description: r.description.clone(),
                builtin: r.builtin,
                users: r.user_count,
                grants: by_module
                    .into_iter()
                    .map(|(m, list)| {
                        let label =
                            if HOST_MODULES.contains(&m.as_str()) { lang.t(module_key(&m)).to_owned() } else { m };
                        format!("{label}: {}", list.join(", "))
                    })
                    .collect(),
            }
        })
        .collect();
    let chrome = viewer.chrome(lang.t("admin.roles"), "/admin/users");
    let page = RolesPage {
        roles: rows,
        actions: Action::ALL.iter().map(|a| lang.t(action_key(*a))).collect(),
        matrix: matrix(lang, &form),
        name: form.get("name").to_owned(),
        description: form.get("description").to_owned(),
        chrome,
        error,
    };
    Ok(render_with(status_of(&page.error), &page))
}

pub async fn roles(State(state): State<AppState>, viewer: Viewer) -> Result<Response, UiError> {
    roles_page(&state, viewer, FormFields::default(), None).await
}

/// The grants a matrix form sets: every `grant.<module>.<action>` with a scope.
fn grants_of(form: &FormFields) -> Result<Vec<roles::Grant>, Error> {
    let mut grants = Vec::new();
    for module in HOST_MODULES {
        for action in Action::ALL {
            let value = form.get(&format!("grant.{module}.{}", action.as_str()));
            if value.is_empty() {
                continue;
            }
            let scope = Scope::ALL
                .into_iter()
                .find(|s| s.as_str() == value)
                .ok_or_else(|| Error::invalid("grants", format!("{value:?} is not a scope")))?;
            grants.push(roles::Grant { module: (*module).to_owned(), action, scope });
        }
    }
    Ok(grants)
}

pub async fn create_role(
    State(state): State<AppState>,
    ip: ClientIp,
    AdminPosted(viewer, form): AdminPosted,
) -> Result<Response, UiError> {
    let made = async {
        let new = roles::NewRole {
            name: form.get("name").to_owned(),
            description: form.get("description").to_owned(),
            grants: grants_of(&form)?,
        };
        roles::create(&state.store, viewer.org_id(), viewer.user_id(), ip.0, &new).await
    }
    .await;
    match made {
        Ok(_) => Ok(see_other("/admin/roles?notice=admin.role_created")),
        Err(Error::Invalid { message, .. } | Error::Conflict(message)) => {
            roles_page(&state, viewer, form, Some(message)).await
        }
        Err(e) => Err(e.into()),
    }
}

pub struct PluginRow {
    pub id: String,
    pub name: String,
    pub description: String,
    pub version: String,
    pub latest: String,
    pub enabled: bool,
    pub status: &'static str,
    pub reason: String,
    pub may_upgrade: bool,
    pub may_roll_back: bool,
    /// The organisation has it (enabled, disabled or stopped), so it can be uninstalled.
    pub in_org: bool,
    /// It is enabled and its manifest has a settings form.
    pub has_settings: bool,
}

#[derive(Template)]
#[template(path = "admin_plugins.html")]
struct PluginsPage {
    chrome: Chrome,
    plugins: Vec<PluginRow>,
}

fn localized(manifest: &Value, path: &[&str], lang: Lang) -> String {
    let mut v = manifest;
    for key in path {
        v = &v[*key];
    }
    match v {
        Value::String(s) => s.clone(),
        Value::Object(_) => {
            let (first, second) = match lang {
                Lang::ZhCn => ("zh", "en"),
                Lang::En => ("en", "zh"),
            };
            v[first].as_str().or_else(|| v[second].as_str()).unwrap_or_default().to_owned()
        }
        _ => String::new(),
    }
}

fn plugin_row(p: &PluginInfo, lang: Lang) -> PluginRow {
    let enabled = matches!(p.status, Some(PluginStatus::Enabled));
    PluginRow {
        id: p.id.clone(),
        name: localized(&p.manifest, &["plugin", "name"], lang),
        description: localized(&p.manifest, &["plugin", "description"], lang),
        version: p.version.clone().unwrap_or_else(|| p.latest.clone()),
        latest: p.latest.clone(),
        enabled,
        status: match p.status {
            Some(PluginStatus::Enabled) => "admin.plugin.enabled",
            Some(PluginStatus::Tripped) => "admin.plugin.tripped",
            Some(PluginStatus::Disabled) => "admin.plugin.disabled",
            None => "admin.plugin.installed",
        },
        reason: p.status_reason.clone().unwrap_or_default(),
        may_upgrade: enabled && p.version.as_deref().is_some_and(|v| v != p.latest),
        may_roll_back: enabled && p.previous_version.is_some(),
        in_org: p.status.is_some(),
        has_settings: enabled && p.manifest["settings"].as_array().is_some_and(|s| !s.is_empty()),
    }
}

pub async fn plugins(State(state): State<AppState>, viewer: Viewer) -> Result<Response, UiError> {
    require_admin(&viewer)?;
    let lang = viewer.lang();
    let list = state.plugins.registry.list(viewer.org_id()).await?;
    let chrome = viewer.chrome(lang.t("admin.plugins"), "/admin/users");
    let page = PluginsPage { plugins: list.iter().map(|p| plugin_row(p, lang)).collect(), chrome };
    Ok(render_with(StatusCode::OK, &page))
}

pub struct CapabilityRow {
    pub name: String,
    pub explanation: &'static str,
    pub granted: bool,
}

#[derive(Template)]
#[template(path = "admin_plugin_enable.html")]
struct EnablePage {
    chrome: Chrome,
    plugin: PluginRow,
    capabilities: Vec<CapabilityRow>,
    hosts: Vec<String>,
    error: Option<String>,
}

fn capability_key(capability: &str) -> &'static str {
    match capability {
        "customers:read" => "cap.customers_read",
        "customers:write" => "cap.customers_write",
        "customers:transfer" => "cap.customers_transfer",
        "customers:assign" => "cap.customers_assign",
        "directory:read" => "cap.directory_read",
        "activities:write" => "cap.activities_write",
        "notify" => "cap.notify",
        "workflow" => "cap.workflow",
        "http:outbound" => "cap.http_outbound",
        "http:inbound" => "cap.http_inbound",
        "schedule" => "cap.schedule",
        "events:subscribe" => "cap.events_subscribe",
        "events:publish" => "cap.events_publish",
        _ => "cap.other",
    }
}

async fn enable_page(
    state: &AppState,
    viewer: Viewer,
    id: &str,
    chosen: Option<&FormFields>,
    error: Option<String>,
) -> Result<Response, UiError> {
    require_admin(&viewer)?;
    let lang = viewer.lang();
    let info = state.plugins.registry.info(viewer.org_id(), id).await?;
    let requested: Vec<String> = info.manifest["plugin"]["capabilities"]
        .as_array()
        .map(|a| a.iter().filter_map(|c| c.as_str().map(str::to_owned)).collect())
        .unwrap_or_default();
    let capabilities = requested
        .iter()
        .map(|c| CapabilityRow {
            name: c.clone(),
            explanation: lang.t(capability_key(c)),
            granted: chosen.is_none_or(|form| form.all("capabilities").any(|g| g == c)),
        })
        .collect();
    let hosts = info.manifest["plugin"]["http-allow"]
        .as_array()
        .map(|a| a.iter().filter_map(|h| h.as_str().map(str::to_owned)).collect())
        .unwrap_or_default();
    let chrome = viewer.chrome(lang.t("admin.enable_title"), "/admin/users");
    let page = EnablePage { plugin: plugin_row(&info, lang), capabilities, hosts, chrome, error };
    Ok(render_with(status_of(&page.error), &page))
}

pub async fn enable_form(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<Response, UiError> {
    enable_page(&state, viewer, &id, None, None).await
}

pub async fn enable(
    State(state): State<AppState>,
    Path(id): Path<String>,
    AdminPosted(viewer, form): AdminPosted,
) -> Result<Response, UiError> {
    let granted: Vec<String> = form.all("capabilities").map(str::to_owned).collect();
    let registry = &state.plugins.registry;
    match registry.enable(viewer.org_id(), &id, None, &granted, Some(viewer.user_id())).await {
        Ok(_) => Ok(see_other("/admin/plugins?notice=admin.plugin_enabled")),
        Err(Error::Invalid { message, .. } | Error::Conflict(message)) => {
            enable_page(&state, viewer, &id, Some(&form), Some(message)).await
        }
        Err(e) => Err(e.into()),
    }
}

/// Disable, upgrade, roll back or uninstall (keeping or deleting the plugin's records), each
/// recorded in the audit log.
pub async fn change(
    State(state): State<AppState>,
    Path((id, what)): Path<(String, String)>,
    AdminPosted(viewer, form): AdminPosted,
) -> Result<Response, UiError> {
    let (org_id, registry) = (viewer.org_id(), &state.plugins.registry);
    let mut action = format!("plugin.{what}");
    let notice = match what.as_str() {
        "uninstall" => {
            let drop_data = match form.get("data") {
                "keep" | "" => false,
                "drop" => true,
                _ => return Err(Error::invalid("data", "keep or delete the plugin's records").into()),
            };
            registry.uninstall(org_id, &id, drop_data).await?;
            if drop_data {
                action = "plugin.uninstall_drop".into();
            }
            "admin.plugin_uninstalled"
        }
        "disable" => {
            registry.disable(org_id, &id, None, false).await?;
            "admin.plugin_disabled"
        }
        "upgrade" => {
            registry.upgrade(org_id, &id, None, None).await?;
            "admin.plugin_upgraded"
        }
        "rollback" => {
            registry.rollback(org_id, &id, None).await?;
            "admin.plugin_rolled_back"
        }
        _ => return Err(UiError::status(StatusCode::NOT_FOUND, "error.not_found")),
    };
    crate::audit::AuditEntry::new(org_id, Some(viewer.user_id()), &action)
        .detail(serde_json::json!({ "plugin": id }))
        .record(state.store.pool())
        .await?;
    Ok(see_other(&format!("/admin/plugins?notice={notice}")))
}

/// A field of a plugin's settings form.
pub struct SettingField {
    pub name: String,
    pub label: String,
    pub help: String,
    /// `text`, `secret`, `number`, `bool`, `select` or `user`.
    pub kind: String,
    pub required: bool,
    /// The value as the form shows it (never a secret's).
    pub value: String,
    /// A secret is stored (the field is left empty to keep it).
    pub has_secret: bool,
    pub choices: Vec<Choice>,
}

#[derive(Template)]
#[template(path = "admin_plugin_settings.html")]
struct SettingsPage {
    chrome: Chrome,
    plugin: PluginRow,
    fields: Vec<SettingField>,
    error: Option<String>,
}

/// A stored value as a form shows it.
fn shown(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

async fn settings_page(
    state: &AppState,
    viewer: Viewer,
    id: &str,
    typed: Option<&FormFields>,
    error: Option<String>,
) -> Result<Response, UiError> {
    require_admin(&viewer)?;
    let lang = viewer.lang();
    let org_id = viewer.org_id();
    let active = state.plugins.registry.active(org_id, id).ok_or(Error::NotFound("plugin"))?;
    let info = state.plugins.registry.info(org_id, id).await?;
    let people = users::colleagues(&state.store, org_id).await?;
    let stored = &active.enabled.settings;
    let fields = active
        .loaded
        .manifest
        .settings
        .iter()
        .map(|s| {
            let secret = s.kind == "secret";
            let value = match typed {
                Some(form) if !secret => form.get(&s.name).to_owned(),
                _ if secret => String::new(),
                _ => shown(stored.get(&s.name).or(s.default.as_ref())),
            };
            let choices = match s.kind.as_str() {
                "select" => s
                    .options
                    .iter()
                    .map(|o| Choice { value: o.clone(), label: o.clone(), selected: *o == value })
                    .collect(),
                "user" => people
                    .iter()
                    .filter(|u| u.active || u.id.to_string() == value)
                    .map(|u| Choice {
                        value: u.id.to_string(),
                        label: u.display_name.clone(),
                        selected: u.id.to_string() == value,
                    })
                    .collect(),
                _ => Vec::new(),
            };
            SettingField {
                name: s.name.clone(),
                label: s.label.get(lang.tag()).to_owned(),
                help: s.help.as_ref().map(|h| h.get(lang.tag()).to_owned()).unwrap_or_default(),
                kind: s.kind.clone(),
                required: s.required,
                has_secret: secret && stored.get(&s.name).is_some_and(|v| !v.is_null()),
                value,
                choices,
            }
        })
        .collect();
    let chrome = viewer.chrome(lang.t("admin.plugin_settings"), "/admin/users");
    let page = SettingsPage { plugin: plugin_row(&info, lang), fields, chrome, error };
    Ok(render_with(status_of(&page.error), &page))
}

pub async fn settings_form(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<Response, UiError> {
    settings_page(&state, viewer, &id, None, None).await
}

/// The settings as the plugin stores them: typed by the form's kinds, an empty secret keeping
/// the stored one.
fn typed_settings(
    manifest: &crate::runtime::manifest::Manifest,
    form: &FormFields,
) -> Result<serde_json::Map<String, Value>, Error> {
    let mut values = serde_json::Map::new();
    for s in &manifest.settings {
        let raw = form.get(&s.name).trim();
        let value = match s.kind.as_str() {
            "bool" => Value::Bool(form.get(&s.name) == "1"),
            _ if raw.is_empty() && s.kind == "secret" => continue,
            _ if raw.is_empty() => Value::Null,
            "number" => super::typed_number(raw)
                .ok_or_else(|| Error::invalid("settings", format!("{}: {raw:?} is not a number", s.name)))?,
            "user" => Value::from(
                raw.parse::<Id>().map_err(|_| Error::invalid("settings", format!("{}: choose a colleague", s.name)))?,
            ),
            _ => Value::String(raw.to_owned()),
        };
        values.insert(s.name.clone(), value);
    }
    Ok(values)
}

pub async fn save_settings(
    State(state): State<AppState>,
    Path(id): Path<String>,
    AdminPosted(viewer, form): AdminPosted,
) -> Result<Response, UiError> {
    let org_id = viewer.org_id();
    let active = state.plugins.registry.active(org_id, &id).ok_or(Error::NotFound("plugin"))?;
    let result = match typed_settings(&active.loaded.manifest, &form) {
        Ok(values) => state.plugins.registry.set_settings(org_id, &id, &values).await.map(|_| ()),
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => {
            crate::audit::AuditEntry::new(org_id, Some(viewer.user_id()), "plugin.settings")
                .detail(serde_json::json!({ "plugin": id }))
                .record(state.store.pool())
                .await?;
            Ok(see_other(&format!("/admin/plugins/{id}/settings?notice=admin.plugin_settings_saved")))
        }
        Err(Error::Invalid { message, .. }) => settings_page(&state, viewer, &id, Some(&form), Some(message)).await,
        Err(e) => Err(e.into()),
    }
}
