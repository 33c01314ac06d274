//! The HTTP surface: the state every handler reaches, the status each registry error answers
//! with, the middleware stack (request id, trace, timeout, catch-panic, body limits) and the
//! router that assembles every module's routes. The error type, its JSON body and the
//! extractors are the host's (`tessera_host::web`), so both servers answer alike.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::{Router, routing::get};
use serde::Serialize;
use tessera_host::auth::PasswordHasher;
use tessera_host::store::Store;
use tessera_package::{SecretKey, TrustRoot};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::error::Error;

/// The host's error layer, shared so that the marketplace answers as the CRM's API does: one
/// [`ApiError`] whose JSON body is `{"error": {"code", "message", "request_id"}}` with a stable
/// snake_case code, and extractors whose rejections are such errors (`malformed_json`,
/// `unsupported_media_type`, `body_too_large`, `invalid_path`, `invalid_query`, …).
pub use tessera_host::web::{ApiError, ApiResult, ErrorBody, ErrorDetail, Json, Path, Query, current_request_id};

/// The largest JSON body taken.
pub const JSON_BODY_LIMIT: usize = 64 << 10;

/// The largest upload taken: a package at its format's limit, a changelog and the multipart
/// framing around them.
pub const UPLOAD_BODY_LIMIT: usize = tessera_package::tpkg::MAX_PACKAGE_BYTES + (1 << 20);

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    /// The marketplace's root key: it signs certificates, license tokens and revocation lists.
    pub root_key: Arc<SecretKey>,
    /// The root key's public half, as a host trusts it: packages are checked against it.
    pub trust: Arc<TrustRoot>,
    pub hasher: PasswordHasher,
}

impl AppState {
    pub fn new(store: Store, root_key: SecretKey) -> AppState {
        let trust = TrustRoot::new(root_key.public_key());
        AppState { store, root_key: Arc::new(root_key), trust: Arc::new(trust), hasher: PasswordHasher::new() }
    }
}

/// The registry's own errors, each under its status; the codes are the errors' own.
impl From<Error> for ApiError {
    fn from(err: Error) -> ApiError {
        match err {
            Error::Unauthenticated(m) => ApiError::new(StatusCode::UNAUTHORIZED, "unauthenticated", m),
            Error::Forbidden { code, message } => ApiError::new(StatusCode::FORBIDDEN, code, message),
            Error::NotFound(m) => ApiError::new(StatusCode::NOT_FOUND, "not_found", m),
            Error::Invalid { code, message } => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, message),
            Error::Conflict { code, message } => ApiError::new(StatusCode::CONFLICT, code, message),
            Error::Gone { code, message } => ApiError::new(StatusCode::GONE, code, message),
            other => {
                tracing::error!(error = %other, request_id = %current_request_id(), "request failed");
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "the server failed to handle this request")
            }
        }
    }
}

/// Settings of the web layer.
#[derive(Debug, Clone)]
pub struct WebConfig {
    /// How long one request may take, upload included.
    pub request_timeout: Duration,
}

impl Default for WebConfig {
    fn default() -> Self {
        WebConfig { request_timeout: Duration::from_secs(120) }
    }
}

/// The whole application.
pub fn router(state: AppState, config: &WebConfig) -> Router {
    Router::new()
        .merge(crate::accounts::routes())
        .merge(crate::publishers::routes())
        .merge(crate::packages::routes())
        .merge(crate::catalog::routes())
        .merge(crate::purchases::routes())
        .merge(crate::revocations::routes())
        .merge(crate::pages::routes())
        .route("/api/v1/trust", get(trust))
        .route("/healthz", get(healthz))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(JSON_BODY_LIMIT))
        .layer(CatchPanicLayer::custom(|_| {
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "the server failed to handle this request")
                .into_response()
        }))
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, config.request_timeout))
        .layer(middleware::from_fn(timeout_as_json))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &Request| {
                    tracing::info_span!("http", method = %req.method(), path = %req.uri().path(), request_id = %current_request_id())
                })
                .on_response(tower_http::trace::DefaultOnResponse::new().level(tracing::Level::INFO)),
        )
        .layer(middleware::from_fn(tessera_host::web::request_id))
        .with_state(state)
}

/// The timeout layer answers with a bare status; give it the body every error has.
async fn timeout_as_json(req: Request, next: Next) -> Response {
    let resp = next.run(req).await;
    if resp.status() == StatusCode::REQUEST_TIMEOUT && !resp.headers().contains_key(header::CONTENT_TYPE) {
        return ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "timeout",
            "the request took too long and was stopped; try again, on a faster connection for a large upload",
        )
        .into_response();
    }
    resp
}

/// Unknown paths: a JSON error under `/api/`, a page of the catalog elsewhere.
async fn not_found(req: Request) -> Response {
    if req.uri().path().starts_with("/api/") {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "no such endpoint; the API is described in docs/marketplace.md",
        )
        .into_response()
    } else {
        crate::pages::not_found_page(req.headers(), req.uri().query()).into_response()
    }
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "this endpoint does not take that method")
}

async fn healthz() -> &'static str {
    "ok"
}

#[derive(Serialize)]
struct TrustKey {
    key_id: String,
    public_key: String,
}

#[derive(Serialize)]
struct Trust {
    keys: Vec<TrustKey>,
}

/// `GET /api/v1/trust`: the marketplace keys a host should trust (its trust root).
async fn trust(State(state): State<AppState>) -> Json<Trust> {
    let keys = state
        .trust
        .keys()
        .iter()
        .map(|k| TrustKey { key_id: k.key_id().to_string(), public_key: k.to_text() })
        .collect();
    Json(Trust { keys })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderMap;
    use http_body_util::BodyExt as _;
    use tower::ServiceExt as _;

    async fn app() -> (Router, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!("tessera-marketplace-web-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let store = Store::connect(&crate::server::sqlite_url_for_data_dir(&dir)).await.expect("store");
        crate::server::migrate(&store).await.expect("migrate");
        let state = AppState::new(store, SecretKey::from_seed([7; 32]));
        (router(state, &WebConfig::default()), dir)
    }

    async fn call(app: &Router, req: axum::http::Request<axum::body::Body>) -> (StatusCode, HeaderMap, Vec<u8>) {
        let resp = app.clone().oneshot(req).await.expect("response");
        let (parts, body) = resp.into_parts();
        (parts.status, parts.headers, body.collect().await.expect("body").to_bytes().to_vec())
    }

    fn get(uri: &str) -> axum::http::Request<axum::body::Body> {
        axum::http::Request::get(uri).header("x-request-id", "test-1").body(axum::body::Body::empty()).expect("request")
    }

    #[tokio::test]
    async fn errors_are_json_with_the_request_id_and_pages_are_html() {
        let (app, dir) = app().await;
        let (status, headers, body) = call(&app, get("/api/v1/nothing")).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(headers.get("x-request-id").and_then(|v| v.to_str().ok()), Some("test-1"));
        let body: serde_json::Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(
            (body["error"]["code"].as_str(), body["error"]["request_id"].as_str()),
            (Some("not_found"), Some("test-1"))
        );
        let (status, headers, _) = call(&app, get("/nothing?lang=en")).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(
            headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with("text/html"))
        );
        let req = axum::http::Request::post("/api/v1/orgs")
            .header(header::CONTENT_TYPE, "application/json")
            .body(axum::body::Body::from("{\"name\":"))
            .expect("request");
        let (status, _, body) = call(&app, req).await;
        let body: serde_json::Value = serde_json::from_slice(&body).expect("json");
        assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("malformed_json")));
        let _ = std::fs::remove_dir_all(dir);
    }

    #[tokio::test]
    async fn the_trust_root_is_the_root_keys_public_half() {
        let (app, dir) = app().await;
        let (status, _, body) = call(&app, get("/api/v1/trust")).await;
        assert_eq!(status, StatusCode::OK);
        let body: serde_json::Value = serde_json::from_slice(&body).expect("json");
        let key = SecretKey::from_seed([7; 32]).public_key();
        assert_eq!(
            body,
            serde_json::json!({ "keys": [{ "key_id": key.key_id().to_string(), "public_key": key.to_text() }] })
        );
        let _ = std::fs::remove_dir_all(dir);
    }
}
