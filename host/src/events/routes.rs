//! REST API of outbound webhooks (administrators): endpoints, their delivery log, redelivery
//! and test events.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::deliveries::{self, Delivery, DeliveryDetail, DeliveryQuery};
use super::webhooks::{self, Endpoint, EndpointPatch, EndpointWithSecret, NewEndpoint};
use crate::store::Id;
use crate::web::{ApiResult, AppState, Auth, ErrorBody, Json, Query};

pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_endpoints, create_endpoint))
        .routes(routes!(get_endpoint, update_endpoint, delete_endpoint))
        .routes(routes!(rotate_secret))
        .routes(routes!(send_test))
        .routes(routes!(list_deliveries))
        .routes(routes!(get_delivery))
        .routes(routes!(redeliver))
}

/// The organisation's webhook endpoints (administrators).
#[utoipa::path(get, path = "/api/v1/webhooks", tag = "webhooks",
    responses((status = 200, body = [Endpoint]), (status = 403, body = ErrorBody)), security(("token" = []), ("session" = [])))]
async fn list_endpoints(State(state): State<AppState>, auth: Auth) -> ApiResult<Json<Vec<Endpoint>>> {
    auth.require_admin(&state).await?;
    Ok(Json(webhooks::list(&state.store, auth.0.principal.org_id).await?))
}

/// Adds an endpoint; the answer holds its signing secret (administrators).
#[utoipa::path(post, path = "/api/v1/webhooks", tag = "webhooks", request_body = NewEndpoint,
    responses((status = 201, body = EndpointWithSecret), (status = 422, body = ErrorBody)), security(("token" = []), ("session" = [])))]
async fn create_endpoint(
    State(state): State<AppState>,
    auth: Auth,
    Json(new): Json<NewEndpoint>,
) -> ApiResult<(StatusCode, Json<EndpointWithSecret>)> {
    auth.require_admin(&state).await?;
    let p = auth.0.principal;
    Ok((StatusCode::CREATED, Json(webhooks::create(&state.store, p.org_id, p.user_id, &new).await?)))
}

/// One endpoint (administrators).
#[utoipa::path(get, path = "/api/v1/webhooks/{id}", tag = "webhooks", params(("id" = i64, Path)),
    responses((status = 200, body = Endpoint), (status = 404, body = ErrorBody)), security(("token" = []), ("session" = [])))]
async fn get_endpoint(State(state): State<AppState>, auth: Auth, Path(id): Path<Id>) -> ApiResult<Json<Endpoint>> {
    auth.require_admin(&state).await?;
    Ok(Json(webhooks::get(&state.store, auth.0.principal.org_id, id).await?))
}

/// Changes an endpoint: its URL, topics, description, or whether it is sent to
/// (administrators).
#[utoipa::path(patch, path = "/api/v1/webhooks/{id}", tag = "webhooks", params(("id" = i64, Path)), request_body = EndpointPatch,
    responses((status = 200, body = Endpoint), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn update_endpoint(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<Id>,
    Json(patch): Json<EndpointPatch>,
) -> ApiResult<Json<Endpoint>> {
    auth.require_admin(&state).await?;
    let p = auth.0.principal;
    Ok(Json(webhooks::update(&state.store, p.org_id, p.user_id, id, &patch).await?))
}

/// Removes an endpoint with its deliveries (administrators).
#[utoipa::path(delete, path = "/api/v1/webhooks/{id}", tag = "webhooks", params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)), security(("token" = []), ("session" = [])))]
async fn delete_endpoint(State(state): State<AppState>, auth: Auth, Path(id): Path<Id>) -> ApiResult<StatusCode> {
    auth.require_admin(&state).await?;
    let p = auth.0.principal;
    webhooks::delete(&state.store, p.org_id, p.user_id, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Replaces the signing secret and returns the new one (administrators).
#[utoipa::path(post, path = "/api/v1/webhooks/{id}/rotate-secret", tag = "webhooks", params(("id" = i64, Path)),
    responses((status = 200, body = EndpointWithSecret), (status = 404, body = ErrorBody)), security(("token" = []), ("session" = [])))]
async fn rotate_secret(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<Id>,
) -> ApiResult<Json<EndpointWithSecret>> {
    auth.require_admin(&state).await?;
    let p = auth.0.principal;
    Ok(Json(webhooks::rotate_secret(&state.store, p.org_id, p.user_id, id).await?))
}

/// Sends a `webhook.test` event to this endpoint alone (administrators).
#[utoipa::path(post, path = "/api/v1/webhooks/{id}/test", tag = "webhooks", params(("id" = i64, Path)),
    responses((status = 202, body = DeliveryDetail), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn send_test(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<Id>,
) -> ApiResult<(StatusCode, Json<DeliveryDetail>)> {
    auth.require_admin(&state).await?;
    let p = auth.0.principal;
    Ok((StatusCode::ACCEPTED, Json(deliveries::send_test(&state.store, p.org_id, p.user_id, id).await?)))
}

/// The endpoint's deliveries, newest first (administrators).
#[utoipa::path(get, path = "/api/v1/webhooks/{id}/deliveries", tag = "webhooks", params(("id" = i64, Path), DeliveryQuery),
    responses((status = 200, body = [Delivery]), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn list_deliveries(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<Id>,
    Query(q): Query<DeliveryQuery>,
) -> ApiResult<Json<Vec<Delivery>>> {
    auth.require_admin(&state).await?;
    Ok(Json(deliveries::list(&state.store, auth.0.principal.org_id, id, &q).await?))
}

/// One delivery with every attempt at it (administrators).
#[utoipa::path(get, path = "/api/v1/webhooks/{id}/deliveries/{delivery_id}", tag = "webhooks",
    params(("id" = i64, Path), ("delivery_id" = i64, Path)),
    responses((status = 200, body = DeliveryDetail), (status = 404, body = ErrorBody)), security(("token" = []), ("session" = [])))]
async fn get_delivery(
    State(state): State<AppState>,
    auth: Auth,
    Path((id, delivery_id)): Path<(Id, Id)>,
) -> ApiResult<Json<DeliveryDetail>> {
    auth.require_admin(&state).await?;
    Ok(Json(deliveries::get(&state.store, auth.0.principal.org_id, id, delivery_id).await?))
}

/// Sends a dead or delivered delivery again, from the start of the retry schedule
/// (administrators).
#[utoipa::path(post, path = "/api/v1/webhooks/{id}/deliveries/{delivery_id}/redeliver", tag = "webhooks",
    params(("id" = i64, Path), ("delivery_id" = i64, Path)),
    responses((status = 202, body = DeliveryDetail), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn redeliver(
    State(state): State<AppState>,
    auth: Auth,
    Path((id, delivery_id)): Path<(Id, Id)>,
) -> ApiResult<(StatusCode, Json<DeliveryDetail>)> {
    auth.require_admin(&state).await?;
    let p = auth.0.principal;
    Ok((StatusCode::ACCEPTED, Json(deliveries::redeliver(&state.store, p.org_id, p.user_id, id, delivery_id).await?)))
}
