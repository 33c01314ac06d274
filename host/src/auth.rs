//! Sign-in and the signed-in user: passwords, cookie sessions, personal API tokens,
//! throttling and lockout, sign-in restrictions, and the self-service API (`/api/v1/me…`).

mod password;
pub mod restrictions;
mod session;
pub mod throttle;
pub mod token;

use std::net::IpAddr;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

pub use password::{MAX_PASSWORD_CHARS, MIN_PASSWORD_CHARS, PasswordHasher, check_policy};
pub use session::{NewSession, SessionInfo, SessionPolicy};
pub use token::{NewToken, NewTokenRequest, TokenInfo};

use crate::access::Principal;
use crate::audit::AuditEntry;
use crate::error::{Error, Result};
use crate::org::{self, users};
use crate::store::{Id, Store};
use crate::web::{self, ApiResult, AppState, Auth, ClientIp, ErrorBody, Json, Path};

/// A caller whose credentials checked out.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub principal: Principal,
    pub username: String,
    pub display_name: String,
    pub locale: String,
    pub credential: Credential,
}

/// How the caller proved who they are.
#[derive(Debug, Clone)]
pub enum Credential {
    Session { session_id: Id, csrf_token: String },
    Token { token_id: Id },
}

/// `bytes` random bytes as unpadded URL-safe base64.
pub fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::fill(buf.as_mut_slice());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf)
}

pub fn sha256_hex(s: &str) -> String {
    let digest = Sha256::digest(s.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Compares secrets without leaking where they differ through timing.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

pub async fn authenticate_session(store: &Store, secret: &str, policy: &SessionPolicy) -> Result<Authenticated> {
    session::authenticate(store, secret, policy).await
}

/// Ends every session of a user but `keep`.
pub async fn end_all_sessions<'e, E>(exec: E, org_id: Id, user_id: Id, keep: Option<Id>) -> Result<u64>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    session::end_all_for_user(exec, org_id, user_id, keep).await
}

pub async fn authenticate_token(store: &Store, token: &str) -> Result<Authenticated> {
    token::authenticate(store, token).await
}

/// A sign-in attempt.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignInRequest {
    /// The organisation's short name; may be left out when the installation has one organisation.
    pub org: Option<String>,
    pub username: String,
    pub password: String,
}

/// Where an attempt comes from.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    pub ip: Option<IpAddr>,
    pub user_agent: Option<String>,
}

/// A successful sign-in.
#[derive(Debug)]
pub struct SignedIn {
    pub org_id: Id,
    pub user_id: Id,
    pub session: NewSession,
}

const WRONG_CREDENTIALS: &str = "wrong organisation, user name or password";

/// Checks a password sign-in against throttling, the password, the account state and the
/// sign-in restrictions, then opens a session. `previous` is the session cookie the browser
/// still held, which is ended so that the session id changes at sign-in.
pub async fn sign_in(
    state: &AppState,
    req: &SignInRequest,
    client: &ClientInfo,
    previous: Option<&str>,
) -> Result<SignedIn> {
    let store = &state.store;
    if req.username.len() > 200 || req.password.chars().count() > MAX_PASSWORD_CHARS {
        return Err(Error::Unauthenticated(WRONG_CREDENTIALS.into()));
    }
    let org = match &req.org {
        Some(slug) => org::find_by_slug(store, slug).await?,
        None => org::only_org(store).await?,
    }
    .ok_or_else(|| match &req.org {
        Some(_) => Error::Unauthenticated(WRONG_CREDENTIALS.into()),
        None => Error::invalid(
            "org",
            "name your organisation's short name in `org`; this installation does not have exactly one",
        ),
    })?;
    let address_key = client.ip.map(|ip| throttle::address_key(&ip.to_string()));
    if let Some(key) = &address_key {
        throttle::ensure_unlocked(store, key, "from your address").await?;
    }
    let account_key = throttle::account_key(org.id, &req.username);
    throttle::reserve(store, &account_key, &throttle::ACCOUNT_POLICY, "for this account").await?;
    let username = req.username.trim().to_lowercase();
    // Whatever happens during the check, the reservation is settled.
    let checked = async {
        let creds = users::credentials(store, org.id, &username).await?;
        let ok = state.hasher.verify(&req.password, creds.as_ref().map(|c| c.password_hash.as_str())).await?;
        Ok::<_, Error>((creds, ok))
    }
    .await;
    let ok = matches!(checked, Ok((_, true)));
    let started_lock = throttle::settle(store, &account_key, &throttle::ACCOUNT_POLICY, true, ok).await?;
    let (creds, ok) = checked?;
    let user_id = creds.as_ref().map(|c| c.id);
    let audit = |action| {
        AuditEntry::new(org.id, user_id, action).ip(client.ip).detail(serde_json::json!({ "username": username }))
    };
    if !ok {
        audit("sign_in.failed").record(store.pool()).await?;
        if started_lock {
            audit("sign_in.locked").record(store.pool()).await?;
        }
        if let Some(key) = &address_key {
            throttle::settle(store, key, &throttle::ADDRESS_POLICY, false, false).await?;
        }
        return Err(Error::Unauthenticated(WRONG_CREDENTIALS.into()));
    }
    let Some(user) = creds else {
        return Err(Error::Unauthenticated(WRONG_CREDENTIALS.into()));
    };
    if !user.active {
        audit("sign_in.refused_disabled").record(store.pool()).await?;
        return Err(Error::Forbidden("this account is disabled; ask an administrator".into()));
    }
    if let Err(e) = restrictions::check(store, org.id, user.id, &org.time_zone, client.ip).await {
        audit("sign_in.restricted").record(store.pool()).await?;
        return Err(e);
    }
    if let Some(old) = previous {
        session::end_by_secret(store, old).await?;
    }
    let session = session::create(
        store,
        org.id,
        user.id,
        &state.config.session,
        client.ip.map(|ip| ip.to_string()).as_deref(),
        client.user_agent.as_deref(),
    )
    .await?;
    audit("sign_in.succeeded").target("session", session.id).record(store.pool()).await?;
    Ok(SignedIn { org_id: org.id, user_id: user.id, session })
}

pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(sign_in_handler))
        .routes(routes!(sign_out_handler))
        .routes(routes!(me, update_me))
        .routes(routes!(change_my_password))
        .routes(routes!(my_sessions))
        .routes(routes!(end_my_session))
        .routes(routes!(my_tokens, create_my_token))
        .routes(routes!(revoke_my_token))
        .routes(routes!(org_tokens))
        .routes(routes!(revoke_org_token))
        .routes(routes!(list_rules, create_rule))
        .routes(routes!(delete_rule))
}

/// What sign-in answers.
#[derive(Debug, Serialize, ToSchema)]
pub struct SignInResponse {
    pub user: users::Me,
    /// Send this as `X-CSRF-Token` with every cookie-authenticated write.
    pub csrf_token: String,
    pub expires_at: String,
}

fn client_info(ip: ClientIp, headers: &HeaderMap) -> ClientInfo {
    ClientInfo {
        ip: ip.0,
        user_agent: headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).map(str::to_owned),
    }
}

/// Signs in with a password and sets the session cookie.
#[utoipa::path(post, path = "/api/v1/auth/sign-in", tag = "auth", request_body = SignInRequest,
    responses((status = 200, body = SignInResponse), (status = 401, body = ErrorBody),
              (status = 403, description = "disabled account or sign-in restriction", body = ErrorBody),
              (status = 429, description = "too many failed attempts; see Retry-After", body = ErrorBody)))]
async fn sign_in_handler(
    State(state): State<AppState>,
    ip: ClientIp,
    headers: HeaderMap,
    Json(req): Json<SignInRequest>,
) -> ApiResult<Response> {
    let previous = web::session_cookie(&headers);
    let signed = sign_in(&state, &req, &client_info(ip, &headers), previous.as_deref()).await?;
    let me = users::me(&state.store, signed.org_id, signed.user_id).await?;
    let body = SignInResponse {
        user: me,
        csrf_token: signed.session.csrf_token.clone(),
        expires_at: crate::timefmt::rfc3339(signed.session.expires_at),
    };
    let cookie = web::session_set_cookie(&state.config, &headers, Some(&signed.session.secret));
    Ok(([(header::SET_COOKIE, cookie)], Json(body)).into_response())
}

/// Signs out: ends the session on the server and clears the cookie.
#[utoipa::path(post, path = "/api/v1/auth/sign-out", tag = "auth",
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("session" = [])))]
async fn sign_out_handler(
    State(state): State<AppState>,
    ip: ClientIp,
    auth: Auth,
    headers: HeaderMap,
) -> ApiResult<Response> {
    if let Some(secret) = web::session_cookie(&headers)
        && matches!(auth.0.credential, Credential::Session { .. })
    {
        sign_out(&state, auth.0.principal, &secret, ip.0).await?;
    }
    let cookie = web::session_set_cookie(&state.config, &headers, None);
    Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, cookie)]).into_response())
}

/// Ends the session whose cookie holds `secret`, with an audit entry.
pub async fn sign_out(state: &AppState, p: Principal, secret: &str, ip: Option<IpAddr>) -> Result<()> {
    session::end_by_secret(&state.store, secret).await?;
    AuditEntry::new(p.org_id, Some(p.user_id), "sign_out").ip(ip).record(state.store.pool()).await
}

/// The signed-in user: profile, organisation, roles and effective permissions.
#[utoipa::path(get, path = "/api/v1/me", tag = "me",
    responses((status = 200, body = users::Me), (status = 401, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn me(State(state): State<AppState>, auth: Auth) -> ApiResult<Json<users::Me>> {
    let mut me = users::me(&state.store, auth.0.principal.org_id, auth.0.principal.user_id).await?;
    if let Credential::Session { csrf_token, .. } = &auth.0.credential {
        me.csrf_token = Some(csrf_token.clone());
    }
    Ok(Json(me))
}

/// Updates the signed-in user's own profile.
#[utoipa::path(patch, path = "/api/v1/me", tag = "me", request_body = users::ProfilePatch,
    responses((status = 200, body = users::Me), (status = 422, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn update_me(
    State(state): State<AppState>,
    auth: Auth,
    Json(patch): Json<users::ProfilePatch>,
) -> ApiResult<Json<users::Me>> {
    let p = auth.0.principal;
    users::update_profile(&state.store, p.org_id, p.user_id, &patch).await?;
    Ok(Json(users::me(&state.store, p.org_id, p.user_id).await?))
}

/// A password change by its owner.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    pub current_password: String,
    /// At least 12 characters; no composition rules.
    pub new_password: String,
}

/// Changes the signed-in user's password; every other session of theirs ends.
#[utoipa::path(post, path = "/api/v1/me/password", tag = "me", request_body = PasswordChange,
    responses((status = 204), (status = 403, description = "current password wrong", body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn change_my_password(
    State(state): State<AppState>,
    ip: ClientIp,
    auth: Auth,
    Json(req): Json<PasswordChange>,
) -> ApiResult<StatusCode> {
    change_password(&state, &auth.0, ip.0, &req).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Changes a user's own password after checking the current one (throttled like sign-in);
/// every other session of theirs ends.
pub async fn change_password(
    state: &AppState,
    who: &Authenticated,
    ip: Option<IpAddr>,
    req: &PasswordChange,
) -> Result<()> {
    let p = who.principal;
    let account_key = throttle::account_key(p.org_id, &who.username);
    throttle::reserve(&state.store, &account_key, &throttle::ACCOUNT_POLICY, "for this account").await?;
    let checked = async {
        let creds = users::credentials(&state.store, p.org_id, &who.username).await?;
        state.hasher.verify(&req.current_password, creds.as_ref().map(|c| c.password_hash.as_str())).await
    }
    .await;
    let ok = matches!(checked, Ok(true));
    throttle::settle(&state.store, &account_key, &throttle::ACCOUNT_POLICY, true, ok).await?;
    if !checked? {
        return Err(Error::Forbidden("the current password is wrong".into()));
    }
    check_policy(&req.new_password, &who.username)?;
    let hash = state.hasher.hash(&req.new_password).await?;
    let keep = match who.credential {
        Credential::Session { session_id, .. } => Some(session_id),
        Credential::Token { .. } => None,
    };
    users::store_password(&state.store, p.org_id, p.user_id, &hash, keep, Some(p.user_id), ip, "password.changed").await
}

/// The signed-in user's open sessions.
#[utoipa::path(get, path = "/api/v1/me/sessions", tag = "me",
    responses((status = 200, body = [SessionInfo])), security(("token" = []), ("session" = [])))]
async fn my_sessions(State(state): State<AppState>, auth: Auth) -> ApiResult<Json<Vec<SessionInfo>>> {
    Ok(Json(sessions_of(&state.store, &auth.0).await?))
}

/// A user's open sessions, marking the one this request uses.
pub async fn sessions_of(store: &Store, who: &Authenticated) -> Result<Vec<SessionInfo>> {
    let current = match who.credential {
        Credential::Session { session_id, .. } => Some(session_id),
        Credential::Token { .. } => None,
    };
    session::list_for_user(store, who.principal.org_id, who.principal.user_id, current).await
}

/// Ends one of the signed-in user's sessions (for example on a lost phone).
#[utoipa::path(delete, path = "/api/v1/me/sessions/{id}", tag = "me", params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)), security(("token" = []), ("session" = [])))]
async fn end_my_session(
    State(state): State<AppState>,
    ip: ClientIp,
    auth: Auth,
    Path(id): Path<Id>,
) -> ApiResult<StatusCode> {
    end_own_session(&state, auth.0.principal, ip.0, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Ends one of a user's own sessions, with an audit entry.
pub async fn end_own_session(state: &AppState, p: Principal, ip: Option<IpAddr>, id: Id) -> Result<()> {
    session::end_for_user(&state.store, p.org_id, p.user_id, id).await?;
    AuditEntry::new(p.org_id, Some(p.user_id), "session.ended")
        .target("session", id)
        .ip(ip)
        .record(state.store.pool())
        .await
}

/// The signed-in user's API tokens.
#[utoipa::path(get, path = "/api/v1/me/tokens", tag = "me",
    responses((status = 200, body = [TokenInfo])), security(("token" = []), ("session" = [])))]
async fn my_tokens(State(state): State<AppState>, auth: Auth) -> ApiResult<Json<Vec<TokenInfo>>> {
    let p = auth.0.principal;
    Ok(Json(token::list(&state.store, p.org_id, Some(p.user_id)).await?))
}

/// Makes a personal API token; the secret is in this answer only.
#[utoipa::path(post, path = "/api/v1/me/tokens", tag = "me", request_body = NewTokenRequest,
    responses((status = 201, body = NewToken), (status = 422, body = ErrorBody)), security(("token" = []), ("session" = [])))]
async fn create_my_token(
    State(state): State<AppState>,
    ip: ClientIp,
    auth: Auth,
    Json(req): Json<NewTokenRequest>,
) -> ApiResult<(StatusCode, Json<NewToken>)> {
    let p = auth.0.principal;
    let made = token::create(&state.store, p.org_id, p.user_id, &req).await?;
    AuditEntry::new(p.org_id, Some(p.user_id), "token.created")
        .target("api_token", made.info.id)
        .ip(ip.0)
        .detail(serde_json::json!({ "name": made.info.name, "expires_at": made.info.expires_at }))
        .record(state.store.pool())
        .await?;
    Ok((StatusCode::CREATED, Json(made)))
}

/// Revokes one of the signed-in user's tokens.
#[utoipa::path(delete, path = "/api/v1/me/tokens/{id}", tag = "me", params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)), security(("token" = []), ("session" = [])))]
async fn revoke_my_token(
    State(state): State<AppState>,
    ip: ClientIp,
    auth: Auth,
    Path(id): Path<Id>,
) -> ApiResult<StatusCode> {
    let p = auth.0.principal;
    token::revoke(&state.store, p.org_id, Some(p.user_id), id).await?;
    AuditEntry::new(p.org_id, Some(p.user_id), "token.revoked")
        .target("api_token", id)
        .ip(ip.0)
        .record(state.store.pool())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Filter of the organisation's tokens.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TokenQuery {
    /// Only this user's tokens.
    pub user_id: Option<Id>,
}

/// Every API token of the organisation (administrators).
#[utoipa::path(get, path = "/api/v1/tokens", tag = "admin", params(TokenQuery),
    responses((status = 200, body = [TokenInfo]), (status = 403, body = ErrorBody)), security(("token" = []), ("session" = [])))]
async fn org_tokens(
    State(state): State<AppState>,
    auth: Auth,
    web::Query(q): web::Query<TokenQuery>,
) -> ApiResult<Json<Vec<TokenInfo>>> {
    auth.require_admin(&state).await?;
    Ok(Json(token::list(&state.store, auth.0.principal.org_id, q.user_id).await?))
}

/// Revokes any API token of the organisation (administrators).
#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "admin", params(("id" = i64, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)), security(("token" = []), ("session" = [])))]
async fn revoke_org_token(
    State(state): State<AppState>,
    ip: ClientIp,
    auth: Auth,
    Path(id): Path<Id>,
) -> ApiResult<StatusCode> {
    auth.require_admin(&state).await?;
    let p = auth.0.principal;
    let owner = token::revoke(&state.store, p.org_id, None, id).await?;
    AuditEntry::new(p.org_id, Some(p.user_id), "token.revoked")
        .target("api_token", id)
        .ip(ip.0)
        .detail(serde_json::json!({ "owner_user_id": owner }))
        .record(state.store.pool())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The organisation's sign-in restrictions (administrators).
#[utoipa::path(get, path = "/api/v1/sign-in-rules", tag = "admin",
    responses((status = 200, body = [restrictions::SignInRule]), (status = 403, body = ErrorBody)), security(("token" = []), ("session" = [])))]
async fn list_rules(State(state): State<AppState>, auth: Auth) -> ApiResult<Json<Vec<restrictions::SignInRule>>> {
    auth.require_admin(&state).await?;
    Ok(Json(restrictions::list(&state.store, auth.0.principal.org_id).await?))
}

/// Adds a sign-in restriction for a user or a role (administrators).
#[utoipa::path(post, path = "/api/v1/sign-in-rules", tag = "admin", request_body = restrictions::NewSignInRule,
    responses((status = 201, body = restrictions::SignInRule), (status = 422, body = ErrorBody)), security(("token" = []), ("session" = [])))]
async fn create_rule(
    State(state): State<AppState>,
    ip: ClientIp,
    auth: Auth,
    Json(req): Json<restrictions::NewSignInRule>,
) -> ApiResult<(StatusCode, Json<restrictions::SignInRule>)> {
    auth.require_admin(&state).await?;
    let p = auth.0.principal;
    let rule = restrictions::create(&state.store, p.org_id, Some(p.user_id), ip.0, &req).await?;
    Ok((StatusCode::CREATED, Json(rule)))
}

/// Removes a sign-in restriction (administrators).
#[utoipa::path(delete, path = "/api/v1/sign-in-rules/{id}", tag = "admin", params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)), security(("token" = []), ("session" = [])))]
async fn delete_rule(
    State(state): State<AppState>,
    ip: ClientIp,
    auth: Auth,
    Path(id): Path<Id>,
) -> ApiResult<StatusCode> {
    auth.require_admin(&state).await?;
    let p = auth.0.principal;
    restrictions::delete(&state.store, p.org_id, Some(p.user_id), ip.0, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
