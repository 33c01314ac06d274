//! Approvals: what waits for me, what I submitted, and one approval with its steps and history,
//! where its approvers approve or reject with a comment.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::{Chrome, Posted, UiError, Viewer, render, render_with, see_other};
use crate::error::Error;
use crate::org::users;
use crate::store::Id;
use crate::web::AppState;
use crate::workflow::instances::{self, ActionInput, Approval, ApprovalQuery, UserAction};

pub struct ApprovalRow {
    pub id: Id,
    pub title: String,
    pub submitter: String,
    pub submitted: String,
    pub state: &'static str,
}

#[derive(Template)]
#[template(path = "approvals.html")]
struct InboxPage {
    chrome: Chrome,
    waiting: Vec<ApprovalRow>,
    mine: Vec<ApprovalRow>,
}

fn state_key(a: &Approval) -> &'static str {
    match a.state.as_str() {
        "approved" => "approvals.state.approved",
        "rejected" => "approvals.state.rejected",
        "returned" => "approvals.state.returned",
        "withdrawn" => "approvals.state.withdrawn",
        _ => "approvals.state.pending",
    }
}

fn rows(list: &[Approval], names: &HashMap<Id, String>, chrome: &Chrome) -> Vec<ApprovalRow> {
    list.iter()
        .map(|a| ApprovalRow {
            id: a.id,
            title: a.title.clone(),
            submitter: names.get(&a.submitter_id).cloned().unwrap_or_default(),
            submitted: chrome.when(&a.created_at),
            state: state_key(a),
        })
        .collect()
}

async fn names(state: &AppState, org_id: Id) -> Result<HashMap<Id, String>, Error> {
    Ok(users::colleagues(&state.store, org_id).await?.into_iter().map(|u| (u.id, u.display_name)).collect())
}

pub async fn inbox(State(state): State<AppState>, viewer: Viewer) -> Result<Response, UiError> {
    let (org_id, user_id) = (viewer.org_id(), viewer.user_id());
    let q = ApprovalQuery { limit: Some(50), ..Default::default() };
    let waiting = instances::inbox(&state.store, org_id, user_id, &q).await?;
    let mine = instances::mine(&state.store, org_id, user_id, &q).await?;
    let names = names(&state, org_id).await?;
    let title = viewer.lang().t("approvals.title");
    let chrome = viewer.chrome(title, "/approvals");
    let page =
        InboxPage { waiting: rows(&waiting.items, &names, &chrome), mine: rows(&mine.items, &names, &chrome), chrome };
    Ok(render(&page))
}

pub struct StepRow {
    pub name: String,
    pub approvers: String,
    pub done: bool,
    pub current: bool,
    pub skipped: bool,
}

pub struct HistoryRow {
    pub action: String,
    pub actor: String,
    pub comment: String,
    pub at: String,
}

#[derive(Template)]
#[template(path = "approval.html")]
struct DetailPage {
    chrome: Chrome,
    id: Id,
    title: String,
    subject_link: String,
    submitter: String,
    submitted: String,
    state: &'static str,
    steps: Vec<StepRow>,
    fields: Vec<(String, String)>,
    history: Vec<HistoryRow>,
    may_decide: bool,
    error: Option<String>,
    comment: String,
}

async fn detail_page(
    state: &AppState,
    viewer: Viewer,
    id: Id,
    error: Option<String>,
    comment: String,
) -> Result<Response, UiError> {
    let (org_id, user_id) = (viewer.org_id(), viewer.user_id());
    let a = instances::get(&state.store, org_id, user_id, viewer.is_admin(), id).await?;
    let names = names(state, org_id).await?;
    let name = |id: &Id| names.get(id).cloned().unwrap_or_default();
    let chrome = viewer.chrome(&a.title, "/approvals");
    let steps = a
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| StepRow {
            name: s.name.clone(),
            approvers: s.approvers.iter().map(name).collect::<Vec<_>>().join(", "),
            done: !s.skipped && (a.state.as_str() == "approved" || a.step.is_some_and(|current| i < current)),
            current: a.step == Some(i) && a.state.as_str() == "pending",
            skipped: s.skipped,
        })
        .collect();
    let fields = match &a.fields {
        serde_json::Value::Object(map) => map
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| (k.clone(), v.as_str().map_or_else(|| v.to_string(), str::to_owned)))
            .collect(),
        _ => Vec::new(),
    };
    let history = a
        .history
        .as_deref()
        .unwrap_or_default()
        .iter()
        .map(|h| HistoryRow {
            action: h.action.clone(),
            actor: h.actor_user_id.as_ref().map(name).unwrap_or_default(),
            comment: h.comment.clone().unwrap_or_default(),
            at: chrome.when(&h.at),
        })
        .collect();
    let subject_link =
        if a.subject_type == "customer" { format!("/customers/{}", a.subject_id) } else { String::new() };
    let failed = error.is_some();
    let page = DetailPage {
        id: a.id,
        title: a.title.clone(),
        subject_link,
        submitter: name(&a.submitter_id),
        submitted: chrome.when(&a.created_at),
        state: state_key(&a),
        steps,
        fields,
        history,
        may_decide: a.state.as_str() == "pending" && a.waiting_for.contains(&user_id),
        error,
        comment,
        chrome,
    };
    Ok(render_with(if failed { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK }, &page))
}

pub async fn detail(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<Response, UiError> {
    let id = id.parse::<Id>().map_err(|_| UiError::status(StatusCode::NOT_FOUND, "error.not_found"))?;
    detail_page(&state, viewer, id, None, String::new()).await
}

pub async fn decide(
    State(state): State<AppState>,
    Path((id, decision)): Path<(Id, String)>,
    posted: Posted,
) -> Result<Response, UiError> {
    let Posted { viewer, form } = posted;
    let (what, notice) = match decision.as_str() {
        "approve" => (UserAction::Approve, "approvals.approved"),
        "reject" => (UserAction::Reject, "approvals.rejected"),
        _ => return Err(UiError::status(StatusCode::NOT_FOUND, "error.not_found")),
    };
    let input = ActionInput { comment: form.opt("comment"), to_user_id: None };
    let acted =
        instances::act(&state.store, viewer.org_id(), viewer.user_id(), viewer.is_admin(), id, what, &input).await;
    match acted {
        Ok(_) => Ok(see_other(&format!("/approvals/{id}?notice={notice}"))),
        Err(Error::Invalid { message, .. } | Error::Conflict(message) | Error::Forbidden(message)) => {
            detail_page(&state, viewer, id, Some(message), form.get("comment").to_owned()).await
        }
        Err(e) => Err(e.into()),
    }
}
