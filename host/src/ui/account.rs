//! Signing in and out, and the user's own profile: name, contact details, language, password
//! and open sessions.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::{
    Chrome, FormFields, Lang, Posted, UiError, Viewer, cookie_value, local_path, page_lang, render_with, see_other,
};
use crate::auth::{self, ClientInfo, SessionInfo, SignInRequest};
use crate::error::Error;
use crate::org::users;
use crate::store::Id;
use crate::web::{self, AppState, ClientIp};

/// The cookie binding the sign-in form to the browser that loaded it (sign-in has no session
/// token yet, so this stands in for it against forged sign-ins).
const SIGN_IN_COOKIE: &str = "tessera_sign_in";

#[derive(Template)]
#[template(path = "sign_in.html")]
struct SignInPage {
    chrome: Chrome,
    org: String,
    username: String,
    next: String,
    token: String,
    error: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct SignInQuery {
    next: Option<String>,
    lang: Option<String>,
    notice: Option<String>,
}

fn sign_in_form(
    lang: Lang,
    form: SignInPage,
    status: StatusCode,
    headers: &HeaderMap,
    config: &web::WebConfig,
) -> Response {
    let secure = if config.secure_cookies || headers.get("x-forwarded-proto").is_some_and(|v| v == "https") {
        "; Secure"
    } else {
        ""
    };
    let cookie =
        format!("{SIGN_IN_COOKIE}={}; Path=/sign-in; HttpOnly; SameSite=Strict; Max-Age=3600{secure}", form.token);
    let mut resp = render_with(status, &SignInPage { chrome: Chrome { lang, ..form.chrome }, ..form });
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

pub async fn sign_in_page(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<SignInQuery>) -> Response {
    let lang = q.lang.as_deref().and_then(Lang::from_tag).unwrap_or_else(page_lang);
    let mut chrome = Chrome::anonymous(lang, "signin.title");
    if q.notice.as_deref() == Some("signed_out") {
        chrome.notice = Some(super::Notice { kind: "info", text: lang.t("signin.signed_out").into() });
    }
    let next = local_path(q.next.as_deref().unwrap_or("/")).to_owned();
    let page = SignInPage {
        chrome,
        org: String::new(),
        username: String::new(),
        next,
        token: auth::random_token(24),
        error: None,
    };
    sign_in_form(lang, page, StatusCode::OK, &headers, &state.config)
}

pub async fn sign_in(State(state): State<AppState>, ip: ClientIp, req: axum::extract::Request) -> Response {
    let (parts, body) = req.into_parts();
    let lang = page_lang();
    let form = match FormFields::read(body, &parts.headers, state.config.body_limit).await {
        Ok(form) => form,
        Err(e) => return e.into_response(),
    };
    let bound = cookie_value(&parts.headers, SIGN_IN_COOKIE);
    let fresh = |error: Option<String>| SignInPage {
        chrome: Chrome::anonymous(lang, "signin.title"),
        org: form.get("org").to_owned(),
        username: form.get("username").to_owned(),
        next: local_path(form.get("next")).to_owned(),
        token: auth::random_token(24),
        error,
    };
    if bound.as_deref().is_none_or(|b| !auth::constant_time_eq(b, form.get("_token"))) {
        let page = fresh(Some(lang.t("error.csrf").into()));
        return sign_in_form(lang, page, StatusCode::FORBIDDEN, &parts.headers, &state.config);
    }
    let request = SignInRequest {
        org: form.opt("org"),
        username: form.get("username").to_owned(),
        password: form.0.iter().find(|(k, _)| k == "password").map(|(_, v)| v.clone()).unwrap_or_default(),
    };
    let client = ClientInfo {
        ip: ip.0,
        user_agent: parts.headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).map(str::to_owned),
    };
    let previous = web::session_cookie(&parts.headers);
    match auth::sign_in(&state, &request, &client, previous.as_deref()).await {
        Ok(signed) => {
            let mut resp = see_other(form.get("next"));
            let cookie = web::session_set_cookie(&state.config, &parts.headers, Some(&signed.session.secret));
            resp.headers_mut().append(header::SET_COOKIE, cookie);
            if let Ok(gone) = HeaderValue::from_str(&format!("{SIGN_IN_COOKIE}=; Path=/sign-in; Max-Age=0")) {
                resp.headers_mut().append(header::SET_COOKIE, gone);
            }
            resp
        }
        Err(err) => {
            let (status, message) = match err {
                Error::Unauthenticated(_) => (StatusCode::UNAUTHORIZED, lang.t("signin.failed").to_owned()),
                Error::Throttled { message, .. } => (StatusCode::TOO_MANY_REQUESTS, message),
                Error::Forbidden(message) => (StatusCode::FORBIDDEN, message),
                Error::Invalid { message, .. } => (StatusCode::UNPROCESSABLE_ENTITY, message),
                other => return UiError::from(other).into_response(),
            };
            sign_in_form(lang, fresh(Some(message)), status, &parts.headers, &state.config)
        }
    }
}

pub async fn sign_out(State(state): State<AppState>, ip: ClientIp, headers: HeaderMap, posted: Posted) -> Response {
    if let Some(secret) = web::session_cookie(&headers)
        && let Err(e) = auth::sign_out(&state, posted.viewer.who.principal, &secret, ip.0).await
    {
        return UiError::from(e).into_response();
    }
    let mut resp = see_other("/sign-in?notice=signed_out");
    resp.headers_mut().append(header::SET_COOKIE, web::session_set_cookie(&state.config, &headers, None));
    resp
}

/// A session as the profile page lists it.
struct SessionRow {
    id: Id,
    started: String,
    last_seen: String,
    client: String,
    current: bool,
}

#[derive(Template)]
#[template(path = "profile.html")]
struct ProfilePage {
    chrome: Chrome,
    display_name: String,
    email: String,
    phone: String,
    locale: String,
    sessions: Vec<SessionRow>,
    profile_error: Option<String>,
    password_error: Option<String>,
}

async fn profile_page(
    state: &AppState,
    viewer: Viewer,
    profile_error: Option<String>,
    password_error: Option<String>,
) -> Result<Response, UiError> {
    let user = users::get(&state.store, viewer.org_id(), viewer.user_id()).await?;
    let sessions: Vec<SessionInfo> = auth::sessions_of(&state.store, &viewer.who).await?;
    let title = viewer.lang().t("profile.title");
    let chrome = viewer.chrome(title, "/profile");
    let sessions = sessions
        .into_iter()
        .map(|s| SessionRow {
            id: s.id,
            started: chrome.when(&s.created_at),
            last_seen: chrome.when(&s.last_seen_at),
            client: s.user_agent.map(|ua| ua.chars().take(80).collect()).unwrap_or_default(),
            current: s.current,
        })
        .collect();
    let failed = profile_error.is_some() || password_error.is_some();
    let page = ProfilePage {
        chrome,
        display_name: user.display_name,
        email: user.email.unwrap_or_default(),
        phone: user.phone.unwrap_or_default(),
        locale: user.locale,
        sessions,
        profile_error,
        password_error,
    };
    Ok(render_with(if failed { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK }, &page))
}

pub async fn profile(State(state): State<AppState>, viewer: Viewer) -> Result<Response, UiError> {
    profile_page(&state, viewer, None, None).await
}

pub async fn save_profile(State(state): State<AppState>, posted: Posted) -> Result<Response, UiError> {
    let Posted { viewer, form } = posted;
    let patch = users::ProfilePatch {
        display_name: Some(form.get("display_name").to_owned()),
        email: Some(form.opt("email")),
        phone: Some(form.opt("phone")),
        locale: Some(form.get("locale").to_owned()).filter(|l| !l.is_empty()),
    };
    match users::update_profile(&state.store, viewer.org_id(), viewer.user_id(), &patch).await {
        Ok(_) => Ok(see_other("/profile?notice=profile.saved")),
        Err(Error::Invalid { message, .. }) => profile_page(&state, viewer, Some(message), None).await,
        Err(e) => Err(e.into()),
    }
}

/// The language switch in every page's header: stores the preference, then returns.
pub async fn set_language(State(state): State<AppState>, posted: Posted) -> Result<Response, UiError> {
    let Posted { viewer, form } = posted;
    let lang = Lang::from_tag(form.get("lang")).ok_or_else(|| Error::invalid("lang", "the language is zh-CN or en"))?;
    let patch = users::ProfilePatch { locale: Some(lang.tag().into()), ..Default::default() };
    users::update_profile(&state.store, viewer.org_id(), viewer.user_id(), &patch).await?;
    Ok(see_other(form.get("back")))
}

pub async fn change_password(State(state): State<AppState>, ip: ClientIp, posted: Posted) -> Result<Response, UiError> {
    let Posted { viewer, form } = posted;
    let change = auth::PasswordChange {
        current_password: form
            .0
            .iter()
            .find(|(k, _)| k == "current_password")
            .map(|(_, v)| v.clone())
            .unwrap_or_default(),
        new_password: form.0.iter().find(|(k, _)| k == "new_password").map(|(_, v)| v.clone()).unwrap_or_default(),
    };
    match auth::change_password(&state, &viewer.who, ip.0, &change).await {
        Ok(()) => Ok(see_other("/profile?notice=profile.password_changed")),
        Err(Error::Invalid { message, .. } | Error::Forbidden(message) | Error::Throttled { message, .. }) => {
            profile_page(&state, viewer, None, Some(message)).await
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn end_session(
    State(state): State<AppState>,
    ip: ClientIp,
    Path(id): Path<Id>,
    posted: Posted,
) -> Result<Response, UiError> {
    auth::end_own_session(&state, posted.viewer.who.principal, ip.0, id).await?;
    Ok(see_other("/profile?notice=profile.session_ended"))
}
