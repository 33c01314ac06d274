//! The HTTP surface: shared state, the JSON error type every handler returns, the extractors
//! that turn malformed input into precise 4xx answers, the middleware stack, and the router
//! that assembles every module's routes with the OpenAPI document generated from them.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{ConnectInfo, DefaultBodyLimit, FromRequest, FromRequestParts, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header, request::Parts};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::{Router, routing::get};
use serde::Serialize;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;

use crate::access::{Access, Action, Scope};
use crate::auth::{self, Authenticated, Credential, PasswordHasher};
use crate::error::Error;
use crate::store::Store;

/// Settings of the web layer.
#[derive(Debug, Clone)]
pub struct WebConfig {
    /// Mark cookies `Secure` (the CRM is reached over TLS, usually through a proxy).
    pub secure_cookies: bool,
    /// Take the client address from `X-Forwarded-For` (only behind a proxy you run).
    pub trust_proxy: bool,
    pub session: auth::SessionPolicy,
    /// Largest request body accepted, in bytes.
    pub body_limit: usize,
}

impl Default for WebConfig {
    fn default() -> Self {
        WebConfig {
            secure_cookies: false,
            trust_proxy: false,
            session: auth::SessionPolicy::default(),
            body_limit: 1024 * 1024,
        }
    }
}

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub config: Arc<WebConfig>,
    pub hasher: PasswordHasher,
    /// Progress of customer imports running on this node.
    pub imports: Arc<crate::customers::import::ImportProgress>,
    /// The plugin runtime of this node.
    pub plugins: Arc<crate::runtime::Runtime>,
}

impl AppState {
    pub fn new(store: Store, config: WebConfig) -> Self {
        Self::with_plugins(store, config, crate::runtime::RuntimeConfig::default())
    }

    /// A state whose plugin runtime is set up as `plugins` says.
    pub fn with_plugins(store: Store, config: WebConfig, plugins: crate::runtime::RuntimeConfig) -> Self {
        let runtime = crate::runtime::Runtime::new(store.clone(), plugins);
        AppState {
            store,
            config: Arc::new(config),
            hasher: PasswordHasher::new(),
            imports: Arc::default(),
            plugins: runtime,
        }
    }
}

tokio::task_local! {
    static REQUEST_ID: String;
}

pub fn current_request_id() -> String {
    REQUEST_ID.try_with(Clone::clone).unwrap_or_default()
}

/// The JSON body of every error: `{"error": {"code", "message", "request_id"}}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// A stable, machine-readable code such as `invalid_input` or `not_found`.
    pub code: String,
    /// What went wrong, in words a person can act on.
    pub message: String,
    /// Quote this when reporting a problem; the server log carries the same id.
    pub request_id: String,
    /// The request field at fault, where there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// The one error type of every handler.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    field: Option<&'static str>,
    retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError { status, code, message: message.into(), field: None, retry_after: None }
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }
}

impl From<Error> for ApiError {
    fn from(err: Error) -> Self {
        match err {
            Error::Unauthenticated(m) => ApiError::new(StatusCode::UNAUTHORIZED, "unauthenticated", m),
            Error::Forbidden(m) => ApiError::new(StatusCode::FORBIDDEN, "forbidden", m),
            Error::NotFound(what) => ApiError::new(StatusCode::NOT_FOUND, "not_found", format!("{what} not found")),
            Error::Invalid { field, message } => {
                ApiError { field, ..ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_input", message) }
            }
            Error::Conflict(m) => ApiError::new(StatusCode::CONFLICT, "conflict", m),
            Error::Throttled { retry_after_secs, message } => ApiError {
                retry_after: Some(retry_after_secs),
                ..ApiError::new(StatusCode::TOO_MANY_REQUESTS, "too_many_attempts", message)
            },
            other => {
                tracing::error!(error = %other, request_id = %current_request_id(), "request failed");
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "the server failed to handle this request")
            }
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        let code = match r.status() {
            StatusCode::PAYLOAD_TOO_LARGE => "body_too_large",
            StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
            StatusCode::UNPROCESSABLE_ENTITY => "invalid_input",
            _ => "malformed_json",
        };
        let status = if r.status().is_client_error() { r.status() } else { StatusCode::BAD_REQUEST };
        ApiError::new(status, code, r.body_text())
    }
}

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_path", r.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", r.body_text())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.to_owned(),
                message: self.message,
                request_id: current_request_id(),
                field: self.field.map(str::to_owned),
            },
        };
        let mut resp = (self.status, axum::Json(body)).into_response();
        if let Some(secs) = self.retry_after {
            resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if self.status == StatusCode::PAYLOAD_TOO_LARGE {
            // The rest of the body was not read, so this connection cannot carry another
            // request; say so, or a client may reuse it and see its next request fail.
            resp.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        resp
    }
}

/// Handler result.
pub type ApiResult<T> = Result<T, ApiError>;

/// JSON body extractor whose rejections are [`ApiError`]s; also the JSON response type.
/// Text containing NUL characters is refused here, for every endpoint: no backend stores it
/// the same way, and no person types it.
#[derive(Debug)]
pub struct Json<T>(pub T);

impl<T, S> FromRequest<S> for Json<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let (parts, body) = req.into_parts();
        if !json_content_type(&parts.headers) {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as JSON with `Content-Type: application/json`",
            ));
        }
        let bytes = axum::body::Bytes::from_request(Request::from_parts(parts.clone(), body), state)
            .await
            .map_err(|e| ApiError::new(e.status(), "body_too_large", e.body_text()))?;
        if has_escaped_nul(&bytes) {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_input",
                "text must not contain NUL (\\u0000) characters",
            ));
        }
        let axum::Json(value) = axum::Json::<T>::from_bytes(&bytes).map_err(ApiError::from)?;
        Ok(Json(value))
    }
}

fn json_content_type(headers: &HeaderMap) -> bool {
    headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).and_then(|v| v.split(';').next()).is_some_and(
        |mime| {
            let mime = mime.trim().to_ascii_lowercase();
            mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
        },
    )
}

/// Whether a JSON text holds a `\u0000` escape (a NUL character) in any string.
fn has_escaped_nul(bytes: &[u8]) -> bool {
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' {
            if bytes.get(i + 1) == Some(&b'u') && bytes.get(i + 2..i + 6) == Some(b"0000".as_slice()) {
                return true;
            }
            i += 2;
        } else {
            i += 1;
        }
    }
    false
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// Path extractor whose rejections are [`ApiError`]s.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct Path<T>(pub T);

/// Query-string extractor whose rejections are [`ApiError`]s.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct Query<T>(pub T);

/// The address of the client: the socket peer, or the first `X-Forwarded-For` hop when the
/// host is configured to trust its proxy.
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub Option<IpAddr>);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        if state.config.trust_proxy {
            let forwarded = parts
                .headers
                .get("x-forwarded-for")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split(',').next())
                .and_then(|v| v.trim().parse().ok());
            if forwarded.is_some() {
                return Ok(ClientIp(forwarded));
            }
        }
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|ci| ci.0.ip());
        Ok(ClientIp(peer))
    }
}

/// The name of the session cookie.
pub const SESSION_COOKIE: &str = "tessera_session";
/// The header that carries the CSRF token on cookie-authenticated writes.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The signed-in caller, from a bearer token or the session cookie. Cookie-authenticated
/// requests that change state must carry the session's CSRF token in `X-CSRF-Token`.
#[derive(Debug, Clone)]
pub struct Auth(pub Authenticated);

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        if let Some(value) = parts.headers.get(header::AUTHORIZATION) {
            let token = value
                .to_str()
                .ok()
                .and_then(|v| v.strip_prefix("Bearer "))
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .ok_or_else(|| {
                    ApiError::from(Error::Unauthenticated(
                        "the Authorization header must be `Bearer <personal API token>`".into(),
                    ))
                })?;
            let who = auth::authenticate_token(&state.store, token).await?;
            return Ok(Auth(who));
        }
        let Some(cookie) = session_cookie(&parts.headers) else {
            return Err(Error::Unauthenticated(
                "sign in first, or send a personal API token as `Authorization: Bearer …`".into(),
            )
            .into());
        };
        let who = auth::authenticate_session(&state.store, &cookie, &state.config.session).await?;
        if !matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS) {
            let sent = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()).unwrap_or("");
            let Credential::Session { csrf_token, .. } = &who.credential else {
                return Err(Error::Internal("session credential expected".into()).into());
            };
            if !auth::constant_time_eq(sent, csrf_token) {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "csrf",
                    "missing or wrong CSRF token: send the X-CSRF-Token header with the token given at sign-in",
                ));
            }
        }
        Ok(Auth(who))
    }
}

impl Auth {
    /// Loads what this user may do.
    pub async fn access(&self, state: &AppState) -> ApiResult<Access> {
        Ok(Access::load(&state.store, self.0.principal).await?)
    }

    /// Loads access and insists on organisation administration.
    pub async fn require_admin(&self, state: &AppState) -> ApiResult<Access> {
        let access = self.access(state).await?;
        access.require("org", Action::Admin, Scope::All)?;
        Ok(access)
    }
}

/// The session cookie's value, if the request carries one.
pub fn session_cookie(headers: &HeaderMap) -> Option<String> {
    cookie(headers, SESSION_COOKIE)
}

/// The value of the request cookie `name`.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_owned())
}

/// Whether the browser reached us over TLS: configured so, or said so by a trusted proxy.
pub fn over_tls(config: &WebConfig, headers: &HeaderMap) -> bool {
    config.secure_cookies
        || (config.trust_proxy
            && headers
                .get("x-forwarded-proto")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|p| p.trim().eq_ignore_ascii_case("https")))
}

/// A `Set-Cookie` value for the session cookie (or its removal, with `None`). `Secure` is set
/// when the request came over TLS.
pub fn session_set_cookie(config: &WebConfig, headers: &HeaderMap, value: Option<&str>) -> HeaderValue {
    let secure = if over_tls(config, headers) { "; Secure" } else { "" };
    let text = match value {
        Some(v) => format!(
            "{SESSION_COOKIE}={v}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
            config.session.absolute_ms / 1000
        ),
        None => format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{secure}"),
    };
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Tessera CRM API",
        description = "The REST API of the Tessera CRM host. Authenticate with a personal API token \
                       (`Authorization: Bearer …`) or the session cookie set by sign-in; cookie-authenticated \
                       writes must send the session's CSRF token in `X-CSRF-Token`. Errors are JSON \
                       `{\"error\": {\"code\", \"message\", \"request_id\"}}`."
    ),
    modifiers(&SecuritySchemes),
    components(schemas(ErrorBody))
)]
struct ApiDoc;

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "token",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components
            .add_security_scheme("session", SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(SESSION_COOKIE))));
    }
}

/// Every API route with the OpenAPI document describing them.
pub fn api() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(auth::routes())
        .merge(crate::org::routes())
        .merge(crate::audit::routes())
        .merge(crate::customers::routes())
        .merge(crate::events::routes())
        .merge(crate::workflow::routes())
        .merge(crate::notifications::routes())
        .merge(crate::scheduler::routes())
        .merge(crate::runtime::routes::routes())
        .split_for_parts()
}

/// The whole application.
pub fn router(state: AppState) -> Router {
    let (api, doc) = api();
    let doc = Arc::new(doc);
    let body_limit = state.config.body_limit;
    Router::new()
        .merge(api)
        .route("/api/v1/openapi.json", get(move || {
            let doc = doc.clone();
            async move { axum::Json(doc.as_ref().clone()) }
        }))
        .merge(crate::runtime::routes::plugin_http())
        .merge(crate::ui::routes())
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(CatchPanicLayer::custom(|_| {
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "the server failed to handle this request")
                .into_response()
        }))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &Request| {
                    tracing::info_span!("http", method = %req.method(), path = %req.uri().path(), request_id = %current_request_id())
                })
                .on_response(tower_http::trace::DefaultOnResponse::new().level(tracing::Level::INFO)),
        )
        .layer(middleware::from_fn(request_id))
        .with_state(state)
}

/// Middleware: takes the request's `x-request-id` (or makes one), scopes it for
/// [`current_request_id`] and echoes it in the response.
pub async fn request_id(req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 64 && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
    let mut resp = REQUEST_ID.scope(id.clone(), next.run(req)).await;
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert("x-request-id", v);
    }
    resp
}

/// Unknown paths: a JSON error under `/api/`, a page of the web CRM elsewhere.
async fn not_found(req: Request) -> Response {
    if req.uri().path().starts_with("/api/") {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such endpoint; see /api/v1/openapi.json").into_response()
    } else {
        crate::ui::not_found_page(req).await
    }
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "this endpoint does not take that method")
}

async fn healthz() -> &'static str {
    "ok"
}

async fn readyz(State(state): State<AppState>) -> Response {
    match tokio::time::timeout(Duration::from_secs(2), state.store.ping()).await {
        Ok(Ok(())) => (StatusCode::OK, "ready").into_response(),
        _ => (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    async fn app() -> (Router, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!("tessera-web-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let store = Store::connect(&crate::store::sqlite_url_for_data_dir(&dir)).await.expect("store");
        store.migrate().await.expect("migrate");
        let state = AppState::new(store, WebConfig::default());
        crate::org::bootstrap(&state.store, &state.hasher, "tt", "T", Some("a long test password".into()))
            .await
            .expect("org");
        (router(state), dir)
    }

    async fn call(
        app: &Router,
        req: axum::http::Request<axum::body::Body>,
    ) -> (StatusCode, HeaderMap, serde_json::Value) {
        let resp = app.clone().oneshot(req).await.expect("response");
        let (parts, body) = resp.into_parts();
        let bytes = body.collect().await.expect("body").to_bytes();
        (parts.status, parts.headers, serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null))
    }

    fn request(method: &str, uri: &str, body: &str) -> axum::http::Request<axum::body::Body> {
        axum::http::Request::builder()
            .method(method)
            .uri(uri)
            .header(header::CONTENT_TYPE, "application/json")
            .header("x-request-id", "test-request-1")
            .body(axum::body::Body::from(body.to_owned()))
            .expect("request")
    }

    #[test]
    fn the_api_reference_lists_every_operation() {
        let reference =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/api.md")).expect("docs/api.md");
        let (_, doc) = api();
        let mut missing = Vec::new();
        for (path, item) in &doc.paths.paths {
            let methods = [
                ("GET", item.get.is_some()),
                ("POST", item.post.is_some()),
                ("PUT", item.put.is_some()),
                ("PATCH", item.patch.is_some()),
                ("DELETE", item.delete.is_some()),
            ];
            for (method, present) in methods {
                if present && !reference.contains(&format!("| {method} | `{path}` |")) {
                    missing.push(format!("{method} {path}"));
                }
            }
        }
        assert!(missing.is_empty(), "docs/api.md does not list: {missing:?}");
    }

    #[tokio::test]
    async fn router_answers_errors_as_json_with_the_request_id() {
        let (app, dir) = app().await;
        let (status, headers, body) = call(&app, request("GET", "/api/v1/nothing", "")).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(body["error"]["request_id"], "test-request-1");
        assert_eq!(headers.get("x-request-id").and_then(|v| v.to_str().ok()), Some("test-request-1"));
        let (status, _, body) = call(&app, request("GET", "/api/v1/me", "")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(body["error"]["code"], "unauthenticated");
        let huge = format!("{{\"username\": \"{}\"}}", "x".repeat(2 * 1024 * 1024));
        let (status, _, body) = call(&app, request("POST", "/api/v1/auth/sign-in", &huge)).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
        let (status, _, _) = call(&app, request("GET", "/readyz", "")).await;
        assert_eq!(status, StatusCode::OK);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[tokio::test]
    async fn router_signs_in_and_serves_the_signed_in_user() {
        let (app, dir) = app().await;
        let (status, headers, body) = call(
            &app,
            request("POST", "/api/v1/auth/sign-in", r#"{"username": "admin", "password": "a long test password"}"#),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let cookie = headers
            .get(header::SET_COOKIE)
            .and_then(|v| v.to_str().ok())
            .and_then(|c| c.split(';').next())
            .expect("cookie")
            .to_owned();
        let mut me = request("GET", "/api/v1/me", "");
        me.headers_mut().insert(header::COOKIE, HeaderValue::from_str(&cookie).expect("cookie header"));
        let (status, _, body) = call(&app, me).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["username"], "admin");
        assert_eq!(body["org"]["slug"], "tt");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn nul_escapes_are_found_but_escaped_backslashes_are_not() {
        assert!(has_escaped_nul(br#"{"a": "x\u0000y"}"#));
        assert!(has_escaped_nul(br#"{"a": "\\\u0000"}"#), "an escaped backslash, then a NUL");
        assert!(!has_escaped_nul(br#"{"a": "\\u0000"}"#), "an escaped backslash, then text");
        assert!(!has_escaped_nul(br#"{"a": "\u0041"}"#));
    }

    #[test]
    fn json_content_types() {
        let mut h = HeaderMap::new();
        assert!(!json_content_type(&h));
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json; charset=utf-8"));
        assert!(json_content_type(&h));
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/merge-patch+json"));
        assert!(json_content_type(&h));
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        assert!(!json_content_type(&h));
    }
}
