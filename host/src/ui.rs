//! The web CRM staff use: server-rendered pages (askama templates compiled into the binary)
//! over the same domain functions as the REST API, with a little progressive JavaScript for
//! the live parts. Every page works without JavaScript except those live parts.
//!
//! - **Sessions**: the same cookie sessions as the API. Forms carry the session's CSRF token
//!   in a hidden `_csrf` field; sign-in carries a token of its own, bound to a cookie.
//! - **Language**: the user's preference, then `Accept-Language`; Chinese when neither says.
//! - **Security**: every page is sent with a Content-Security-Policy that allows no inline
//!   script or style, and askama escapes all output; plugins describe their pages as data and
//!   the host draws them, so no plugin markup reaches a page.

mod account;
mod admin;
mod admin_integrations;
mod admin_org;
mod analysis;
mod approvals;
mod assets;
mod blocks;
mod charts;
mod contacts;
mod custom_inputs;
mod customer_ops;
mod customers;
mod home;
pub mod i18n;
mod imports;
pub mod markdown;
mod messages;
mod notifications;
mod plugin_pages;

use std::cell::Cell;

use askama::Template;
use axum::Router;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header, request::Parts};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};

pub use i18n::Lang;

use crate::access::Access;
use crate::auth::{self, Authenticated, Credential};
use crate::error::Error;
use crate::web::{AppState, cookie as cookie_value, current_request_id, session_cookie};

tokio::task_local! {
    /// The language of the page being answered, so that an error page is in it too.
    static PAGE_LANG: Cell<Lang>;
}

/// The routes of the web CRM, with their security headers.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(home::home))
        .route("/sign-in", get(account::sign_in_page).post(account::sign_in))
        .route("/sign-out", post(account::sign_out))
        .route("/profile", get(account::profile).post(account::save_profile))
        .route("/profile/language", post(account::set_language))
        .route("/profile/password", post(account::change_password))
        .route("/profile/sessions/{id}/end", post(account::end_session))
        .route("/customers", get(customers::list).post(customers::create))
        .route("/customers/new", get(customers::new_form))
        .route("/customers/transfer", post(customers::transfer))
        .route("/customers/batch-edit", post(customers::batch_edit))
        .route("/customers/share", post(customers::bulk_share))
        .route("/customers/views", post(customers::save_view))
        .route("/customers/views/{id}/delete", post(customers::delete_view))
        .route("/customers/columns", post(customers::choose_columns))
        .route("/customers/{id}", get(customers::show))
        .route("/customers/{id}/follow-ups", post(customers::follow_up))
        .route("/customers/{id}/edit", get(customer_ops::edit_form).post(customer_ops::save))
        .route("/customers/{id}/shares", post(customer_ops::share))
        .route("/customers/{id}/shares/{share_id}/withdraw", post(customer_ops::unshare))
        .route("/customers/{id}/merge", post(customer_ops::merge))
        .route("/analysis", get(analysis::page))
        .route("/notifications", get(notifications::inbox))
        .route("/notifications/read-all", post(notifications::read_all))
        .route("/notifications/{id}/read", post(notifications::read_one))
        .route("/approvals", get(approvals::inbox))
        .route("/approvals/{id}", get(approvals::detail))
        .route("/approvals/{id}/{decision}", post(approvals::decide))
        .route("/admin/users", get(admin::users).post(admin::create_user))
        .route("/admin/roles", get(admin::roles).post(admin::create_role))
        .route("/admin/plugins", get(admin::plugins))
        .route("/admin/plugins/{id}/enable", get(admin::enable_form).post(admin::enable))
        .route("/admin/plugins/{id}/settings", get(admin::settings_form).post(admin::save_settings))
        .route("/admin/plugins/{id}/{what}", post(admin::change))
        .route("/p/{plugin}/{target}", get(plugin_pages::page))
        .route(
            "/p/{plugin}/{target}/act/{action}",
            // A form with a file field carries the file (see `PostedFiles`).
            post(plugin_pages::act).layer(axum::extract::DefaultBodyLimit::max(plugin_pages::MAX_FORM_BYTES)),
        )
        .merge(contacts::routes())
        .merge(imports::routes())
        .merge(admin_org::routes())
        .merge(admin_integrations::routes())
        .route("/assets/{name}", get(assets::serve))
        .route("/favicon.ico", get(|| async { axum::response::Redirect::permanent(&assets::url("icon.svg")) }))
        .layer(middleware::from_fn(page_headers))
}

/// The Content-Security-Policy of every page: scripts, styles, connections and frames (a
/// plugin's popup) from this server only, nothing inline, and no page framed by anyone (the
/// embedded form of a plugin page relaxes that to this origin, see `plugin_pages::framed`).
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; connect-src 'self'; frame-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The language the browser asks for, Chinese when it names none the CRM speaks.
fn browser_lang(headers: &HeaderMap) -> Lang {
    headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .and_then(Lang::from_accept_language)
        .unwrap_or(Lang::ZhCn)
}

async fn page_headers(req: Request, next: Next) -> Response {
    let lang = browser_lang(req.headers());
    let had_flash = cookie_value(req.headers(), plugin_pages::FLASH_COOKIE).is_some();
    let mut resp = PAGE_LANG.scope(Cell::new(lang), next.run(req)).await;
    if had_flash && !resp.status().is_redirection() {
        // The page that showed the notice clears it, so a reload does not show it again.
        let gone = format!("{}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0", plugin_pages::FLASH_COOKIE);
        if let Ok(v) = HeaderValue::from_str(&gone) {
            resp.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    secure(&mut resp);
    resp
}

/// The security headers of every page. A page that may be framed by this origin (a plugin's
/// popup) set its own policy and frame option, which stay.
fn secure(resp: &mut Response) {
    let h = resp.headers_mut();
    if !h.contains_key(header::X_FRAME_OPTIONS) {
        h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
        h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
}

fn page_lang() -> Lang {
    PAGE_LANG.try_with(Cell::get).unwrap_or(Lang::ZhCn)
}

/// A choice of a `<select>`.
pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

/// A link in the main menu.
pub struct NavItem {
    pub href: String,
    pub label: String,
    pub active: bool,
}

/// A message at the top of a page: `success`, `info`, `warning` or `error`.
pub struct Notice {
    pub kind: &'static str,
    pub text: String,
}

/// What the frame of every page needs: the language, the signed-in user, the CSRF token for
/// its forms and the main menu, with the host's items and those of enabled plugins.
pub struct Chrome {
    pub lang: Lang,
    pub title: String,
    /// The signed-in user's display name; none on the sign-in page.
    pub user_name: Option<String>,
    pub csrf: String,
    pub nav: Vec<NavItem>,
    pub unread: i64,
    pub notice: Option<Notice>,
    /// This page's path and query, where the language switch returns to.
    pub here: String,
    pub tz: jiff::tz::TimeZone,
}

impl Chrome {
    fn anonymous(lang: Lang, title_key: &str) -> Chrome {
        Chrome {
            lang,
            title: lang.t(title_key).to_owned(),
            user_name: None,
            csrf: String::new(),
            nav: Vec::new(),
            unread: 0,
            notice: None,
            here: "/".into(),
            tz: jiff::tz::TimeZone::UTC,
        }
    }

    /// The string for `key` in the page's language.
    pub fn t(&self, key: &str) -> &'static str {
        self.lang.t(key)
    }

    /// A message of the domain (a refusal, a validation error) in the page's language.
    pub fn says(&self, message: &str) -> String {
        messages::says(self.lang, message).into_owned()
    }

    /// A moment, in the organisation's time zone.
    pub fn when(&self, rfc3339: &str) -> String {
        self.lang.datetime(rfc3339, &self.tz)
    }

    /// An optional moment; a dash when there is none.
    pub fn when_opt(&self, rfc3339: &Option<String>) -> String {
        rfc3339.as_deref().map_or_else(|| self.t("field.none").to_owned(), |s| self.when(s))
    }

    /// The day of an optional moment; a dash when there is none.
    pub fn day_opt(&self, rfc3339: &Option<String>) -> String {
        rfc3339.as_deref().map_or_else(|| self.t("field.none").to_owned(), |s| self.lang.date(s, &self.tz))
    }

    pub fn number(&self, n: &i64) -> String {
        self.lang.number(*n)
    }

    /// The `lang` attribute of the page.
    pub fn lang_tag(&self) -> &'static str {
        self.lang.tag()
    }

    /// The language the switch in the header changes to.
    pub fn other_lang(&self) -> &'static str {
        match self.lang {
            Lang::En => Lang::ZhCn.tag(),
            Lang::ZhCn => Lang::En.tag(),
        }
    }

    pub fn css(&self) -> String {
        assets::url("app.css")
    }

    pub fn js(&self) -> String {
        assets::url("app.js")
    }

    pub fn icon(&self) -> String {
        assets::url("icon.svg")
    }

    /// Sets the notice named by a `notice` query parameter, if the key is one of the table's
    /// (the parameter cannot put free text on the page).
    fn notice_from_query(&mut self, key: Option<&str>) {
        if let Some(key) = key
            && (NOTICES.contains(&key) || (key.starts_with("done.") && i18n::is_key(key)))
        {
            self.notice = Some(Notice { kind: "success", text: self.t(key).to_owned() });
        }
    }
}

/// Notices a redirect after a form may ask for with `?notice=`, besides every key of the
/// `done.` namespace.
const NOTICES: &[&str] = &[
    "customers.created",
    "customers.transferred",
    "customers.bulk_edited",
    "customers.bulk_shared",
    "customers.view_saved",
    "customers.view_deleted",
    "customer.follow_up_saved",
    "customers.saved",
    "customer.shared",
    "customer.unshared",
    "customer.merged",
    "profile.saved",
    "profile.password_changed",
    "profile.session_ended",
    "approvals.approved",
    "approvals.rejected",
    "admin.user_created",
    "admin.role_created",
    "admin.plugin_enabled",
    "admin.plugin_disabled",
    "admin.plugin_upgraded",
    "admin.plugin_rolled_back",
    "admin.plugin_uninstalled",
    "admin.plugin_settings_saved",
];

/// The signed-in user of a page, with what they may do and the page's frame.
pub struct Viewer {
    pub who: Authenticated,
    pub access: Access,
    pub chrome: Chrome,
    /// The browser's address, for plugins that check where their users are.
    pub client_ip: Option<std::net::IpAddr>,
}

impl Viewer {
    pub fn org_id(&self) -> crate::store::Id {
        self.who.principal.org_id
    }

    pub fn user_id(&self) -> crate::store::Id {
        self.who.principal.user_id
    }

    pub fn lang(&self) -> Lang {
        self.chrome.lang
    }

    /// Where a plugin call made for this viewer comes from.
    pub fn origin(&self) -> crate::runtime::invoke::Origin {
        crate::runtime::invoke::Origin::new(self.lang().tag(), self.client_ip)
    }

    pub fn is_admin(&self) -> bool {
        self.access.is_admin()
    }

    /// The page's frame, with its title and the menu item `active` marked as the current one.
    pub fn chrome(mut self, title: &str, active: &str) -> Chrome {
        self.chrome.title = title.to_owned();
        for item in &mut self.chrome.nav {
            item.active = item.href == active;
        }
        self.chrome
    }
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = UiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let here = parts.uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
        let sign_in = || UiError::SignIn { next: here.clone() };
        let Some(cookie) = session_cookie(&parts.headers) else {
            return Err(sign_in());
        };
        let who = match auth::authenticate_session(&state.store, &cookie, &state.config.session).await {
            Ok(who) => who,
            Err(Error::Unauthenticated(_)) => return Err(sign_in()),
            Err(other) => return Err(other.into()),
        };
        let Credential::Session { csrf_token, .. } = &who.credential else {
            return Err(sign_in());
        };
        let lang = Lang::from_tag(&who.locale).unwrap_or_else(page_lang);
        let _ = PAGE_LANG.try_with(|l| l.set(lang));
        let access = Access::load(&state.store, who.principal).await?;
        let org = crate::org::get(&state.store, who.principal.org_id).await?;
        let tz = jiff::tz::TimeZone::get(&org.time_zone).unwrap_or(jiff::tz::TimeZone::UTC);
        let unread = crate::notifications::unread(&state.store, who.principal.user_id).await?;
        let mut nav: Vec<NavItem> = [
            ("/", "nav.home"),
            ("/customers", "nav.customers"),
            ("/contacts", "nav.contacts"),
            ("/approvals", "nav.approvals"),
            ("/analysis", "nav.analysis"),
        ]
        .into_iter()
        .map(|(href, key)| NavItem { href: href.into(), label: lang.t(key).into(), active: false })
        .collect();
        let admin = access.is_admin();
        for active in state.plugins.registry.active_in(who.principal.org_id) {
            let m = &active.loaded.manifest;
            for menu in m.menus.iter().filter(|menu| m.shows(&menu.page, admin)) {
                nav.push(NavItem {
                    href: format!("/p/{}/{}", m.plugin.id, menu.page),
                    label: menu.label.get(lang.tag()).to_owned(),
                    active: false,
                });
            }
        }
        if admin {
            nav.push(NavItem { href: "/admin/users".into(), label: lang.t("nav.admin").into(), active: false });
        }
        nav.push(NavItem { href: "/profile".into(), label: lang.t("nav.profile").into(), active: false });
        let notice = FormFields::from_query(parts.uri.query()).opt("notice");
        let flash = cookie_value(&parts.headers, plugin_pages::FLASH_COOKIE).and_then(|c| plugin_pages::read_flash(&c));
        let mut chrome = Chrome {
            lang,
            title: String::new(),
            user_name: Some(who.display_name.clone()),
            csrf: csrf_token.clone(),
            nav,
            unread,
            notice: None,
            here,
            tz,
        };
        chrome.notice_from_query(notice.as_deref());
        if chrome.notice.is_none() {
            chrome.notice = flash;
        }
        let client_ip = crate::web::ClientIp::from_request_parts(parts, state).await.map_or(None, |c| c.0);
        Ok(Viewer { who, access, chrome, client_ip })
    }
}

/// The fields of a submitted form, in order (a name may repeat, e.g. selected rows).
#[derive(Debug, Default, Clone)]
pub struct FormFields(Vec<(String, String)>);

impl FormFields {
    /// The first value of `name`, trimmed; empty when absent.
    pub fn get(&self, name: &str) -> &str {
        self.0.iter().find(|(k, _)| k == name).map_or("", |(_, v)| v.trim())
    }

    /// The first value of `name` when it is not blank.
    pub fn opt(&self, name: &str) -> Option<String> {
        Some(self.get(name)).filter(|v| !v.is_empty()).map(str::to_owned)
    }

    /// Every value of `name`.
    pub fn all(&self, name: &str) -> impl Iterator<Item = &str> {
        self.0.iter().filter(move |(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// The parameters of a query string (`a=1&b=2`); none when it is absent or malformed.
    pub fn from_query(raw: Option<&str>) -> FormFields {
        FormFields(raw.and_then(|q| serde_urlencoded::from_str(q).ok()).unwrap_or_default())
    }

    async fn read(body: axum::body::Body, headers: &HeaderMap, limit: usize) -> Result<FormFields, UiError> {
        let form_type = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        if !form_type {
            return Err(UiError::status(StatusCode::UNSUPPORTED_MEDIA_TYPE, "error.form"));
        }
        let bytes =
            read_limited(body, limit).await.ok_or(UiError::status(StatusCode::PAYLOAD_TOO_LARGE, "error.form"))?;
        let fields = serde_urlencoded::from_bytes::<Vec<(String, String)>>(&bytes)
            .map_err(|_| UiError::status(StatusCode::BAD_REQUEST, "error.form"))?;
        if fields.iter().any(|(k, v)| k.contains('\0') || v.contains('\0')) {
            return Err(UiError::status(StatusCode::BAD_REQUEST, "error.form"));
        }
        Ok(FormFields(fields))
    }
}

/// A request body, or none when it is longer than `limit` or breaks off. A longer body is
/// still read to its end (up to sixteen times the limit) and dropped, so that the browser
/// reads the answer instead of finding its connection reset while it still sends.
async fn read_limited(body: axum::body::Body, limit: usize) -> Option<Vec<u8>> {
    use futures::StreamExt;
    let mut stream = body.into_data_stream();
    let (mut kept, mut seen) = (Vec::new(), 0usize);
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.ok()?;
        seen = seen.saturating_add(chunk.len());
        if seen <= limit {
            kept.extend_from_slice(&chunk);
        } else if seen > limit.saturating_mul(16) {
            return None;
        }
    }
    (seen <= limit).then_some(kept)
}

/// A form posted by a signed-in user, with its CSRF token checked.
pub struct Posted {
    pub viewer: Viewer,
    pub form: FormFields,
}

impl FromRequest<AppState> for Posted {
    type Rejection = UiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = req.into_parts();
        let viewer = Viewer::from_request_parts(&mut parts, state).await?;
        let form = FormFields::read(body, &parts.headers, state.config.body_limit).await?;
        if !auth::constant_time_eq(form.get("_csrf"), &viewer.chrome.csrf) {
            return Err(UiError::status(StatusCode::FORBIDDEN, "error.csrf"));
        }
        Ok(Posted { viewer, form })
    }
}

/// A file of a posted multipart form.
#[derive(Debug, Clone)]
pub struct UploadPart {
    /// The form field's name.
    pub field: String,
    /// The file's name as the browser gave it.
    pub name: String,
    pub content_type: String,
    pub data: Vec<u8>,
}

/// A posted form that may carry files: a plugin's form with a `file` field is sent as
/// `multipart/form-data`, every other form as `application/x-www-form-urlencoded`. The CSRF
/// token is checked either way. A file field left empty is no file.
pub struct PostedFiles {
    pub viewer: Viewer,
    pub form: FormFields,
    pub files: Vec<UploadPart>,
}

impl FromRequest<AppState> for PostedFiles {
    type Rejection = UiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let multipart = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("multipart/form-data"));
        if !multipart {
            let Posted { viewer, form } = Posted::from_request(req, state).await?;
            return Ok(PostedFiles { viewer, form, files: Vec::new() });
        }
        let (mut parts, body) = req.into_parts();
        let viewer = Viewer::from_request_parts(&mut parts, state).await?;
        let mut multipart = axum::extract::Multipart::from_request(Request::from_parts(parts, body), state)
            .await
            .map_err(|_| UiError::status(StatusCode::BAD_REQUEST, "error.form"))?;
        let unreadable = |e: axum::extract::multipart::MultipartError| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                UiError::status(StatusCode::PAYLOAD_TOO_LARGE, "error.upload_too_big")
            } else {
                UiError::status(StatusCode::BAD_REQUEST, "blocks.file_unreadable")
            }
        };
        let (mut fields, mut files) = (Vec::new(), Vec::new());
        while let Some(field) = multipart.next_field().await.map_err(unreadable)? {
            let name = field.name().unwrap_or_default().to_owned();
            match field.file_name().map(str::to_owned) {
                Some(file_name) => {
                    let content_type = field.content_type().unwrap_or_default().to_owned();
                    let data = field.bytes().await.map_err(unreadable)?.to_vec();
                    if !file_name.is_empty() || !data.is_empty() {
                        files.push(UploadPart { field: name, name: file_name, content_type, data });
                    }
                }
                None => {
                    let value = field.text().await.map_err(unreadable)?;
                    if name.contains('\0') || value.contains('\0') {
                        return Err(UiError::status(StatusCode::BAD_REQUEST, "error.form"));
                    }
                    fields.push((name, value));
                }
            }
        }
        let form = FormFields(fields);
        if !auth::constant_time_eq(form.get("_csrf"), &viewer.chrome.csrf) {
            return Err(UiError::status(StatusCode::FORBIDDEN, "error.csrf"));
        }
        Ok(PostedFiles { viewer, form, files })
    }
}

/// A path inside the CRM to return to, from a form or query; anything else (another site,
/// `//host`, control characters) becomes the home page.
pub fn local_path(s: &str) -> &str {
    let safe = s.starts_with('/')
        && !s.starts_with("//")
        && !s.starts_with("/\\")
        && !s.chars().any(|c| c.is_control() || c == '\\');
    if safe { s } else { "/" }
}

/// Sends the browser to `to` after a form (303, so a reload does not post again).
pub fn see_other(to: &str) -> Response {
    Redirect::to(local_path(to)).into_response()
}

/// An id from a page's path or query; a word where an id belongs is a page that does not exist.
pub(super) fn path_id(raw: &str) -> Result<crate::store::Id, UiError> {
    raw.parse().map_err(|_| UiError::status(StatusCode::NOT_FOUND, "error.not_found"))
}

/// A number as typed in a form: a whole number when it is one, else a finite decimal; none
/// when it is not a number.
pub(super) fn typed_number(raw: &str) -> Option<serde_json::Value> {
    match raw.parse::<i64>() {
        Ok(n) => Some(n.into()),
        Err(_) => raw.parse::<f64>().ok().and_then(serde_json::Number::from_f64).map(serde_json::Value::Number),
    }
}

/// Why a page could not be shown.
#[derive(Debug)]
pub enum UiError {
    /// Not signed in (or the session ended): go to sign-in, then come back.
    SignIn { next: String },
    /// An error page in the page's language.
    Page { status: StatusCode, key: &'static str, detail: Option<String> },
}

impl UiError {
    pub fn status(status: StatusCode, key: &'static str) -> UiError {
        UiError::Page { status, key, detail: None }
    }
}

impl From<Error> for UiError {
    fn from(err: Error) -> Self {
        let detail = |m: String| Some(m);
        match err {
            Error::Unauthenticated(_) => UiError::SignIn { next: "/".into() },
            Error::Forbidden(m) => {
                UiError::Page { status: StatusCode::FORBIDDEN, key: "error.forbidden", detail: detail(m) }
            }
            Error::NotFound(_) => UiError::status(StatusCode::NOT_FOUND, "error.not_found"),
            Error::Invalid { message, .. } => {
                UiError::Page { status: StatusCode::UNPROCESSABLE_ENTITY, key: "error.form", detail: detail(message) }
            }
            Error::Conflict(m) => UiError::Page { status: StatusCode::CONFLICT, key: "error.title", detail: detail(m) },
            Error::Throttled { message, .. } => {
                UiError::Page { status: StatusCode::TOO_MANY_REQUESTS, key: "error.title", detail: detail(message) }
            }
            other => {
                tracing::error!(error = %other, request_id = %current_request_id(), "page failed");
                UiError::status(StatusCode::INTERNAL_SERVER_ERROR, "error.server")
            }
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    chrome: Chrome,
    message: &'static str,
    detail: Option<String>,
    reference: String,
}

impl IntoResponse for UiError {
    fn into_response(self) -> Response {
        match self {
            UiError::SignIn { next } => {
                let next = local_path(&next);
                let to = if next == "/" {
                    "/sign-in".to_owned()
                } else {
                    format!("/sign-in?{}", serde_urlencoded::to_string([("next", next)]).unwrap_or_default())
                };
                Redirect::to(&to).into_response()
            }
            UiError::Page { status, key, detail } => {
                let lang = page_lang();
                let page = ErrorPage {
                    chrome: Chrome::anonymous(lang, "error.title"),
                    message: lang.t(key),
                    detail,
                    reference: current_request_id(),
                };
                (status, render(&page)).into_response()
            }
        }
    }
}

/// Renders a template as an HTML response; a template that fails to render is a bug, logged
/// and answered with a plain 500.
pub fn render<T: Template>(page: &T) -> Response {
    match page.render() {
        Ok(html) => {
            ([(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"))], html).into_response()
        }
        Err(err) => {
            tracing::error!(error = %err, request_id = %current_request_id(), "template failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "the page failed to render").into_response()
        }
    }
}

/// Renders a template with a status other than 200 (a form shown again with its errors).
pub fn render_with<T: Template>(status: StatusCode, page: &T) -> Response {
    let mut resp = render(page);
    if resp.status() == StatusCode::OK {
        *resp.status_mut() = status;
    }
    resp
}

/// An HTML page for paths that match no route outside the API.
pub async fn not_found_page(req: Request) -> Response {
    let lang = browser_lang(req.headers());
    let mut resp = PAGE_LANG
        .scope(Cell::new(lang), async { UiError::status(StatusCode::NOT_FOUND, "error.not_found").into_response() })
        .await;
    secure(&mut resp);
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_paths_inside_the_crm_are_followed() {
        assert_eq!(local_path("/customers?q=a"), "/customers?q=a");
        for hostile in ["https://evil.example/", "//evil.example", "/\\evil.example", "/a\nb", "", "customers"] {
            assert_eq!(local_path(hostile), "/", "{hostile:?}");
        }
    }

    /// Every key a template or handler names is in the string table, so no page shows a key
    /// instead of words, in either language. A key is any quoted `prefix.rest` whose prefix
    /// is one the table uses (`customers.`, `admin.`, …).
    #[test]
    fn every_key_used_is_translated() {
        let known: std::collections::HashSet<&str> = i18n::every_string().map(|(k, _, _)| *k).collect();
        let prefixes: std::collections::HashSet<&str> =
            known.iter().filter_map(|k| k.split_once('.').map(|(p, _)| p)).collect();
        let dirs = [concat!(env!("CARGO_MANIFEST_DIR"), "/templates"), concat!(env!("CARGO_MANIFEST_DIR"), "/src/ui")];
        let mut missing = Vec::new();
        let mut used = 0;
        let mut files = vec![std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/src/ui.rs"))];
        for dir in dirs {
            // Files only: `src/ui/messages/` holds the domain's messages, not keys.
            files.extend(
                std::fs::read_dir(dir).expect("read dir").map(|e| e.expect("entry").path()).filter(|p| p.is_file()),
            );
        }
        for path in files {
            let text = std::fs::read_to_string(&path).expect("read");
            for quoted in text.split(['"', '=']).filter(|q| q.len() < 60) {
                let Some((prefix, rest)) = quoted.split_once('.') else { continue };
                let looks_like_key = prefixes.contains(prefix)
                    && !rest.is_empty()
                    && quoted.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '_');
                let file_name = matches!(quoted.rsplit('.').next(), Some("rs" | "html" | "css" | "js" | "svg"));
                if looks_like_key && !file_name {
                    used += 1;
                    if !known.contains(quoted) {
                        missing.push(format!("{}: {quoted}", path.display()));
                    }
                }
            }
        }
        assert!(used > 100, "the scan found only {used} keys; it no longer reads the templates");
        assert!(missing.is_empty(), "untranslated keys: {missing:#?}");
    }
}
