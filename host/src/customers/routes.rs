//! The customer database's REST routes.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::activities::{self, Activity, NewActivity, TimelineQuery};
use super::contacts::{self, Contact, ContactPatch, NewContact};
use super::operations::{
    self, BatchEdit, DuplicateCandidate, DuplicateProbe, NewShare, Share, TransferRecord, TransferRequest,
    TransferResult,
};
use super::options::{self, OptionInput, OptionItem};
use super::{Customer, CustomerPage, CustomerPatch, CustomerQuery, NewCustomer, PhoneMatches};
use super::{analysis, views};
use crate::access::{Action, ShareLevel};
use crate::error::Error;
use crate::store::Id;
use crate::web::{ApiResult, AppState, Auth, ClientIp, ErrorBody, Json, Path, Query};

pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_customers, create_customer))
        .routes(routes!(get_customer, update_customer, delete_customer))
        .routes(routes!(customers_by_phone))
        .routes(routes!(list_contacts, create_contact))
        .routes(routes!(update_contact, delete_contact))
        .routes(routes!(customer_timeline, log_activity))
        .routes(routes!(list_options))
        .routes(routes!(add_option))
        .routes(routes!(update_option))
        .routes(routes!(get_code_pattern, set_code_pattern))
        .routes(routes!(list_shares, add_share))
        .routes(routes!(remove_share))
        .routes(routes!(transfer_customers))
        .routes(routes!(customer_transfers))
        .routes(routes!(batch_edit_customers))
        .routes(routes!(share_customers))
        .routes(routes!(check_duplicates))
        .routes(routes!(customer_duplicates))
        .routes(routes!(merge_customers))
        .routes(routes!(composition))
        .routes(routes!(new_customers))
        .routes(routes!(follow_up_volume))
        .routes(routes!(list_views, save_view))
        .routes(routes!(delete_view))
        .routes(routes!(print_list))
        .routes(routes!(print_labels))
        .merge(
            OpenApiRouter::new()
                .routes(routes!(upload_import))
                .layer(axum::extract::DefaultBodyLimit::max(super::import::MAX_UPLOAD_BYTES)),
        )
        .routes(routes!(export_customers))
        .routes(routes!(list_all_contacts))
        .routes(routes!(customer_group))
        .routes(routes!(list_fields, create_field))
        .routes(routes!(update_field))
        .routes(routes!(get_import))
        .routes(routes!(dry_run_import))
        .routes(routes!(run_import))
}

/// Customers the caller may read: filters, quick search (name, pinyin, initials, code, phone,
/// contact names), sort and keyset paging.
#[utoipa::path(get, path = "/api/v1/customers", tag = "customers", params(CustomerQuery),
    responses((status = 200, body = CustomerPage), (status = 422, body = ErrorBody)), security(("token" = []), ("session" = [])))]
async fn list_customers(
    State(state): State<AppState>,
    auth: Auth,
    Query(q): Query<CustomerQuery>,
) -> ApiResult<Json<CustomerPage>> {
    let access = auth.access(&state).await?;
    Ok(Json(super::list(&state.store, &access, &q).await?))
}

/// Creates a customer; its code is numbered from the organisation's pattern.
#[utoipa::path(post, path = "/api/v1/customers", tag = "customers", request_body = NewCustomer,
    responses((status = 201, body = Customer), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn create_customer(
    State(state): State<AppState>,
    auth: Auth,
    Json(input): Json<NewCustomer>,
) -> ApiResult<(StatusCode, Json<Customer>)> {
    let access = auth.access(&state).await?;
    Ok((StatusCode::CREATED, Json(super::create(&state.store, &access, &input).await?)))
}

/// One customer.
#[utoipa::path(get, path = "/api/v1/customers/{id}", tag = "customers", params(("id" = i64, Path)),
    responses((status = 200, body = Customer), (status = 404, body = ErrorBody)), security(("token" = []), ("session" = [])))]
async fn get_customer(State(state): State<AppState>, auth: Auth, Path(id): Path<Id>) -> ApiResult<Json<Customer>> {
    let access = auth.access(&state).await?;
    Ok(Json(super::get(&state.store, &access, id, Action::Read).await?))
}

/// Changes a customer. Send the `version` you read to be told of concurrent edits (409).
#[utoipa::path(patch, path = "/api/v1/customers/{id}", tag = "customers", params(("id" = i64, Path)), request_body = CustomerPatch,
    responses((status = 200, body = Customer), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn update_customer(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<Id>,
    Json(patch): Json<CustomerPatch>,
) -> ApiResult<Json<Customer>> {
    let access = auth.access(&state).await?;
    Ok(Json(super::update(&state.store, &access, id, &patch).await?))
}

/// Deletes a customer with its contacts and timeline.
#[utoipa::path(delete, path = "/api/v1/customers/{id}", tag = "customers", params(("id" = i64, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)), security(("token" = []), ("session" = [])))]
async fn delete_customer(State(state): State<AppState>, auth: Auth, Path(id): Path<Id>) -> ApiResult<StatusCode> {
    let access = auth.access(&state).await?;
    super::delete(&state.store, &access, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The customers and contacts (that the caller may read) with this phone number, in any
/// format: `010-12345678`, `+86 138 1234 5678`, full-width digits.
#[utoipa::path(get, path = "/api/v1/customers/by-phone/{number}", tag = "customers", params(("number" = String, Path)),
    responses((status = 200, body = PhoneMatches), (status = 422, body = ErrorBody)), security(("token" = []), ("session" = [])))]
async fn customers_by_phone(
    State(state): State<AppState>,
    auth: Auth,
    Path(number): Path<String>,
) -> ApiResult<Json<PhoneMatches>> {
    let access = auth.access(&state).await?;
    Ok(Json(super::by_phone(&state.store, &access, &number).await?))
}

/// A customer's contacts.
#[utoipa::path(get, path = "/api/v1/customers/{id}/contacts", tag = "customers", params(("id" = i64, Path)),
    responses((status = 200, body = [Contact]), (status = 404, body = ErrorBody)), security(("token" = []), ("session" = [])))]
async fn list_contacts(State(state): State<AppState>, auth: Auth, Path(id): Path<Id>) -> ApiResult<Json<Vec<Contact>>> {
    let access = auth.access(&state).await?;
    Ok(Json(contacts::list_for_customer(&state.store, &access, id).await?))
}

/// Adds a contact to a customer.
#[utoipa::path(post, path = "/api/v1/customers/{id}/contacts", tag = "customers", params(("id" = i64, Path)), request_body = NewContact,
    responses((status = 201, body = Contact), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)), security(("token" = []), ("session" = [])))]
async fn create_contact(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<Id>,
    Json(input): Json<NewContact>,
) -> ApiResult<(StatusCode, Json<Contact>)> {
    let access = auth.access(&state).await?;
    Ok((StatusCode::CREATED, Json(contacts::create(&state.store, &access, id, &input).await?)))
}

/// Changes a contact.
#[utoipa::path(patch, path = "/api/v1/contacts/{id}", tag = "customers", params(("id" = i64, Path)), request_body = ContactPatch,
    responses((status = 200, body = Contact), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)), security(("token" = []), ("session" = [])))]
async fn update_contact(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<Id>,
    Json(patch): Json<ContactPatch>,
) -> ApiResult<Json<Contact>> {
    let access = auth.access(&state).await?;
    Ok(Json(contacts::update(&state.store, &access, id, &patch).await?))
}

/// Deletes a contact.
#[utoipa::path(delete, path = "/api/v1/contacts/{id}", tag = "customers", params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)), security(("token" = []), ("session" = [])))]
async fn delete_contact(State(state): State<AppState>, auth: Auth, Path(id): Path<Id>) -> ApiResult<StatusCode> {
    let access = auth.access(&state).await?;
    contacts::delete(&state.store, &access, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A customer's timeline, newest first.
#[utoipa::path(get, path = "/api/v1/customers/{id}/activities", tag = "customers", params(("id" = i64, Path), TimelineQuery),
    responses((status = 200, body = [Activity]), (status = 404, body = ErrorBody)), security(("token" = []), ("session" = [])))]
async fn customer_timeline(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<Id>,
    Query(q): Query<TimelineQuery>,
) -> ApiResult<Json<Vec<Activity>>> {
    let access = auth.access(&state).await?;
    Ok(Json(activities::timeline(&state.store, &access, id, &q).await?))
}

/// Logs a follow-up (call, visit, email, meeting, note) on a customer.
#[utoipa::path(post, path = "/api/v1/customers/{id}/activities", tag = "customers", params(("id" = i64, Path)), request_body = NewActivity,
    responses((status = 201, body = Activity), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)), security(("token" = []), ("session" = [])))]
async fn log_activity(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<Id>,
    Json(input): Json<NewActivity>,
) -> ApiResult<(StatusCode, Json<Activity>)> {
    let access = auth.access(&state).await?;
    Ok((StatusCode::CREATED, Json(activities::create(&state.store, &access, id, &input).await?)))
}

/// Which option list to show.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct OptionQuery {
    /// category, level, status, industry, region or source; all lists when absent.
    pub list: Option<String>,
}

/// The option lists customers draw from.
#[utoipa::path(get, path = "/api/v1/option-lists", tag = "customers", params(OptionQuery),
    responses((status = 200, body = [OptionItem])), security(("token" = []), ("session" = [])))]
async fn list_options(
    State(state): State<AppState>,
    auth: Auth,
    Query(q): Query<OptionQuery>,
) -> ApiResult<Json<Vec<OptionItem>>> {
    Ok(Json(options::list(&state.store, auth.0.principal.org_id, q.list.as_deref()).await?))
}

/// Adds an item to an option list (administrators).
#[utoipa::path(post, path = "/api/v1/option-lists/{list}", tag = "customers", params(("list" = String, Path)), request_body = OptionInput,
    responses((status = 201, body = OptionItem), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)), security(("token" = []), ("session" = [])))]
async fn add_option(
    State(state): State<AppState>,
    ip: ClientIp,
    auth: Auth,
    Path(list): Path<String>,
    Json(input): Json<OptionInput>,
) -> ApiResult<(StatusCode, Json<OptionItem>)> {
    auth.require_admin(&state).await?;
    let p = auth.0.principal;
    let item = options::create(&state.store, p.org_id, Some(p.user_id), ip.0, &list, &input).await?;
    Ok((StatusCode::CREATED, Json(item)))
}

/// Changes the labels, order or availability of an option (administrators).
#[utoipa::path(put, path = "/api/v1/option-lists/items/{id}", tag = "customers", params(("id" = i64, Path)), request_body = OptionInput,
    responses((status = 200, body = OptionItem), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)), security(("token" = []), ("session" = [])))]
async fn update_option(
    State(state): State<AppState>,
    ip: ClientIp,
    auth: Auth,
    Path(id): Path<Id>,
    Json(input): Json<OptionInput>,
) -> ApiResult<Json<OptionItem>> {
    auth.require_admin(&state).await?;
    let p = auth.0.principal;
    let item = options::update(&state.store, p.org_id, Some(p.user_id), ip.0, id, &input).await?;
    Ok(Json(item))
}

/// The pattern new customer codes are numbered from.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodePatternSetting {
    /// Literal text with `{yyyy}`, `{yy}`, `{mm}`, `{dd}` and exactly one `{seq:N}`, e.g. `KH-{yyyy}-{seq:5}`.
    pub pattern: String,
}

/// The customer code pattern.
#[utoipa::path(get, path = "/api/v1/settings/customer-code-pattern", tag = "customers",
    responses((status = 200, body = CodePatternSetting)), security(("token" = []), ("session" = [])))]
async fn get_code_pattern(State(state): State<AppState>, auth: Auth) -> ApiResult<Json<CodePatternSetting>> {
    let pattern: String = sqlx::query_scalar("SELECT customer_code_pattern FROM orgs WHERE id = $1")
        .bind(auth.0.principal.org_id)
        .fetch_one(state.store.pool())
        .await
        .map_err(Error::from)?;
    Ok(Json(CodePatternSetting { pattern }))
}

/// Sets the customer code pattern (administrators). Existing codes stay as they are.
#[utoipa::path(put, path = "/api/v1/settings/customer-code-pattern", tag = "customers", request_body = CodePatternSetting,
    responses((status = 200, body = CodePatternSetting), (status = 422, body = ErrorBody)), security(("token" = []), ("session" = [])))]
async fn set_code_pattern(
    State(state): State<AppState>,
    ip: ClientIp,
    auth: Auth,
    Json(setting): Json<CodePatternSetting>,
) -> ApiResult<Json<CodePatternSetting>> {
    auth.require_admin(&state).await?;
    let p = auth.0.principal;
    super::codes::set_pattern(&state.store, p.org_id, Some(p.user_id), ip.0, &setting.pattern).await?;
    Ok(Json(setting))
}

/// Who a customer is shared with.
#[utoipa::path(get, path = "/api/v1/customers/{id}/shares", tag = "customers", params(("id" = i64, Path)),
    responses((status = 200, body = [Share]), (status = 404, body = ErrorBody)), security(("token" = []), ("session" = [])))]
async fn list_shares(State(state): State<AppState>, auth: Auth, Path(id): Path<Id>) -> ApiResult<Json<Vec<Share>>> {
    let access = auth.access(&state).await?;
    Ok(Json(operations::list_shares(&state.store, &access, id).await?))
}

/// Shares a customer with a colleague or a department, to read or to edit.
#[utoipa::path(post, path = "/api/v1/customers/{id}/shares", tag = "customers", params(("id" = i64, Path)), request_body = NewShare,
    responses((status = 201, body = Share), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)), security(("token" = []), ("session" = [])))]
async fn add_share(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<Id>,
    Json(new): Json<NewShare>,
) -> ApiResult<(StatusCode, Json<Share>)> {
    let access = auth.access(&state).await?;
    Ok((StatusCode::CREATED, Json(operations::share(&state.store, &access, id, &new).await?)))
}

/// Withdraws a share.
#[utoipa::path(delete, path = "/api/v1/customers/{id}/shares/{share_id}", tag = "customers", params(("id" = i64, Path), ("share_id" = i64, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)), security(("token" = []), ("session" = [])))]
async fn remove_share(
    State(state): State<AppState>,
    auth: Auth,
    Path((id, share_id)): Path<(Id, Id)>,
) -> ApiResult<StatusCode> {
    let access = auth.access(&state).await?;
    operations::unshare(&state.store, &access, id, share_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Transfers customers to a new owner: a list of them, or everything one user owns (someone
/// who left). All or nothing; each is logged with the reason.
#[utoipa::path(post, path = "/api/v1/customers/transfer", tag = "customers", request_body = TransferRequest,
    responses((status = 200, body = TransferResult), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn transfer_customers(
    State(state): State<AppState>,
    auth: Auth,
    Json(req): Json<TransferRequest>,
) -> ApiResult<Json<TransferResult>> {
    let access = auth.access(&state).await?;
    Ok(Json(operations::transfer(&state.store, &access, &req).await?))
}

/// A customer's transfer log, newest first.
#[utoipa::path(get, path = "/api/v1/customers/{id}/transfers", tag = "customers", params(("id" = i64, Path)),
    responses((status = 200, body = [TransferRecord]), (status = 404, body = ErrorBody)), security(("token" = []), ("session" = [])))]
async fn customer_transfers(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<Id>,
) -> ApiResult<Json<Vec<TransferRecord>>> {
    let access = auth.access(&state).await?;
    Ok(Json(operations::transfer_log(&state.store, &access, id).await?))
}

/// How many customers a batch edit changed.
#[derive(Debug, Serialize, ToSchema)]
pub struct BatchResult {
    pub updated: usize,
}

/// Sets option fields and adds or removes tags on many customers, all or nothing.
#[utoipa::path(post, path = "/api/v1/customers/batch-edit", tag = "customers", request_body = BatchEdit,
    responses((status = 200, body = BatchResult), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)), security(("token" = []), ("session" = [])))]
async fn batch_edit_customers(
    State(state): State<AppState>,
    auth: Auth,
    Json(edit): Json<BatchEdit>,
) -> ApiResult<Json<BatchResult>> {
    let access = auth.access(&state).await?;
    Ok(Json(BatchResult { updated: operations::batch_edit(&state.store, &access, &edit).await? }))
}

/// Many customers shared with the same colleague or department.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchShare {
    pub customer_ids: Vec<Id>,
    pub user_id: Option<Id>,
    pub department_id: Option<Id>,
    pub level: ShareLevel,
}

/// Shares many customers with one colleague or department, all or nothing (the caller must be
/// able to edit each of them).
#[utoipa::path(post, path = "/api/v1/customers/share", tag = "customers", request_body = BatchShare,
    responses((status = 200, body = BatchResult), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)), security(("token" = []), ("session" = [])))]
async fn share_customers(
    State(state): State<AppState>,
    auth: Auth,
    Json(batch): Json<BatchShare>,
) -> ApiResult<Json<BatchResult>> {
    let access = auth.access(&state).await?;
    let share = NewShare { user_id: batch.user_id, department_id: batch.department_id, level: batch.level };
    Ok(Json(BatchResult { updated: operations::share_many(&state.store, &access, &batch.customer_ids, &share).await? }))
}

/// Customers that may be the same as the one described (same name ignoring legal-form
/// suffixes, a shared phone number, or the same tax id) — to ask before creating one.
#[utoipa::path(post, path = "/api/v1/customers/duplicates", tag = "customers", request_body = DuplicateProbe,
    responses((status = 200, body = [DuplicateCandidate])), security(("token" = []), ("session" = [])))]
async fn check_duplicates(
    State(state): State<AppState>,
    auth: Auth,
    Json(probe): Json<DuplicateProbe>,
) -> ApiResult<Json<Vec<DuplicateCandidate>>> {
    let access = auth.access(&state).await?;
    Ok(Json(operations::find_duplicates(&state.store, &access, &probe).await?))
}

/// Customers that may be duplicates of this one.
#[utoipa::path(get, path = "/api/v1/customers/{id}/duplicates", tag = "customers", params(("id" = i64, Path)),
    responses((status = 200, body = [DuplicateCandidate]), (status = 404, body = ErrorBody)), security(("token" = []), ("session" = [])))]
async fn customer_duplicates(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<Id>,
) -> ApiResult<Json<Vec<DuplicateCandidate>>> {
    let access = auth.access(&state).await?;
    let c = super::get(&state.store, &access, id, Action::Read).await?;
    let probe = DuplicateProbe {
        name: Some(c.name.clone()),
        phones: c.phones.iter().map(|p| p.canonical.clone()).collect(),
        tax_id: c.tax_id.clone(),
        exclude_id: Some(id),
    };
    Ok(Json(operations::find_duplicates(&state.store, &access, &probe).await?))
}

/// The customers to merge into this one.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MergeRequest {
    pub from_ids: Vec<Id>,
}

/// Merges other customers into this one: their contacts, phones, timeline, shares and child
/// companies move here, empty fields are filled, and they are deleted (audited).
#[utoipa::path(post, path = "/api/v1/customers/{id}/merge", tag = "customers", params(("id" = i64, Path)), request_body = MergeRequest,
    responses((status = 200, body = Customer), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn merge_customers(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<Id>,
    Json(req): Json<MergeRequest>,
) -> ApiResult<Json<Customer>> {
    let access = auth.access(&state).await?;
    Ok(Json(operations::merge(&state.store, &access, id, &req.from_ids).await?))
}

/// What to break the composition down by.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CompositionQuery {
    /// category, level, status, industry, region, source, owner or department.
    #[param(value_type = String)]
    pub by: analysis::CompositionBy,
}

/// Customers (that the caller may read) counted by one field.
#[utoipa::path(get, path = "/api/v1/analysis/customers/composition", tag = "analysis", params(CompositionQuery),
    responses((status = 200, body = [analysis::Slice]), (status = 400, body = ErrorBody)), security(("token" = []), ("session" = [])))]
async fn composition(
    State(state): State<AppState>,
    auth: Auth,
    Query(q): Query<CompositionQuery>,
) -> ApiResult<Json<Vec<analysis::Slice>>> {
    let access = auth.access(&state).await?;
    Ok(Json(analysis::composition(&state.store, &access, q.by).await?))
}

/// New customers per day, week or month.
#[utoipa::path(get, path = "/api/v1/analysis/customers/new", tag = "analysis", params(analysis::SeriesQuery),
    responses((status = 200, body = [analysis::Point]), (status = 422, body = ErrorBody)), security(("token" = []), ("session" = [])))]
async fn new_customers(
    State(state): State<AppState>,
    auth: Auth,
    Query(q): Query<analysis::SeriesQuery>,
) -> ApiResult<Json<Vec<analysis::Point>>> {
    let access = auth.access(&state).await?;
    Ok(Json(analysis::new_customers(&state.store, &access, &q).await?))
}

/// Follow-ups per salesperson per day, week or month ("call volume").
#[utoipa::path(get, path = "/api/v1/analysis/follow-ups", tag = "analysis", params(analysis::SeriesQuery),
    responses((status = 200, body = [analysis::PersonSeries]), (status = 422, body = ErrorBody)), security(("token" = []), ("session" = [])))]
async fn follow_up_volume(
    State(state): State<AppState>,
    auth: Auth,
    Query(q): Query<analysis::SeriesQuery>,
) -> ApiResult<Json<Vec<analysis::PersonSeries>>> {
    let access = auth.access(&state).await?;
    Ok(Json(analysis::follow_ups(&state.store, &access, &q).await?))
}

/// The caller's saved customer views and those shared with everyone.
#[utoipa::path(get, path = "/api/v1/customer-views", tag = "customers",
    responses((status = 200, body = [views::SavedView])), security(("token" = []), ("session" = [])))]
async fn list_views(State(state): State<AppState>, auth: Auth) -> ApiResult<Json<Vec<views::SavedView>>> {
    let access = auth.access(&state).await?;
    Ok(Json(views::list(&state.store, &access).await?))
}

/// Saves a customer view: a name and a list query string.
#[utoipa::path(post, path = "/api/v1/customer-views", tag = "customers", request_body = views::NewView,
    responses((status = 201, body = views::SavedView), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)), security(("token" = []), ("session" = [])))]
async fn save_view(
    State(state): State<AppState>,
    auth: Auth,
    Json(new): Json<views::NewView>,
) -> ApiResult<(StatusCode, Json<views::SavedView>)> {
    let access = auth.access(&state).await?;
    Ok((StatusCode::CREATED, Json(views::create(&state.store, &access, &new).await?)))
}

/// Deletes a saved view.
#[utoipa::path(delete, path = "/api/v1/customer-views/{id}", tag = "customers", params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)), security(("token" = []), ("session" = [])))]
async fn delete_view(State(state): State<AppState>, auth: Auth, Path(id): Path<Id>) -> ApiResult<StatusCode> {
    let access = auth.access(&state).await?;
    views::delete(&state.store, &access, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn pdf_response(bytes: Vec<u8>, file_name: &str) -> axum::response::Response {
    use axum::response::IntoResponse;
    (
        [
            (axum::http::header::CONTENT_TYPE, "application/pdf".to_owned()),
            (axum::http::header::CONTENT_DISPOSITION, format!("inline; filename=\"{file_name}\"")),
        ],
        bytes,
    )
        .into_response()
}

/// The filtered customer list (same query as the list) as a printable PDF, up to 5,000
/// customers, in the caller's language. Needs the export permission.
#[utoipa::path(get, path = "/api/v1/customers/print/list", tag = "customers", params(CustomerQuery),
    responses((status = 200, content_type = "application/pdf", body = Vec<u8>), (status = 403, body = ErrorBody)), security(("token" = []), ("session" = [])))]
async fn print_list(
    State(state): State<AppState>,
    auth: Auth,
    Query(q): Query<CustomerQuery>,
) -> ApiResult<axum::response::Response> {
    let access = auth.access(&state).await?;
    let bytes = super::print::list_pdf(&state.store, &access, &q, auth.0.locale.starts_with("zh")).await?;
    Ok(pdf_response(bytes, "customers.pdf"))
}

/// Address labels (3 × 8 per A4 sheet) for the filtered customer list. Needs the export permission.
#[utoipa::path(get, path = "/api/v1/customers/print/labels", tag = "customers", params(CustomerQuery),
    responses((status = 200, content_type = "application/pdf", body = Vec<u8>), (status = 403, body = ErrorBody)), security(("token" = []), ("session" = [])))]
async fn print_labels(
    State(state): State<AppState>,
    auth: Auth,
    Query(q): Query<CustomerQuery>,
) -> ApiResult<axum::response::Response> {
    let access = auth.access(&state).await?;
    let bytes = super::print::labels_pdf(&state.store, &access, &q, auth.0.locale.starts_with("zh")).await?;
    Ok(pdf_response(bytes, "labels.pdf"))
}

/// The name of an uploaded file.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UploadQuery {
    /// e.g. `客户.xlsx` or `customers.csv`; the ending decides how the file is read.
    pub file_name: String,
}

/// Uploads a CSV (UTF-8 or GBK) or XLSX file of customers, sent as the request body (up to
/// 100 MiB). Answers with its columns, a sample and a suggested mapping.
#[utoipa::path(post, path = "/api/v1/customer-imports", tag = "customers", params(UploadQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 201, body = super::import::ImportInfo), (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn upload_import(
    State(state): State<AppState>,
    auth: Auth,
    Query(q): Query<UploadQuery>,
    body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> ApiResult<(StatusCode, Json<super::import::ImportInfo>)> {
    let body = body.map_err(|e| crate::web::ApiError::new(e.status(), "body_too_large", e.body_text()))?;
    let access = auth.access(&state).await?;
    let info = super::import::upload(&state.store, &access, &q.file_name, &body, &state.imports).await?;
    Ok((StatusCode::CREATED, Json(info)))
}

/// An upload: columns, suggested mapping, and while running the rows done; when finished, the report.
#[utoipa::path(get, path = "/api/v1/customer-imports/{id}", tag = "customers", params(("id" = i64, Path)),
    responses((status = 200, body = super::import::ImportInfo), (status = 404, body = ErrorBody)), security(("token" = []), ("session" = [])))]
async fn get_import(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<Id>,
) -> ApiResult<Json<super::import::ImportInfo>> {
    let access = auth.access(&state).await?;
    Ok(Json(super::import::get(&state.store, &access, id, &state.imports).await?))
}

/// Checks every row against a mapping without importing: new customers, matches with
/// existing ones, and every problem with its row and column.
#[utoipa::path(post, path = "/api/v1/customer-imports/{id}/dry-run", tag = "customers", params(("id" = i64, Path)), request_body = super::import::ImportPlan,
    responses((status = 200, body = super::import::ImportReport), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn dry_run_import(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<Id>,
    Json(plan): Json<super::import::ImportPlan>,
) -> ApiResult<Json<super::import::ImportReport>> {
    let access = auth.access(&state).await?;
    Ok(Json(super::import::dry_run(&state.store, &access, id, &plan).await?))
}

/// Runs the import in the background, all or nothing; poll the upload for progress.
#[utoipa::path(post, path = "/api/v1/customer-imports/{id}/run", tag = "customers", params(("id" = i64, Path)), request_body = super::import::ImportPlan,
    responses((status = 202, body = super::import::ImportInfo), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn run_import(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<Id>,
    Json(plan): Json<super::import::ImportPlan>,
) -> ApiResult<(StatusCode, Json<super::import::ImportInfo>)> {
    let access = auth.access(&state).await?;
    super::import::start(&state.store, &access, id, plan, state.imports.clone()).await?;
    Ok((StatusCode::ACCEPTED, Json(super::import::get(&state.store, &access, id, &state.imports).await?)))
}

/// The filtered customer list as CSV or XLSX (headers in the caller's language; the Chinese
/// ones import back). Needs the export permission; covers only customers within its scope.
#[utoipa::path(get, path = "/api/v1/customers/export/{format}", tag = "customers", params(("format" = String, Path, description = "csv or xlsx"), CustomerQuery),
    responses((status = 200, content_type = "text/csv", body = String), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn export_customers(
    State(state): State<AppState>,
    auth: Auth,
    Path(format): Path<String>,
    Query(q): Query<CustomerQuery>,
) -> ApiResult<axum::response::Response> {
    use axum::response::IntoResponse;
    let access = auth.access(&state).await?;
    let chinese = auth.0.locale.starts_with("zh");
    match format.as_str() {
        "csv" => {
            let body = super::export::csv(&state.store, &access, &q, chinese).await?;
            Ok((
                [
                    (axum::http::header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                    (axum::http::header::CONTENT_DISPOSITION, "attachment; filename=\"customers.csv\""),
                ],
                body,
            )
                .into_response())
        }
        "xlsx" => {
            let bytes = super::export::xlsx(&state.store, &access, &q, chinese).await?;
            Ok((
                [
                    (
                        axum::http::header::CONTENT_TYPE,
                        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    ),
                    (axum::http::header::CONTENT_DISPOSITION, "attachment; filename=\"customers.xlsx\""),
                ],
                bytes,
            )
                .into_response())
        }
        other => Err(Error::invalid("format", format!("{other:?} is not an export format; use csv or xlsx")).into()),
    }
}

/// The organisation's custom customer fields.
#[utoipa::path(get, path = "/api/v1/custom-fields", tag = "customers",
    responses((status = 200, body = [super::fields::CustomField])), security(("token" = []), ("session" = [])))]
async fn list_fields(State(state): State<AppState>, auth: Auth) -> ApiResult<Json<Vec<super::fields::CustomField>>> {
    Ok(Json(super::fields::list(&state.store, auth.0.principal.org_id).await?))
}

/// Adds a custom customer field (administrators).
#[utoipa::path(post, path = "/api/v1/custom-fields", tag = "customers", request_body = super::fields::NewField,
    responses((status = 201, body = super::fields::CustomField), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn create_field(
    State(state): State<AppState>,
    ip: ClientIp,
    auth: Auth,
    Json(new): Json<super::fields::NewField>,
) -> ApiResult<(StatusCode, Json<super::fields::CustomField>)> {
    auth.require_admin(&state).await?;
    let p = auth.0.principal;
    let field = super::fields::create(&state.store, p.org_id, Some(p.user_id), ip.0, &new).await?;
    Ok((StatusCode::CREATED, Json(field)))
}

/// Changes labels, flags, options, order or whether a custom field is in use (administrators).
#[utoipa::path(patch, path = "/api/v1/custom-fields/{id}", tag = "customers", params(("id" = i64, Path)), request_body = super::fields::FieldPatch,
    responses((status = 200, body = super::fields::CustomField), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn update_field(
    State(state): State<AppState>,
    ip: ClientIp,
    auth: Auth,
    Path(id): Path<Id>,
    Json(patch): Json<super::fields::FieldPatch>,
) -> ApiResult<Json<super::fields::CustomField>> {
    auth.require_admin(&state).await?;
    let p = auth.0.principal;
    let field = super::fields::update(&state.store, p.org_id, Some(p.user_id), ip.0, id, &patch).await?;
    Ok(Json(field))
}

/// Contacts across every customer the caller may read: search by name, pinyin, title or
/// phone; filter by birthday month.
#[utoipa::path(get, path = "/api/v1/contacts", tag = "customers", params(contacts::ContactQuery),
    responses((status = 200, body = [Contact]), (status = 422, body = ErrorBody)), security(("token" = []), ("session" = [])))]
async fn list_all_contacts(
    State(state): State<AppState>,
    auth: Auth,
    Query(q): Query<contacts::ContactQuery>,
) -> ApiResult<Json<Vec<Contact>>> {
    let access = auth.access(&state).await?;
    Ok(Json(contacts::list(&state.store, &access, &q).await?))
}

/// The group a customer belongs to, from its top parent down.
#[utoipa::path(get, path = "/api/v1/customers/{id}/group", tag = "customers", params(("id" = i64, Path)),
    responses((status = 200, body = super::GroupNode), (status = 404, body = ErrorBody)), security(("token" = []), ("session" = [])))]
async fn customer_group(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<Id>,
) -> ApiResult<Json<super::GroupNode>> {
    let access = auth.access(&state).await?;
    Ok(Json(super::group(&state.store, &access, id).await?))
}
