//! REST API of approvals: each user's inbox and submissions, the detail with its history, the
//! actions on an instance, and the administrators' definitions and customer approval setting.

use axum::extract::State;
use axum::http::StatusCode;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::customer_approval::{self, CustomerApproval};
use super::definitions::{self, Definition, DefinitionPatch, NewDefinition};
use super::instances::{self, ActionInput, Approval, ApprovalPage, ApprovalQuery, NewApproval, UserAction};
use crate::access::{Action as Permission, Scope};
use crate::store::Id;
use crate::web::{ApiResult, AppState, Auth, ErrorBody, Json, Path, Query};

pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(submit))
        .routes(routes!(inbox))
        .routes(routes!(mine))
        .routes(routes!(get_approval))
        .routes(routes!(approve))
        .routes(routes!(reject))
        .routes(routes!(return_for_changes))
        .routes(routes!(transfer))
        .routes(routes!(urge))
        .routes(routes!(withdraw))
        .routes(routes!(resubmit))
        .routes(routes!(list_definitions, create_definition))
        .routes(routes!(get_definition, update_definition, delete_definition))
        .routes(routes!(get_customer_approval, put_customer_approval))
}

/// Whether the caller administers the organisation (and so sees every approval).
async fn is_admin(state: &AppState, auth: &Auth) -> ApiResult<bool> {
    let access = auth.access(state).await?;
    Ok(access.require("org", Permission::Admin, Scope::All).is_ok())
}

/// Submits an approval of a record under a definition; for customers, the customer's name
/// and fields are used.
#[utoipa::path(post, path = "/api/v1/approvals", tag = "approvals", request_body = NewApproval,
    responses((status = 201, body = Approval), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn submit(
    State(state): State<AppState>,
    auth: Auth,
    Json(new): Json<NewApproval>,
) -> ApiResult<(StatusCode, Json<Approval>)> {
    let access = auth.access(&state).await?;
    Ok((StatusCode::CREATED, Json(instances::submit(&state.store, &access, &new).await?)))
}

/// The approvals waiting for the caller to decide a step, newest first.
#[utoipa::path(get, path = "/api/v1/approvals/inbox", tag = "approvals", params(ApprovalQuery),
    responses((status = 200, body = ApprovalPage), (status = 422, body = ErrorBody)), security(("token" = []), ("session" = [])))]
async fn inbox(
    State(state): State<AppState>,
    auth: Auth,
    Query(q): Query<ApprovalQuery>,
) -> ApiResult<Json<ApprovalPage>> {
    let p = auth.0.principal;
    Ok(Json(instances::inbox(&state.store, p.org_id, p.user_id, &q).await?))
}

/// The approvals the caller submitted, newest first.
#[utoipa::path(get, path = "/api/v1/approvals/mine", tag = "approvals", params(ApprovalQuery),
    responses((status = 200, body = ApprovalPage), (status = 422, body = ErrorBody)), security(("token" = []), ("session" = [])))]
async fn mine(
    State(state): State<AppState>,
    auth: Auth,
    Query(q): Query<ApprovalQuery>,
) -> ApiResult<Json<ApprovalPage>> {
    let p = auth.0.principal;
    Ok(Json(instances::mine(&state.store, p.org_id, p.user_id, &q).await?))
}

/// One approval with its steps and full history (its submitter, its approvers and
/// administrators).
#[utoipa::path(get, path = "/api/v1/approvals/{id}", tag = "approvals", params(("id" = i64, Path)),
    responses((status = 200, body = Approval), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn get_approval(State(state): State<AppState>, auth: Auth, Path(id): Path<Id>) -> ApiResult<Json<Approval>> {
    let admin = is_admin(&state, &auth).await?;
    let p = auth.0.principal;
    Ok(Json(instances::get(&state.store, p.org_id, p.user_id, admin, id).await?))
}

async fn act(
    state: &AppState,
    auth: &Auth,
    id: Id,
    what: UserAction,
    input: &ActionInput,
) -> ApiResult<Json<Approval>> {
    let admin = is_admin(state, auth).await?;
    let p = auth.0.principal;
    Ok(Json(instances::act(&state.store, p.org_id, p.user_id, admin, id, what, input).await?))
}

/// Approves the step that waits (one of its approvers). The loser of two simultaneous
/// decisions gets 409.
#[utoipa::path(post, path = "/api/v1/approvals/{id}/approve", tag = "approvals", params(("id" = i64, Path)), request_body = ActionInput,
    responses((status = 200, body = Approval), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn approve(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<Id>,
    Json(input): Json<ActionInput>,
) -> ApiResult<Json<Approval>> {
    act(&state, &auth, id, UserAction::Approve, &input).await
}

/// Rejects the approval (an approver of the step that waits). Final.
#[utoipa::path(post, path = "/api/v1/approvals/{id}/reject", tag = "approvals", params(("id" = i64, Path)), request_body = ActionInput,
    responses((status = 200, body = Approval), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn reject(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<Id>,
    Json(input): Json<ActionInput>,
) -> ApiResult<Json<Approval>> {
    act(&state, &auth, id, UserAction::Reject, &input).await
}

/// Returns the approval to its submitter for changes (an approver of the step that waits).
#[utoipa::path(post, path = "/api/v1/approvals/{id}/return", tag = "approvals", params(("id" = i64, Path)), request_body = ActionInput,
    responses((status = 200, body = Approval), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn return_for_changes(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<Id>,
    Json(input): Json<ActionInput>,
) -> ApiResult<Json<Approval>> {
    act(&state, &auth, id, UserAction::Return, &input).await
}

/// Hands the caller's place in the step that waits to `to_user_id`.
#[utoipa::path(post, path = "/api/v1/approvals/{id}/transfer", tag = "approvals", params(("id" = i64, Path)), request_body = ActionInput,
    responses((status = 200, body = Approval), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn transfer(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<Id>,
    Json(input): Json<ActionInput>,
) -> ApiResult<Json<Approval>> {
    act(&state, &auth, id, UserAction::Transfer, &input).await
}

/// Nudges the approvers of the step that waits (the submitter; once per 10 minutes).
#[utoipa::path(post, path = "/api/v1/approvals/{id}/urge", tag = "approvals", params(("id" = i64, Path)), request_body = ActionInput,
    responses((status = 200, body = Approval), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 429, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn urge(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<Id>,
    Json(input): Json<ActionInput>,
) -> ApiResult<Json<Approval>> {
    act(&state, &auth, id, UserAction::Urge, &input).await
}

/// Takes the approval back (the submitter, while it is not finished).
#[utoipa::path(post, path = "/api/v1/approvals/{id}/withdraw", tag = "approvals", params(("id" = i64, Path)), request_body = ActionInput,
    responses((status = 200, body = Approval), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn withdraw(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<Id>,
    Json(input): Json<ActionInput>,
) -> ApiResult<Json<Approval>> {
    act(&state, &auth, id, UserAction::Withdraw, &input).await
}

/// Sends a returned approval again, from its first step (the submitter).
#[utoipa::path(post, path = "/api/v1/approvals/{id}/resubmit", tag = "approvals", params(("id" = i64, Path)), request_body = ActionInput,
    responses((status = 200, body = Approval), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn resubmit(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<Id>,
    Json(input): Json<ActionInput>,
) -> ApiResult<Json<Approval>> {
    act(&state, &auth, id, UserAction::Resubmit, &input).await
}

/// The organisation's approval definitions (administrators).
#[utoipa::path(get, path = "/api/v1/workflow/definitions", tag = "workflow",
    responses((status = 200, body = [Definition]), (status = 403, body = ErrorBody)), security(("token" = []), ("session" = [])))]
async fn list_definitions(State(state): State<AppState>, auth: Auth) -> ApiResult<Json<Vec<Definition>>> {
    auth.require_admin(&state).await?;
    Ok(Json(definitions::list(&state.store, auth.0.principal.org_id).await?))
}

/// Adds an approval definition at version 1 (administrators).
#[utoipa::path(post, path = "/api/v1/workflow/definitions", tag = "workflow", request_body = NewDefinition,
    responses((status = 201, body = Definition), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn create_definition(
    State(state): State<AppState>,
    auth: Auth,
    Json(new): Json<NewDefinition>,
) -> ApiResult<(StatusCode, Json<Definition>)> {
    auth.require_admin(&state).await?;
    let p = auth.0.principal;
    Ok((StatusCode::CREATED, Json(definitions::create(&state.store, p.org_id, p.user_id, &new).await?)))
}

/// One approval definition at its current version (administrators).
#[utoipa::path(get, path = "/api/v1/workflow/definitions/{id}", tag = "workflow", params(("id" = i64, Path)),
    responses((status = 200, body = Definition), (status = 404, body = ErrorBody)), security(("token" = []), ("session" = [])))]
async fn get_definition(State(state): State<AppState>, auth: Auth, Path(id): Path<Id>) -> ApiResult<Json<Definition>> {
    auth.require_admin(&state).await?;
    Ok(Json(definitions::get(state.store.pool(), auth.0.principal.org_id, id).await?))
}

/// Renames, archives or restores a definition, or gives it new steps as a new version
/// (administrators).
#[utoipa::path(patch, path = "/api/v1/workflow/definitions/{id}", tag = "workflow", params(("id" = i64, Path)), request_body = DefinitionPatch,
    responses((status = 200, body = Definition), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn update_definition(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<Id>,
    Json(patch): Json<DefinitionPatch>,
) -> ApiResult<Json<Definition>> {
    auth.require_admin(&state).await?;
    let p = auth.0.principal;
    Ok(Json(definitions::update(&state.store, p.org_id, p.user_id, id, &patch).await?))
}

/// Removes a definition, or archives it when approvals used it (administrators).
#[utoipa::path(delete, path = "/api/v1/workflow/definitions/{id}", tag = "workflow", params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)), security(("token" = []), ("session" = [])))]
async fn delete_definition(State(state): State<AppState>, auth: Auth, Path(id): Path<Id>) -> ApiResult<StatusCode> {
    auth.require_admin(&state).await?;
    let p = auth.0.principal;
    definitions::delete(&state.store, p.org_id, p.user_id, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Which new customers need approval, and under which definition (administrators).
#[utoipa::path(get, path = "/api/v1/workflow/customer-approval", tag = "workflow",
    responses((status = 200, body = CustomerApproval), (status = 403, body = ErrorBody)), security(("token" = []), ("session" = [])))]
async fn get_customer_approval(State(state): State<AppState>, auth: Auth) -> ApiResult<Json<CustomerApproval>> {
    auth.require_admin(&state).await?;
    Ok(Json(customer_approval::get(state.store.pool(), auth.0.principal.org_id).await?))
}

/// Makes new customers of the chosen categories need approval under a definition; no
/// categories turns it off (administrators).
#[utoipa::path(put, path = "/api/v1/workflow/customer-approval", tag = "workflow", request_body = CustomerApproval,
    responses((status = 200, body = CustomerApproval), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn put_customer_approval(
    State(state): State<AppState>,
    auth: Auth,
    Json(setting): Json<CustomerApproval>,
) -> ApiResult<Json<CustomerApproval>> {
    auth.require_admin(&state).await?;
    let p = auth.0.principal;
    Ok(Json(customer_approval::put(&state.store, p.org_id, p.user_id, &setting).await?))
}
