//! The pages enabled plugins add to the menu, and the actions of their pages, panels and
//! widgets. A plugin answers an action with a notice (shown on the page the user came from),
//! a link inside the CRM to go to, or errors by field (the form is shown again, filled in).

use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::{Map, Value};

use super::blocks::{self, BlockView, PanelView, Target};
use super::{Chrome, FormFields, PostedFiles, UiError, UploadPart, Viewer, local_path, render_with, see_other};
use crate::runtime::bindings::tessera::plugin::ui;
use crate::runtime::manifest::MAX_FILE_BYTES;
use crate::runtime::registry::Active;
use crate::web::AppState;

/// The cookie that carries an action's notice to the page the browser is sent back to.
pub const FLASH_COOKIE: &str = "tessera_flash";

/// Form fields the host adds to a plugin's forms; every other field is the plugin's.
const RESERVED: &[&str] = &["_csrf", "_argument", "_back", "_customer_id", "_types"];

#[derive(Template)]
#[template(path = "plugin_page.html")]
struct PluginPage {
    chrome: Chrome,
    panel: PanelView,
}

/// A plugin page shown inside a popup (`?embed=1`), the way `notify.pop-up` opens one: without
/// the menu, and allowed into a frame of this origin only.
#[derive(Template)]
#[template(path = "plugin_embed.html")]
struct EmbeddedPage {
    chrome: Chrome,
    panel: Option<PanelView>,
    /// Where the main window goes, when the plugin sent the user elsewhere.
    leave: Option<String>,
}

/// The query parameter that asks for the embedded form of a page.
const EMBED: &str = "embed";

/// Whether a page's path and query (a form's `_back`) is the embedded form of the page.
fn embedded(path_and_query: &str) -> bool {
    path_and_query
        .split_once('?')
        .is_some_and(|(_, q)| FormFields::from_query(Some(q)).0.iter().any(|(k, v)| k == EMBED && v == "1"))
}

/// Renders either form of a plugin page.
fn show(status: StatusCode, chrome: Chrome, panel: PanelView, embed: bool) -> Response {
    if embed {
        framed(render_with(status, &EmbeddedPage { chrome, panel: Some(panel), leave: None }))
    } else {
        render_with(status, &PluginPage { chrome, panel })
    }
}

/// Lets a page into frames of this origin (the popup's), and no other.
fn framed(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    let policy = super::CONTENT_SECURITY_POLICY.replace("frame-ancestors 'none'", "frame-ancestors 'self'");
    if let Ok(v) = HeaderValue::from_str(&policy) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("SAMEORIGIN"));
    resp
}

fn enabled(state: &AppState, org_id: crate::store::Id, plugin: &str) -> Result<Arc<Active>, UiError> {
    state
        .plugins
        .registry
        .active_in(org_id)
        .into_iter()
        .find(|a| a.loaded.manifest.plugin.id == plugin)
        .ok_or_else(|| UiError::status(StatusCode::NOT_FOUND, "error.not_found"))
}

fn is_target(active: &Active, target: &str, pages_only: bool) -> bool {
    let m = &active.loaded.manifest;
    m.pages.iter().any(|p| p.id == target) || (!pages_only && m.panels.iter().chain(&m.widgets).any(|p| p.id == target))
}

pub async fn page(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((plugin, target)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> Result<Response, UiError> {
    let active = enabled(&state, viewer.org_id(), &plugin)?;
    if !is_target(&active, &target, true) {
        return Err(UiError::status(StatusCode::NOT_FOUND, "error.not_found"));
    }
    let query = FormFields::from_query(raw.as_deref()).0;
    let embed = query.iter().any(|(k, v)| k == EMBED && v == "1");
    let params: Vec<(String, String)> = query.into_iter().filter(|(k, _)| k != "notice" && k != EMBED).collect();
    let what = Target { target: &target, customer_id: None, params, refill: None };
    let panel = blocks::render_target(&state, &active, &viewer, what).await;
    let href = format!("/p/{plugin}/{target}");
    let chrome = viewer.chrome(&panel.title, &href);
    let status = if panel.failed.is_some() { StatusCode::BAD_GATEWAY } else { StatusCode::OK };
    Ok(show(status, chrome, panel, embed))
}

/// The kinds of the form's typed fields (`_types`: `name:kind,…`, written by the host's form).
fn field_kinds(form: &FormFields) -> Vec<(&str, &str)> {
    form.get("_types").split(',').filter_map(|t| t.split_once(':')).collect()
}

/// The form's values as the plugin receives them: numbers, customers and users as numbers
/// (`null` when left empty), checkboxes as `true`/`false`, everything else as text. A number
/// that does not parse stays text, so the plugin can say what is wrong with it.
fn form_input(form: &super::FormFields) -> Map<String, Value> {
    let types = field_kinds(form);
    let kind_of = |name: &str| types.iter().find(|(n, _)| *n == name).map(|(_, k)| *k);
    let mut input = Map::new();
    for (name, raw) in &form.0 {
        if RESERVED.contains(&name.as_str()) {
            continue;
        }
        let raw = raw.trim();
        let value = match kind_of(name) {
            Some("checkbox") => Value::Bool(true),
            Some("location") => match location(raw) {
                Some(at) => at,
                // Declined or unavailable: the field is absent, as the API says.
                None => continue,
            },
            Some("number" | "customer" | "user") if raw.is_empty() => Value::Null,
            Some("number" | "customer" | "user") => raw
                .parse::<i64>()
                .map(Value::from)
                .or_else(|_| raw.parse::<f64>().map(Value::from))
                .unwrap_or_else(|_| Value::String(raw.to_owned())),
            _ => Value::String(raw.to_owned()),
        };
        input.insert(name.clone(), value);
    }
    for (name, kind) in types {
        if kind == "checkbox" && !input.contains_key(name) {
            input.insert(name.to_owned(), Value::Bool(false));
        }
    }
    input
}

/// A `location` field's value as the browser posts it (`lat,lon,accuracy`), as the plugin API
/// gives it: `{"lat": .., "lon": .., "accuracy-m": ..}`. None when empty or not a position.
fn location(raw: &str) -> Option<Value> {
    let mut parts = raw.split(',').map(|p| p.trim().parse::<f64>().ok().filter(|v| v.is_finite()));
    let lat = parts.next()??;
    let lon = parts.next()??;
    let accuracy = parts.next().flatten().filter(|a| *a >= 0.0);
    if parts.next().is_some() || !(-90.0..=90.0).contains(&lat) || !(-180.0..=180.0).contains(&lon) {
        return None;
    }
    let mut at = Map::new();
    at.insert("lat".into(), Value::from(lat));
    at.insert("lon".into(), Value::from(lon));
    if let Some(a) = accuracy {
        at.insert("accuracy-m".into(), Value::from(a));
    }
    Some(Value::Object(at))
}

/// The largest form a plugin's page posts: its files (at most 10 MiB each, see
/// [`MAX_FILE_BYTES`]) and the rest.
pub const MAX_FORM_BYTES: usize = MAX_FILE_BYTES as usize + 1024 * 1024;

/// Stores the files of a posted form among the plugin's files and puts what the plugin
/// receives for each (`{"id", "name", "content-type", "size"}`) into its input. A file field
/// the form does not declare is ignored. The message says why a file was refused.
async fn store_uploads(
    state: &AppState,
    active: &Active,
    viewer: &Viewer,
    form: &FormFields,
    files: Vec<UploadPart>,
    input: &mut Map<String, Value>,
) -> Result<(), String> {
    let declared: Vec<&str> = field_kinds(form).into_iter().filter(|(_, k)| *k == "file").map(|(n, _)| n).collect();
    let lang = viewer.lang();
    for upload in files.into_iter().filter(|u| declared.contains(&u.field.as_str())) {
        if !active.enabled.grants.iter().any(|g| g == "files") {
            return Err(lang.t("blocks.files_not_granted").to_owned());
        }
        let max = active.loaded.manifest.max_file_bytes();
        let principal = viewer.access.principal();
        let owner = crate::runtime::files::Owner {
            org_id: principal.org_id,
            plugin_id: &active.enabled.plugin_id,
            created_by: Some(principal.user_id),
        };
        let stored =
            crate::runtime::files::put(&state.store, owner, &upload.name, &upload.content_type, &upload.data, max)
                .await;
        match stored {
            Ok(f) => {
                let value =
                    serde_json::json!({"id": f.id, "name": f.name, "content-type": f.content_type, "size": f.size});
                input.insert(upload.field, value);
            }
            Err(crate::Error::Invalid { .. }) => {
                let text =
                    lang.t("blocks.file_too_big").replacen("{}", &crate::runtime::files::clean_name(&upload.name), 1);
                return Err(text.replacen("{}", &format!("{:.1} MB", max as f64 / 1048576.0), 1));
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot store an upload");
                return Err(lang.t("blocks.file_unreadable").to_owned());
            }
        }
    }
    Ok(())
}

pub async fn act(
    State(state): State<AppState>,
    Path((plugin, target, action)): Path<(String, String, String)>,
    posted: PostedFiles,
) -> Result<Response, UiError> {
    let PostedFiles { viewer, form, files } = posted;
    let active = enabled(&state, viewer.org_id(), &plugin)?;
    if !is_target(&active, &target, false) {
        return Err(UiError::status(StatusCode::NOT_FOUND, "error.not_found"));
    }
    let mut input = form_input(&form);
    let back = local_path(form.get("_back")).to_owned();
    if let Err(message) = store_uploads(&state, &active, &viewer, &form, files, &mut input).await {
        return Ok(with_flash(see_other(&back), "error", &message));
    }
    let customer_id = match form.opt("_customer_id") {
        Some(raw) => Some(raw.parse().map_err(|_| UiError::status(StatusCode::BAD_REQUEST, "error.form"))?),
        None => None,
    };
    let embed = embedded(&back);
    let outcome = state
        .plugins
        .act(
            &active,
            viewer.access.clone(),
            &viewer.origin(),
            target.clone(),
            action,
            form.opt("_argument"),
            Value::Object(input).to_string(),
        )
        .await;
    match outcome {
        Ok(ui::Outcome::Redirect(to)) if embed => {
            // The popup's frame cannot show the CRM's other pages: the main window goes there.
            let chrome = viewer.chrome("", "");
            let leave = Some(local_path(&to).to_owned());
            Ok(framed(render_with(StatusCode::OK, &EmbeddedPage { chrome, panel: None, leave })))
        }
        Ok(ui::Outcome::Redirect(to)) => Ok(see_other(&to)),
        Ok(ui::Outcome::Notice((kind, text))) => Ok(with_flash(see_other(&back), &kind, &text)),
        Ok(ui::Outcome::Invalid(errors)) => {
            // The page is drawn again with the query it was shown with (`thread?id=7`).
            let params: Vec<(String, String)> = FormFields::from_query(back.split_once('?').map(|(_, q)| q))
                .0
                .into_iter()
                .filter(|(k, _)| k != "notice" && k != EMBED)
                .collect();
            let what = Target { target: &target, customer_id, params, refill: Some((&form, &errors)) };
            let mut panel = blocks::render_target(&state, &active, &viewer, what).await;
            panel
                .blocks
                .insert(0, blocks::BlockView::Notice { kind: "error", text: viewer.lang().t("error.form").to_owned() });
            let href = format!("/p/{plugin}/{target}");
            let chrome = viewer.chrome(&panel.title, &href);
            Ok(show(StatusCode::UNPROCESSABLE_ENTITY, chrome, panel, embed))
        }
        Err(failure) => {
            tracing::warn!(plugin, error = %failure.message, "plugin action failed");
            Ok(with_flash(see_other(&back), "error", &failure.message))
        }
    }
}

/// Adds the notice cookie the next page shows (and clears).
fn with_flash(mut resp: Response, kind: &str, text: &str) -> Response {
    let kind = match kind {
        "success" | "warning" | "error" => kind,
        _ => "info",
    };
    let text: String = text.chars().take(300).collect();
    let value = serde_urlencoded::to_string([("k", kind), ("t", text.as_str())]).unwrap_or_default();
    // Form encoding leaves no `;`, `,`, space or quote, so it is a valid cookie value as it is.
    let cookie = format!("{FLASH_COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age=60");
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

/// The notice a flash cookie carries.
pub fn read_flash(cookie: &str) -> Option<super::Notice> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(cookie).ok()?;
    let kind = match pairs.iter().find(|(k, _)| k == "k")?.1.as_str() {
        "success" => "success",
        "warning" => "warning",
        "error" => "error",
        _ => "info",
    };
    let text = pairs.into_iter().find(|(k, _)| k == "t")?.1;
    Some(super::Notice { kind, text })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_values_reach_the_plugin_typed() {
        let form = super::super::FormFields(
            [
                ("_csrf", "x"),
                ("_types", "amount:number,customer_id:customer,done:checkbox,urgent:checkbox"),
                ("title", " 42 "),
                ("amount", "12.5"),
                ("customer_id", "7"),
                ("urgent", "on"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
        );
        let input = Value::Object(form_input(&form));
        assert_eq!(
            input,
            serde_json::json!({"title": "42", "amount": 12.5, "customer_id": 7, "urgent": true, "done": false})
        );
    }

    #[test]
    fn a_position_reaches_the_plugin_as_an_object_or_not_at_all() {
        let form = |at: &str| {
            super::super::FormFields(
                [("_types", "at:location"), ("at", at)]
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .collect(),
            )
        };
        let input = Value::Object(form_input(&form("31.2304, 121.4737, 35")));
        assert_eq!(input, serde_json::json!({"at": {"lat": 31.2304, "lon": 121.4737, "accuracy-m": 35.0}}));
        let input = Value::Object(form_input(&form("31.2304,121.4737")));
        assert_eq!(input, serde_json::json!({"at": {"lat": 31.2304, "lon": 121.4737}}));
        for refused in ["", "north", "95,10,5", "31,200,5", "31,121,5,9", "NaN,1,1"] {
            assert_eq!(Value::Object(form_input(&form(refused))), serde_json::json!({}), "{refused:?}");
        }
    }

    #[test]
    fn a_flash_carries_its_notice_through_the_cookie() {
        let resp = with_flash(see_other("/customers/1"), "success", "Claimed 客户 & more; done=yes");
        let cookie = resp.headers().get(header::SET_COOKIE).and_then(|v| v.to_str().ok()).expect("cookie");
        let value = cookie.strip_prefix("tessera_flash=").and_then(|c| c.split(';').next()).expect("value");
        let notice = read_flash(value).expect("notice");
        assert_eq!((notice.kind, notice.text.as_str()), ("success", "Claimed 客户 & more; done=yes"));
        assert!(read_flash("k=shout&t=x").is_some_and(|n| n.kind == "info"));
    }
}
