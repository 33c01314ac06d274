//! Administration pages for integrations: outbound webhooks (endpoints, their signing secret,
//! test events, and the delivery log with redelivery) and approval workflow definitions (their
//! steps in words, created and edited as rows of plain fields). Only organisation
//! administrators reach them; everyone else gets a 403 page.
//!
//! A signing secret is shown once, on the page that answers the form that made or rotated it;
//! it never goes into a URL and a reload of the endpoint page does not show it.

use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::Value;

use super::admin::{AdminPosted, require_admin, status_of};
use super::i18n::Strings;
use super::{Choice, Chrome, FormFields, Lang, Notice, UiError, Viewer, path_id, render_with, see_other};
use crate::error::Error;
use crate::events::deliveries::{self, DeliveryQuery};
use crate::events::webhooks::{self, Endpoint, EndpointPatch, NewEndpoint};
use crate::org::{departments, roles, users};
use crate::store::Id;
use crate::web::AppState;
use crate::workflow::definitions::{
    self, ApproverSpec, Condition, Definition, DefinitionPatch, NewDefinition, StepSpec,
};
use crate::workflow::machine::{Escalation, Mode};

/// The strings of these pages: key, English, Chinese.
pub(super) const STRINGS: Strings = &[
    // Webhooks.
    (
        "integrations.webhooks_intro",
        "Tessera sends the events you choose to these addresses, signed with each endpoint's secret (Standard Webhooks).",
        "Tessera 把所选事件推送到这些地址，并用各地址的密钥签名（Standard Webhooks 规范）。",
    ),
    ("integrations.url", "URL", "地址"),
    (
        "integrations.url_help",
        "https://… (http:// only for a receiver on a private network).",
        "https://…（仅内网接收方可用 http://）。",
    ),
    ("integrations.description", "Description", "说明"),
    ("integrations.topics", "Events", "事件"),
    ("integrations.other_topics", "Other events", "其他事件"),
    (
        "integrations.other_topics_help",
        "Exact topics such as customer.created, or those of a plugin, separated by commas.",
        "具体事件名（如 customer.created）或插件的事件，用逗号分隔。",
    ),
    ("integrations.topic_all", "Every event", "全部事件"),
    ("integrations.topic_customer", "Customers (customer.*)", "客户（customer.*）"),
    ("integrations.topic_contact", "Contacts (contact.*)", "联系人（contact.*）"),
    ("integrations.topic_activity", "Follow-ups (activity.*)", "跟进记录（activity.*）"),
    ("integrations.topic_approval", "Approvals (approval.*)", "审批（approval.*）"),
    ("integrations.topic_workflow", "Workflows (workflow.*)", "流程（workflow.*）"),
    ("integrations.enabled", "Send events to this endpoint", "向此地址推送事件"),
    ("integrations.state", "State", "状态"),
    ("integrations.sending", "Sending", "推送中"),
    ("integrations.stopped", "Stopped", "已停止"),
    ("integrations.last_delivery", "Last delivery", "最近推送"),
    ("integrations.never", "None yet", "尚无"),
    ("integrations.no_webhooks", "No endpoint yet.", "尚未添加推送地址。"),
    ("integrations.new_webhook", "Add an endpoint", "添加推送地址"),
    ("integrations.add", "Add", "添加"),
    ("integrations.settings", "Settings", "设置"),
    ("integrations.secret", "Signing secret", "签名密钥"),
    (
        "integrations.secret_once",
        "Copy this secret now and give it to the receiver: it will not be shown again.",
        "请立即复制此密钥并交给接收方：它不会再次显示。",
    ),
    (
        "integrations.secret_hidden",
        "The secret is shown only when it is made. Rotate it to get a new one; requests are signed with the new secret from then on.",
        "密钥只在生成时显示一次。如需新密钥请轮换；此后的请求将使用新密钥签名。",
    ),
    ("integrations.rotate", "Rotate secret", "轮换密钥"),
    ("integrations.send_test", "Send a test event", "发送测试事件"),
    (
        "integrations.test_help",
        "Sends a webhook.test event to this endpoint alone.",
        "仅向此地址发送一条 webhook.test 事件。",
    ),
    ("integrations.delete_webhook", "Delete endpoint", "删除推送地址"),
    ("integrations.delete_webhook_help", "Removes the endpoint with its delivery log.", "删除此地址及其推送记录。"),
    ("integrations.stopped_because", "Stopped because", "停止原因"),
    ("integrations.deliveries", "Delivery log", "推送记录"),
    ("integrations.no_deliveries", "Nothing sent yet.", "尚未推送任何事件。"),
    ("integrations.event", "Event", "事件"),
    ("integrations.http_status", "HTTP status", "HTTP 状态码"),
    ("integrations.attempts", "Attempts", "尝试次数"),
    ("integrations.created", "Created", "创建时间"),
    ("integrations.status_pending", "Pending", "待发送"),
    ("integrations.status_delivered", "Delivered", "已送达"),
    ("integrations.status_dead", "Failed", "失败"),
    ("integrations.older", "Older deliveries", "更早的记录"),
    ("integrations.newest", "Newest deliveries", "最新的记录"),
    ("integrations.delivery", "Delivery", "推送"),
    ("integrations.message_id", "Message id (webhook-id)", "消息 ID（webhook-id）"),
    ("integrations.finished", "Finished", "完成时间"),
    ("integrations.next_attempt", "Next attempt", "下次尝试"),
    ("integrations.last_error", "Last error", "最近错误"),
    ("integrations.attempt", "Attempt", "第几次"),
    ("integrations.at", "Time", "时间"),
    ("integrations.error", "Error", "错误"),
    ("integrations.took", "Took (ms)", "耗时（毫秒）"),
    ("integrations.response", "Answer", "响应内容"),
    ("integrations.no_attempts", "Not attempted yet.", "尚未尝试。"),
    ("integrations.request_body", "Request body", "请求内容"),
    (
        "integrations.response_note",
        "Each attempt keeps the receiver's HTTP status, any error, and the first 1 KB of its answer.",
        "每次尝试会记录接收方的 HTTP 状态码、错误以及其响应内容的前 1 KB。",
    ),
    ("integrations.redeliver", "Redeliver", "重新推送"),
    (
        "integrations.redeliver_help",
        "Sends this event again with the same webhook-id, from the start of the retry schedule.",
        "以相同的 webhook-id 重新发送此事件，重试计划从头开始。",
    ),
    ("integrations.back_to_webhook", "Back to the endpoint", "返回推送地址"),
    // Workflow definitions.
    (
        "integrations.workflows_intro",
        "Approval workflows: who approves what, step by step. Every change of the steps makes a new version; running approvals keep theirs.",
        "审批流程：逐步规定由谁审批。每次修改步骤都会生成新版本，进行中的审批沿用原版本。",
    ),
    ("integrations.name", "Name", "名称"),
    ("integrations.subject_type", "Subject type", "审批对象类型"),
    (
        "integrations.subject_type_help",
        "What its approvals are about, e.g. customer.",
        "审批的对象，例如 customer（客户）。",
    ),
    ("integrations.version", "Version", "版本"),
    ("integrations.steps", "Steps", "步骤"),
    ("integrations.in_use", "In use", "使用中"),
    ("integrations.archived", "Archived", "已归档"),
    ("integrations.no_workflows", "No workflow yet.", "尚无审批流程。"),
    ("integrations.new_workflow", "New workflow", "新建审批流程"),
    ("integrations.edit_workflow", "Edit workflow", "编辑审批流程"),
    ("integrations.edit", "Edit", "编辑"),
    ("integrations.updated", "Updated", "更新时间"),
    ("integrations.step", "Step", "步骤"),
    ("integrations.step_name", "Step name", "步骤名称"),
    ("integrations.approvers", "Approvers", "审批人"),
    ("integrations.approvers_help", "Hold Ctrl (⌘ on a Mac) to choose several.", "按住 Ctrl（Mac 上为 ⌘）可多选。"),
    ("integrations.mode", "Decision", "审批方式"),
    ("integrations.mode_any", "Any one of them approves", "任一人审批即可"),
    ("integrations.mode_all", "All of them must approve", "需全部审批"),
    ("integrations.condition", "Condition (optional)", "条件（可选）"),
    ("integrations.condition_field", "Field", "字段"),
    ("integrations.condition_op", "Comparison", "比较"),
    ("integrations.condition_value", "Value", "值"),
    (
        "integrations.condition_help",
        "The step runs only when the subject's field compares so, e.g. credit_limit more than 50000; for “is one of”, separate values with commas.",
        "仅当审批对象的字段满足条件时才执行此步骤，例如 credit_limit 大于 50000；“属于”的多个值用逗号分隔。",
    ),
    ("integrations.no_condition", "Always (no condition)", "始终执行（无条件）"),
    ("integrations.deadline_hours", "Overdue after (hours)", "逾期时限（小时）"),
    ("integrations.remind_hours", "Remind after (hours)", "提醒时间（小时）"),
    ("integrations.escalate", "At the deadline, add", "逾期后加入"),
    ("integrations.no_escalation", "Nobody", "不升级"),
    ("integrations.escalate_managers", "The approvers' managers", "审批人的上级"),
    (
        "integrations.rows_help",
        "Blank steps are left out. Save to get more empty rows.",
        "空白步骤会被忽略。保存后可获得更多空白行。",
    ),
    ("integrations.approver_user", "User {name}", "用户 {name}"),
    ("integrations.approver_role", "Anyone with the role {name}", "角色「{name}」的任一成员"),
    ("integrations.approver_manager", "The submitter's manager", "提交人的直属上级"),
    ("integrations.approver_own_head", "The head of the submitter's department", "提交人所在部门的负责人"),
    ("integrations.approver_head", "The head of {name}", "{name}的负责人"),
    ("integrations.when_always", "Always runs", "始终执行"),
    ("integrations.when", "Only when", "仅当"),
    ("integrations.op_eq", "is", "等于"),
    ("integrations.op_ne", "is not", "不等于"),
    ("integrations.op_gt", "is more than", "大于"),
    ("integrations.op_ge", "is at least", "大于等于"),
    ("integrations.op_lt", "is less than", "小于"),
    ("integrations.op_le", "is at most", "小于等于"),
    ("integrations.op_in", "is one of", "属于"),
    ("integrations.overdue_after", "Overdue after {n} hours", "{n} 小时后逾期"),
    ("integrations.remind_after", "approvers reminded after {n} hours", "{n} 小时后提醒审批人"),
    ("integrations.escalates_to", "then escalated to", "逾期后升级至"),
    ("integrations.activate", "Put in use", "启用"),
    ("integrations.deactivate", "Archive", "归档"),
    (
        "integrations.archive_help",
        "An archived workflow starts no new approvals; running ones go on.",
        "归档的流程不再发起新审批，进行中的审批继续。",
    ),
    ("integrations.delete_workflow", "Delete workflow", "删除审批流程"),
    (
        "integrations.delete_workflow_help",
        "A workflow that was ever used is archived instead, so its approvals keep their history.",
        "已被使用过的流程会改为归档，以保留其审批记录。",
    ),
    ("integrations.err_hours", "hours are a whole number from 1 to 8,760", "小时数须为 1 到 8,760 的整数"),
    ("integrations.err_approver", "choose approvers from the list", "请从列表中选择审批人"),
    ("integrations.err_op", "choose how the condition compares", "请选择条件的比较方式"),
    ("integrations.err_escalation", "choose whom to add at the deadline from the list", "请从列表中选择逾期后加入的人"),
    // Notices after a form.
    ("done.webhook_created", "Endpoint added.", "推送地址已添加。"),
    ("done.webhook_saved", "Endpoint saved.", "推送地址已保存。"),
    ("done.webhook_deleted", "Endpoint deleted.", "推送地址已删除。"),
    ("done.webhook_secret_rotated", "Secret rotated.", "密钥已轮换。"),
    (
        "done.webhook_test_sent",
        "Test event queued; it shows in the delivery log.",
        "测试事件已排队，稍后可在推送记录中查看。",
    ),
    ("done.webhook_redelivered", "Delivery queued again.", "已重新排队推送。"),
    ("done.workflow_created", "Workflow created.", "审批流程已创建。"),
    ("done.workflow_saved", "Workflow saved.", "审批流程已保存。"),
    ("done.workflow_activated", "Workflow in use.", "审批流程已启用。"),
    ("done.workflow_archived", "Workflow archived.", "审批流程已归档。"),
    ("done.workflow_deleted", "Workflow deleted.", "审批流程已删除。"),
];

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/webhooks", get(webhook_list).post(create_webhook))
        .route("/admin/webhooks/{id}", get(webhook).post(save_webhook))
        .route("/admin/webhooks/{id}/delete", post(delete_webhook))
        .route("/admin/webhooks/{id}/rotate-secret", post(rotate_secret))
        .route("/admin/webhooks/{id}/test", post(send_test))
        .route("/admin/webhooks/{id}/deliveries/{delivery_id}", get(delivery))
        .route("/admin/webhooks/{id}/deliveries/{delivery_id}/redeliver", post(redeliver))
        .route("/admin/workflows", get(workflow_list).post(create_workflow))
        .route("/admin/workflows/new", get(new_workflow))
        .route("/admin/workflows/{id}", get(workflow))
        .route("/admin/workflows/{id}/edit", get(edit_workflow).post(save_workflow))
        .route("/admin/workflows/{id}/active", post(set_active))
        .route("/admin/workflows/{id}/delete", post(delete_workflow))
}

/// What a form's action came to: done, or refused with a message to show on its page again.
/// Any other failure is an error page.
fn outcome<T>(result: Result<T, Error>) -> Result<Result<T, String>, UiError> {
    match result {
        Ok(done) => Ok(Ok(done)),
        Err(Error::Invalid { message, .. } | Error::Conflict(message)) => Ok(Err(message)),
        Err(other) => Err(other.into()),
    }
}

/// An HTTP status as the pages show it; a dash when there is none.
fn http_status(chrome: &Chrome, status: Option<i64>) -> String {
    status.map_or_else(|| chrome.t("field.none").to_owned(), |s| s.to_string())
}

// ---------------------------------------------------------------------------------------------
// Webhooks
// ---------------------------------------------------------------------------------------------

/// The topic families offered as checkboxes; anything else goes in the "other events" field.
const TOPIC_CHOICES: &[(&str, &str)] = &[
    ("*", "integrations.topic_all"),
    ("customer.*", "integrations.topic_customer"),
    ("contact.*", "integrations.topic_contact"),
    ("activity.*", "integrations.topic_activity"),
    ("approval.*", "integrations.topic_approval"),
    ("workflow.*", "integrations.topic_workflow"),
];

/// Deliveries per page of the log.
const LOG_PAGE: i64 = 25;

fn topic_choices(lang: Lang, form: &FormFields) -> Vec<Choice> {
    let chosen: Vec<&str> = form.all("topics").collect();
    TOPIC_CHOICES
        .iter()
        .map(|(value, key)| Choice {
            value: (*value).to_owned(),
            label: lang.t(key).to_owned(),
            selected: chosen.contains(value),
        })
        .collect()
}

/// The topics a form names: its checkboxes, then the "other events" field split at commas
/// and spaces.
fn topics_of(form: &FormFields) -> Vec<String> {
    let mut topics: Vec<String> = form.all("topics").map(|t| t.trim().to_owned()).collect();
    for t in form.get("other_topics").split([',', '，', ' ', '\n', '\r', '\t']).filter(|t| !t.is_empty()) {
        if !topics.iter().any(|have| have == t) {
            topics.push(t.to_owned());
        }
    }
    topics
}

/// The settings form of an endpoint, filled in with what it has now.
fn endpoint_form(e: &Endpoint) -> FormFields {
    let mut fields = vec![("url".to_owned(), e.url.clone()), ("description".to_owned(), e.description.clone())];
    let mut other = Vec::new();
    for t in &e.topics {
        if TOPIC_CHOICES.iter().any(|(value, _)| value == t) {
            fields.push(("topics".to_owned(), t.clone()));
        } else {
            other.push(t.as_str());
        }
    }
    fields.push(("other_topics".to_owned(), other.join(", ")));
    if e.enabled {
        fields.push(("enabled".to_owned(), "1".to_owned()));
    }
    FormFields(fields)
}

fn delivery_status_key(status: &str) -> &'static str {
    match status {
        "delivered" => "integrations.status_delivered",
        "dead" => "integrations.status_dead",
        _ => "integrations.status_pending",
    }
}

pub struct EndpointRow {
    pub id: Id,
    pub url: String,
    pub description: String,
    pub topics: String,
    pub enabled: bool,
    pub disabled_reason: String,
    /// The state and time of its newest delivery; empty when nothing was sent yet.
    pub last_status: &'static str,
    pub last_when: String,
}

#[derive(Template)]
#[template(path = "admin_webhooks.html")]
struct WebhooksPage {
    chrome: Chrome,
    endpoints: Vec<EndpointRow>,
    topics: Vec<Choice>,
    form: FormFields,
    error: Option<String>,
}

async fn webhooks_page(
    state: &AppState,
    viewer: Viewer,
    form: FormFields,
    error: Option<String>,
) -> Result<Response, UiError> {
    require_admin(&viewer)?;
    let org_id = viewer.org_id();
    let lang = viewer.lang();
    let list = webhooks::list(&state.store, org_id).await?;
    let newest = DeliveryQuery { limit: Some(1), ..Default::default() };
    let chrome = viewer.chrome(lang.t("admin.webhooks"), "/admin/users");
    let mut endpoints = Vec::with_capacity(list.len());
    for e in list {
        let last = deliveries::list(&state.store, org_id, e.id, &newest).await?.into_iter().next();
        endpoints.push(EndpointRow {
            id: e.id,
            topics: e.topics.join(", "),
            enabled: e.enabled,
            disabled_reason: e.disabled_reason.unwrap_or_default(),
            last_status: last.as_ref().map_or("", |d| delivery_status_key(&d.status)),
            last_when: last.map(|d| chrome.when(&d.created_at)).unwrap_or_default(),
            url: e.url,
            description: e.description,
        });
    }
    // A fresh form sends every event unless the administrator chooses otherwise.
    let form = if error.is_none() && form.0.is_empty() {
        FormFields(vec![("topics".to_owned(), "*".to_owned())])
    } else {
        form
    };
    let page = WebhooksPage { endpoints, topics: topic_choices(lang, &form), form, chrome, error };
    Ok(render_with(status_of(&page.error), &page))
}

async fn webhook_list(State(state): State<AppState>, viewer: Viewer) -> Result<Response, UiError> {
    webhooks_page(&state, viewer, FormFields::default(), None).await
}

pub struct DeliveryRow {
    pub id: Id,
    pub topic: String,
    pub status: &'static str,
    pub http_status: String,
    pub attempts: i64,
    pub when: String,
}

#[derive(Template)]
#[template(path = "admin_webhook.html")]
struct WebhookPage {
    chrome: Chrome,
    endpoint: Endpoint,
    topics: Vec<Choice>,
    form: FormFields,
    /// The signing secret, on the page answering the form that made or rotated it.
    secret: Option<String>,
    error: Option<String>,
    deliveries: Vec<DeliveryRow>,
    /// The link to the next (older) page of the log.
    older: Option<String>,
    /// Whether this is a later page of the log (so it links back to the newest).
    paged: bool,
}

/// What the endpoint page shows besides the endpoint: a refilled form, a new secret, an error.
#[derive(Default)]
struct WebhookView {
    form: Option<FormFields>,
    secret: Option<String>,
    error: Option<String>,
    notice: Option<&'static str>,
    before: Option<Id>,
}

async fn webhook_page(state: &AppState, viewer: Viewer, id: Id, view: WebhookView) -> Result<Response, UiError> {
    require_admin(&viewer)?;
    let org_id = viewer.org_id();
    let lang = viewer.lang();
    let endpoint = webhooks::get(&state.store, org_id, id).await?;
    let q = DeliveryQuery { before_id: view.before, limit: Some(LOG_PAGE + 1), ..Default::default() };
    let mut log = deliveries::list(&state.store, org_id, id, &q).await?;
    let more = log.len() > usize::try_from(LOG_PAGE).unwrap_or(usize::MAX);
    log.truncate(usize::try_from(LOG_PAGE).unwrap_or(usize::MAX));
    let older = if more { log.last().map(|d| format!("/admin/webhooks/{id}?before={}", d.id)) } else { None };
    let mut chrome = viewer.chrome(&endpoint.url, "/admin/users");
    if let Some(key) = view.notice {
        chrome.notice = Some(Notice { kind: "success", text: lang.t(key).to_owned() });
    }
    let deliveries = log
        .iter()
        .map(|d| DeliveryRow {
            id: d.id,
            topic: d.topic.clone(),
            status: delivery_status_key(&d.status),
            http_status: http_status(&chrome, d.last_status),
            attempts: d.attempts,
            when: chrome.when(&d.created_at),
        })
        .collect();
    let form = view.form.unwrap_or_else(|| endpoint_form(&endpoint));
    let status = status_of(&view.error);
    let page = WebhookPage {
        topics: topic_choices(lang, &form),
        form,
        endpoint,
        secret: view.secret,
        error: view.error,
        deliveries,
        older,
        paged: view.before.is_some(),
        chrome,
    };
    Ok(render_with(status, &page))
}

async fn webhook(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
) -> Result<Response, UiError> {
    let before = FormFields::from_query(query.as_deref()).get("before").parse().ok();
    webhook_page(&state, viewer, path_id(&id)?, WebhookView { before, ..Default::default() }).await
}

/// Adds an endpoint and answers with its page, which shows the signing secret this once.
async fn create_webhook(
    State(state): State<AppState>,
    AdminPosted(viewer, form): AdminPosted,
) -> Result<Response, UiError> {
    let new = NewEndpoint {
        url: form.get("url").to_owned(),
        description: form.get("description").to_owned(),
        topics: Some(topics_of(&form)),
    };
    match outcome(webhooks::create(&state.store, viewer.org_id(), viewer.user_id(), &new).await)? {
        Ok(made) => {
            let view =
                WebhookView { secret: Some(made.secret), notice: Some("done.webhook_created"), ..Default::default() };
            let mut resp = webhook_page(&state, viewer, made.endpoint.id, view).await?;
            *resp.status_mut() = StatusCode::CREATED;
            Ok(resp)
        }
        Err(error) => webhooks_page(&state, viewer, form, Some(error)).await,
    }
}

async fn save_webhook(
    State(state): State<AppState>,
    Path(id): Path<String>,
    AdminPosted(viewer, form): AdminPosted,
) -> Result<Response, UiError> {
    let id = path_id(&id)?;
    let patch = EndpointPatch {
        url: Some(form.get("url").to_owned()),
        description: Some(form.get("description").to_owned()),
        topics: Some(topics_of(&form)),
        enabled: Some(form.get("enabled") == "1"),
    };
    match outcome(webhooks::update(&state.store, viewer.org_id(), viewer.user_id(), id, &patch).await)? {
        Ok(_) => Ok(see_other(&format!("/admin/webhooks/{id}?notice=done.webhook_saved"))),
        Err(error) => {
            let view = WebhookView { form: Some(form), error: Some(error), ..Default::default() };
            webhook_page(&state, viewer, id, view).await
        }
    }
}

async fn delete_webhook(
    State(state): State<AppState>,
    Path(id): Path<String>,
    AdminPosted(viewer, _): AdminPosted,
) -> Result<Response, UiError> {
    webhooks::delete(&state.store, viewer.org_id(), viewer.user_id(), path_id(&id)?).await?;
    Ok(see_other("/admin/webhooks?notice=done.webhook_deleted"))
}

/// Replaces the signing secret and answers with the endpoint page showing the new one once.
async fn rotate_secret(
    State(state): State<AppState>,
    Path(id): Path<String>,
    AdminPosted(viewer, _): AdminPosted,
) -> Result<Response, UiError> {
    let id = path_id(&id)?;
    let rotated = webhooks::rotate_secret(&state.store, viewer.org_id(), viewer.user_id(), id).await?;
    let view =
        WebhookView { secret: Some(rotated.secret), notice: Some("done.webhook_secret_rotated"), ..Default::default() };
    webhook_page(&state, viewer, id, view).await
}

async fn send_test(
    State(state): State<AppState>,
    Path(id): Path<String>,
    AdminPosted(viewer, _): AdminPosted,
) -> Result<Response, UiError> {
    let id = path_id(&id)?;
    match outcome(deliveries::send_test(&state.store, viewer.org_id(), viewer.user_id(), id).await)? {
        Ok(_) => Ok(see_other(&format!("/admin/webhooks/{id}?notice=done.webhook_test_sent"))),
        Err(error) => webhook_page(&state, viewer, id, WebhookView { error: Some(error), ..Default::default() }).await,
    }
}

pub struct AttemptRow {
    pub attempt: i64,
    pub at: String,
    pub http_status: String,
    pub error: String,
    pub duration_ms: i64,
    pub response: String,
}

#[derive(Template)]
#[template(path = "admin_delivery.html")]
struct DeliveryPage {
    chrome: Chrome,
    endpoint: Endpoint,
    id: Id,
    topic: String,
    message_id: String,
    status: &'static str,
    may_redeliver: bool,
    attempts: i64,
    last_status: String,
    last_error: String,
    created: String,
    finished: String,
    next_attempt: String,
    log: Vec<AttemptRow>,
    body: String,
    error: Option<String>,
}

async fn delivery_page(
    state: &AppState,
    viewer: Viewer,
    endpoint_id: Id,
    id: Id,
    error: Option<String>,
) -> Result<Response, UiError> {
    require_admin(&viewer)?;
    let org_id = viewer.org_id();
    let endpoint = webhooks::get(&state.store, org_id, endpoint_id).await?;
    let detail = deliveries::get(&state.store, org_id, endpoint_id, id).await?;
    let raw = deliveries::request_body(&state.store, org_id, endpoint_id, id).await?;
    let body =
        serde_json::from_str::<Value>(&raw).ok().and_then(|v| serde_json::to_string_pretty(&v).ok()).unwrap_or(raw);
    let title = format!("{} #{id}", viewer.lang().t("integrations.delivery"));
    let chrome = viewer.chrome(&title, "/admin/users");
    let d = &detail.delivery;
    let page = DeliveryPage {
        id,
        topic: d.topic.clone(),
        message_id: d.message_id.clone(),
        status: delivery_status_key(&d.status),
        may_redeliver: d.status != "pending",
        attempts: d.attempts,
        last_status: http_status(&chrome, d.last_status),
        last_error: d.last_error.clone().unwrap_or_else(|| chrome.t("field.none").to_owned()),
        created: chrome.when(&d.created_at),
        finished: chrome.when_opt(&d.finished_at),
        next_attempt: chrome.when_opt(&d.next_attempt_at),
        log: detail
            .attempts_log
            .iter()
            .map(|a| AttemptRow {
                attempt: a.attempt,
                at: chrome.when(&a.at),
                http_status: http_status(&chrome, a.response_status),
                error: a.error.clone().unwrap_or_default(),
                duration_ms: a.duration_ms,
                response: a.response_body.clone().unwrap_or_default(),
            })
            .collect(),
        body,
        endpoint,
        error,
        chrome,
    };
    Ok(render_with(status_of(&page.error), &page))
}

async fn delivery(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((id, delivery_id)): Path<(String, String)>,
) -> Result<Response, UiError> {
    delivery_page(&state, viewer, path_id(&id)?, path_id(&delivery_id)?, None).await
}

async fn redeliver(
    State(state): State<AppState>,
    Path((id, delivery_id)): Path<(String, String)>,
    AdminPosted(viewer, _): AdminPosted,
) -> Result<Response, UiError> {
    let (id, delivery_id) = (path_id(&id)?, path_id(&delivery_id)?);
    match outcome(deliveries::redeliver(&state.store, viewer.org_id(), viewer.user_id(), id, delivery_id).await)? {
        Ok(_) => {
            Ok(see_other(&format!("/admin/webhooks/{id}/deliveries/{delivery_id}?notice=done.webhook_redelivered")))
        }
        Err(error) => delivery_page(&state, viewer, id, delivery_id, Some(error)).await,
    }
}

// ---------------------------------------------------------------------------------------------
// Workflow definitions
// ---------------------------------------------------------------------------------------------

/// Empty step rows a form offers after the filled ones.
const BLANK_ROWS: usize = 2;
/// The most steps a definition has.
const MAX_STEPS: usize = 20;

/// The comparisons of a condition: the value the form sends (the model's own spelling) and
/// its words.
const OPS: &[(&str, &str)] = &[
    ("=", "integrations.op_eq"),
    ("!=", "integrations.op_ne"),
    (">", "integrations.op_gt"),
    (">=", "integrations.op_ge"),
    ("<", "integrations.op_lt"),
    ("<=", "integrations.op_le"),
    ("in", "integrations.op_in"),
];

/// The names of the organisation's users, roles and departments, for approvers in words and
/// the approver choices.
struct OrgNames {
    users: Vec<users::Colleague>,
    roles: Vec<roles::Role>,
    departments: Vec<departments::Department>,
}

impl OrgNames {
    async fn load(state: &AppState, org_id: Id) -> Result<OrgNames, Error> {
        Ok(OrgNames {
            users: users::colleagues(&state.store, org_id).await?,
            roles: roles::list(&state.store, org_id).await?,
            departments: departments::list(&state.store, org_id).await?,
        })
    }

    fn user(&self, id: Id) -> String {
        self.users.iter().find(|u| u.id == id).map_or_else(|| format!("#{id}"), |u| u.display_name.clone())
    }

    fn role(&self, id: Id) -> String {
        self.roles.iter().find(|r| r.id == id).map_or_else(|| format!("#{id}"), |r| r.name.clone())
    }

    fn department(&self, id: Id) -> String {
        self.departments.iter().find(|d| d.id == id).map_or_else(|| format!("#{id}"), |d| d.name.clone())
    }

    /// An approver in words: "User Zhang San", "The submitter's manager", …
    fn approver(&self, lang: Lang, a: &ApproverSpec) -> String {
        match a {
            ApproverSpec::User { user_id } => named(lang, "integrations.approver_user", &self.user(*user_id)),
            ApproverSpec::Role { role_id } => named(lang, "integrations.approver_role", &self.role(*role_id)),
            ApproverSpec::Manager => lang.t("integrations.approver_manager").to_owned(),
            ApproverSpec::DepartmentHead { department_id: None } => lang.t("integrations.approver_own_head").to_owned(),
            ApproverSpec::DepartmentHead { department_id: Some(d) } => {
                named(lang, "integrations.approver_head", &self.department(*d))
            }
        }
    }

    /// Every approver a step may name, as form values (`user:7`, `role:3`, `manager`, `head`,
    /// `head:2`) with their words.
    fn approver_choices(&self, lang: Lang) -> Vec<(String, String)> {
        let mut out = vec![
            ("manager".to_owned(), lang.t("integrations.approver_manager").to_owned()),
            ("head".to_owned(), lang.t("integrations.approver_own_head").to_owned()),
        ];
        out.extend(
            self.departments
                .iter()
                .map(|d| (format!("head:{}", d.id), named(lang, "integrations.approver_head", &d.name))),
        );
        out.extend(
            self.roles.iter().map(|r| (format!("role:{}", r.id), named(lang, "integrations.approver_role", &r.name))),
        );
        out.extend(
            self.users
                .iter()
                .filter(|u| u.active)
                .map(|u| (format!("user:{}", u.id), named(lang, "integrations.approver_user", &u.display_name))),
        );
        out
    }
}

/// A string of the table with `{name}` filled in.
fn named(lang: Lang, key: &str, name: &str) -> String {
    lang.t(key).replace("{name}", name)
}

fn approver_value(a: &ApproverSpec) -> String {
    match a {
        ApproverSpec::User { user_id } => format!("user:{user_id}"),
        ApproverSpec::Role { role_id } => format!("role:{role_id}"),
        ApproverSpec::Manager => "manager".to_owned(),
        ApproverSpec::DepartmentHead { department_id: None } => "head".to_owned(),
        ApproverSpec::DepartmentHead { department_id: Some(d) } => format!("head:{d}"),
    }
}

fn parse_approver(value: &str) -> Option<ApproverSpec> {
    let id = |rest: &str| rest.parse::<Id>().ok();
    match value.split_once(':') {
        None if value == "manager" => Some(ApproverSpec::Manager),
        None if value == "head" => Some(ApproverSpec::DepartmentHead { department_id: None }),
        Some(("user", rest)) => id(rest).map(|user_id| ApproverSpec::User { user_id }),
        Some(("role", rest)) => id(rest).map(|role_id| ApproverSpec::Role { role_id }),
        Some(("head", rest)) => id(rest).map(|d| ApproverSpec::DepartmentHead { department_id: Some(d) }),
        _ => None,
    }
}

/// The model's spelling of a comparison (`>=`, `in`, …).
fn op_value(op: definitions::Op) -> String {
    serde_json::to_value(op).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

/// A condition's value as typed: a list joined with commas, text as it is.
fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(list) => list.iter().map(value_text).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}

/// A typed value: a number when it reads as one, `true`/`false` as booleans, else text.
fn typed_value(s: &str) -> Value {
    let s = s.trim();
    if let Some(n) = super::typed_number(s) {
        return n;
    }
    match s {
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        _ => Value::String(s.to_owned()),
    }
}

/// One step of the form as typed.
#[derive(Debug, Clone, Default)]
struct RawStep {
    name: String,
    mode: String,
    approvers: Vec<String>,
    field: String,
    op: String,
    value: String,
    deadline: String,
    remind: String,
    escalate: String,
}

impl RawStep {
    fn is_blank(&self) -> bool {
        self.name.is_empty()
            && self.approvers.is_empty()
            && self.field.is_empty()
            && self.op.is_empty()
            && self.value.is_empty()
            && self.deadline.is_empty()
            && self.remind.is_empty()
            && self.escalate.is_empty()
    }

    /// Row `i` of a posted form.
    fn from_form(form: &FormFields, i: usize) -> RawStep {
        let f = |name: &str| form.get(&format!("s{i}_{name}")).to_owned();
        RawStep {
            name: f("name"),
            mode: f("mode"),
            approvers: form.all(&format!("s{i}_approvers")).map(str::to_owned).collect(),
            field: f("field"),
            op: f("op"),
            value: f("value"),
            deadline: f("deadline"),
            remind: f("remind"),
            escalate: f("escalate"),
        }
    }

    fn from_spec(s: &StepSpec) -> RawStep {
        RawStep {
            name: s.name.clone(),
            mode: if s.mode == Mode::All { "all" } else { "any" }.to_owned(),
            approvers: s.approvers.iter().map(approver_value).collect(),
            field: s.condition.as_ref().map(|c| c.field.clone()).unwrap_or_default(),
            op: s.condition.as_ref().map(|c| op_value(c.op)).unwrap_or_default(),
            value: s.condition.as_ref().map(|c| value_text(&c.value)).unwrap_or_default(),
            deadline: s.deadline_hours.map(|h| h.to_string()).unwrap_or_default(),
            remind: s.remind_after_hours.map(|h| h.to_string()).unwrap_or_default(),
            escalate: match s.escalate_to {
                None => String::new(),
                Some(Escalation::ApproverManager) => "approver_manager".to_owned(),
                Some(Escalation::User { user_id }) => format!("user:{user_id}"),
            },
        }
    }

    /// The step this row says; `n` is its number in the definition, for messages.
    fn to_spec(&self, lang: Lang, n: usize) -> Result<StepSpec, Error> {
        let refuse = |key: &str| {
            Error::invalid("steps", format!("{} {n} ({}): {}", lang.t("integrations.step"), self.name, lang.t(key)))
        };
        let approvers = self
            .approvers
            .iter()
            .map(|a| parse_approver(a).ok_or_else(|| refuse("integrations.err_approver")))
            .collect::<Result<Vec<_>, _>>()?;
        let condition = match (self.field.is_empty() && self.value.is_empty(), self.op.as_str()) {
            (true, "") => None,
            (false, "") => return Err(refuse("integrations.err_op")),
            (_, op) => {
                let op: definitions::Op =
                    serde_json::from_value(Value::String(op.to_owned())).map_err(|_| refuse("integrations.err_op"))?;
                let value = if op == definitions::Op::In {
                    Value::Array(
                        self.value
                            .split([',', '，'])
                            .map(str::trim)
                            .filter(|v| !v.is_empty())
                            .map(typed_value)
                            .collect(),
                    )
                } else {
                    typed_value(&self.value)
                };
                Some(Condition { field: self.field.clone(), op, value })
            }
        };
        let hours = |s: &str| -> Result<Option<i64>, Error> {
            if s.is_empty() { Ok(None) } else { s.parse().map(Some).map_err(|_| refuse("integrations.err_hours")) }
        };
        let escalate_to = match self.escalate.split_once(':') {
            _ if self.escalate.is_empty() => None,
            None if self.escalate == "approver_manager" => Some(Escalation::ApproverManager),
            Some(("user", id)) => {
                Some(Escalation::User { user_id: id.parse().map_err(|_| refuse("integrations.err_escalation"))? })
            }
            _ => return Err(refuse("integrations.err_escalation")),
        };
        Ok(StepSpec {
            name: self.name.clone(),
            approvers,
            mode: if self.mode == "all" { Mode::All } else { Mode::Any },
            condition,
            deadline_hours: hours(&self.deadline)?,
            remind_after_hours: hours(&self.remind)?,
            escalate_to,
        })
    }
}

/// The filled step rows of a posted form, in order (blank rows left out).
fn raw_steps(form: &FormFields) -> Vec<RawStep> {
    (0..MAX_STEPS + BLANK_ROWS).map(|i| RawStep::from_form(form, i)).filter(|s| !s.is_blank()).collect()
}

fn steps_of(lang: Lang, raw: &[RawStep]) -> Result<Vec<StepSpec>, Error> {
    raw.iter().enumerate().map(|(i, s)| s.to_spec(lang, i + 1)).collect()
}

/// One step row of the form, ready to draw.
pub struct StepForm {
    /// The row's index in field names (`s0_name`, …).
    pub i: usize,
    /// Its number as people count.
    pub n: usize,
    pub name: String,
    pub all: bool,
    pub approvers: Vec<Choice>,
    pub field: String,
    pub ops: Vec<Choice>,
    pub value: String,
    pub deadline: String,
    pub remind: String,
    pub escalations: Vec<Choice>,
}

fn step_forms(lang: Lang, names: &OrgNames, raw: &[RawStep]) -> Vec<StepForm> {
    let approver_choices = names.approver_choices(lang);
    let rows = (raw.len() + BLANK_ROWS).min(MAX_STEPS.max(raw.len()));
    let blank = RawStep::default();
    (0..rows)
        .map(|i| {
            let s = raw.get(i).unwrap_or(&blank);
            let mut ops = vec![Choice {
                value: String::new(),
                label: lang.t("integrations.no_condition").to_owned(),
                selected: s.op.is_empty(),
            }];
            ops.extend(OPS.iter().map(|(v, key)| Choice {
                value: (*v).to_owned(),
                label: format!("{v} ({})", lang.t(key)),
                selected: s.op == *v,
            }));
            let mut escalations = vec![
                Choice {
                    value: String::new(),
                    label: lang.t("integrations.no_escalation").to_owned(),
                    selected: s.escalate.is_empty(),
                },
                Choice {
                    value: "approver_manager".to_owned(),
                    label: lang.t("integrations.escalate_managers").to_owned(),
                    selected: s.escalate == "approver_manager",
                },
            ];
            escalations.extend(names.users.iter().filter(|u| u.active).map(|u| {
                let value = format!("user:{}", u.id);
                Choice { selected: s.escalate == value, value, label: u.display_name.clone() }
            }));
            StepForm {
                i,
                n: i + 1,
                name: s.name.clone(),
                all: s.mode == "all",
                approvers: approver_choices
                    .iter()
                    .map(|(value, label)| Choice {
                        selected: s.approvers.contains(value),
                        value: value.clone(),
                        label: label.clone(),
                    })
                    .collect(),
                field: s.field.clone(),
                ops,
                value: s.value.clone(),
                deadline: s.deadline.clone(),
                remind: s.remind.clone(),
                escalations,
            }
        })
        .collect()
}

/// A step in words, for the definition page.
pub struct StepWords {
    pub name: String,
    pub approvers: String,
    pub mode: &'static str,
    pub when: String,
    /// Deadline, reminder and escalation; empty when the step has none.
    pub timing: String,
}

fn step_words(lang: Lang, names: &OrgNames, s: &StepSpec) -> StepWords {
    let when = match &s.condition {
        None => lang.t("integrations.when_always").to_owned(),
        Some(c) => {
            let op = OPS.iter().find(|(v, _)| *v == op_value(c.op)).map_or("?", |(_, key)| lang.t(key));
            format!("{} {} {op} {}", lang.t("integrations.when"), c.field, value_text(&c.value))
        }
    };
    let mut timing = Vec::new();
    if let Some(h) = s.deadline_hours {
        timing.push(lang.t("integrations.overdue_after").replace("{n}", &lang.number(h)));
    }
    if let Some(h) = s.remind_after_hours {
        timing.push(lang.t("integrations.remind_after").replace("{n}", &lang.number(h)));
    }
    if let Some(e) = s.escalate_to {
        let whom = match e {
            Escalation::ApproverManager => lang.t("integrations.escalate_managers").to_owned(),
            Escalation::User { user_id } => names.user(user_id),
        };
        timing.push(format!("{} {whom}", lang.t("integrations.escalates_to")));
    }
    let sep = lang.pick(", ", "，");
    StepWords {
        name: s.name.clone(),
        approvers: s.approvers.iter().map(|a| names.approver(lang, a)).collect::<Vec<_>>().join(lang.pick("; ", "；")),
        mode: if s.mode == Mode::All { "integrations.mode_all" } else { "integrations.mode_any" },
        when,
        timing: timing.join(sep),
    }
}

pub struct DefinitionRow {
    pub id: Id,
    pub name: String,
    pub subject_type: String,
    pub version: i64,
    pub active: bool,
    pub steps: usize,
}

#[derive(Template)]
#[template(path = "admin_workflows.html")]
struct WorkflowsPage {
    chrome: Chrome,
    definitions: Vec<DefinitionRow>,
}

async fn workflow_list(State(state): State<AppState>, viewer: Viewer) -> Result<Response, UiError> {
    require_admin(&viewer)?;
    let list = definitions::list(&state.store, viewer.org_id()).await?;
    let title = viewer.lang().t("admin.workflows");
    let chrome = viewer.chrome(title, "/admin/users");
    let page = WorkflowsPage {
        definitions: list
            .into_iter()
            .map(|d| DefinitionRow {
                id: d.id,
                steps: d.steps.len(),
                name: d.name,
                subject_type: d.subject_type,
                version: d.version,
                active: d.active,
            })
            .collect(),
        chrome,
    };
    Ok(render_with(StatusCode::OK, &page))
}

#[derive(Template)]
#[template(path = "admin_workflow.html")]
struct WorkflowPage {
    chrome: Chrome,
    definition: Definition,
    updated: String,
    steps: Vec<StepWords>,
    error: Option<String>,
}

async fn workflow_page(state: &AppState, viewer: Viewer, id: Id, error: Option<String>) -> Result<Response, UiError> {
    require_admin(&viewer)?;
    let lang = viewer.lang();
    let org_id = viewer.org_id();
    let definition = definitions::get(state.store.pool(), org_id, id).await?;
    let names = OrgNames::load(state, org_id).await?;
    let chrome = viewer.chrome(&definition.name, "/admin/users");
    let page = WorkflowPage {
        updated: chrome.when(&definition.updated_at),
        steps: definition.steps.iter().map(|s| step_words(lang, &names, s)).collect(),
        definition,
        error,
        chrome,
    };
    Ok(render_with(status_of(&page.error), &page))
}

async fn workflow(State(state): State<AppState>, viewer: Viewer, Path(id): Path<String>) -> Result<Response, UiError> {
    workflow_page(&state, viewer, path_id(&id)?, None).await
}

#[derive(Template)]
#[template(path = "admin_workflow_form.html")]
struct WorkflowFormPage {
    chrome: Chrome,
    /// The definition edited; none for a new one.
    id: Option<Id>,
    name: String,
    subject_type: String,
    steps: Vec<StepForm>,
    error: Option<String>,
}

/// The form of a new definition (`id` none) or of an existing one.
async fn workflow_form(
    state: &AppState,
    viewer: Viewer,
    id: Option<Id>,
    fields: (String, String, Vec<RawStep>),
    error: Option<String>,
) -> Result<Response, UiError> {
    require_admin(&viewer)?;
    let lang = viewer.lang();
    let names = OrgNames::load(state, viewer.org_id()).await?;
    let title = lang.t(if id.is_some() { "integrations.edit_workflow" } else { "integrations.new_workflow" });
    let chrome = viewer.chrome(title, "/admin/users");
    let (name, subject_type, raw) = fields;
    let page = WorkflowFormPage { steps: step_forms(lang, &names, &raw), id, name, subject_type, error, chrome };
    Ok(render_with(status_of(&page.error), &page))
}

async fn new_workflow(State(state): State<AppState>, viewer: Viewer) -> Result<Response, UiError> {
    workflow_form(&state, viewer, None, (String::new(), "customer".to_owned(), Vec::new()), None).await
}

async fn create_workflow(
    State(state): State<AppState>,
    AdminPosted(viewer, form): AdminPosted,
) -> Result<Response, UiError> {
    let raw = raw_steps(&form);
    let made = async {
        let new = NewDefinition {
            name: form.get("name").to_owned(),
            subject_type: form.get("subject_type").to_owned(),
            steps: steps_of(viewer.lang(), &raw)?,
        };
        definitions::create(&state.store, viewer.org_id(), viewer.user_id(), &new).await
    }
    .await;
    match outcome(made)? {
        Ok(d) => Ok(see_other(&format!("/admin/workflows/{}?notice=done.workflow_created", d.id))),
        Err(error) => {
            let fields = (form.get("name").to_owned(), form.get("subject_type").to_owned(), raw);
            workflow_form(&state, viewer, None, fields, Some(error)).await
        }
    }
}

async fn edit_workflow(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<Response, UiError> {
    require_admin(&viewer)?;
    let id = path_id(&id)?;
    let d = definitions::get(state.store.pool(), viewer.org_id(), id).await?;
    let raw = d.steps.iter().map(RawStep::from_spec).collect();
    workflow_form(&state, viewer, Some(id), (d.name, d.subject_type, raw), None).await
}

async fn save_workflow(
    State(state): State<AppState>,
    Path(id): Path<String>,
    AdminPosted(viewer, form): AdminPosted,
) -> Result<Response, UiError> {
    let id = path_id(&id)?;
    let before = definitions::get(state.store.pool(), viewer.org_id(), id).await?;
    let raw = raw_steps(&form);
    let saved = async {
        let patch = DefinitionPatch {
            name: Some(form.get("name").to_owned()),
            steps: Some(steps_of(viewer.lang(), &raw)?),
            active: None,
        };
        definitions::update(&state.store, viewer.org_id(), viewer.user_id(), id, &patch).await
    }
    .await;
    match outcome(saved)? {
        Ok(_) => Ok(see_other(&format!("/admin/workflows/{id}?notice=done.workflow_saved"))),
        Err(error) => {
            let fields = (form.get("name").to_owned(), before.subject_type, raw);
            workflow_form(&state, viewer, Some(id), fields, Some(error)).await
        }
    }
}

/// Puts a definition in use (`active=1`) or archives it (`active=0`).
async fn set_active(
    State(state): State<AppState>,
    Path(id): Path<String>,
    AdminPosted(viewer, form): AdminPosted,
) -> Result<Response, UiError> {
    let id = path_id(&id)?;
    let active = form.get("active") == "1";
    let patch = DefinitionPatch { active: Some(active), ..Default::default() };
    match outcome(definitions::update(&state.store, viewer.org_id(), viewer.user_id(), id, &patch).await)? {
        Ok(_) => {
            let notice = if active { "done.workflow_activated" } else { "done.workflow_archived" };
            Ok(see_other(&format!("/admin/workflows/{id}?notice={notice}")))
        }
        Err(error) => workflow_page(&state, viewer, id, Some(error)).await,
    }
}

/// Deletes a definition; one that was ever used is archived instead, and the notice says which.
async fn delete_workflow(
    State(state): State<AppState>,
    Path(id): Path<String>,
    AdminPosted(viewer, _): AdminPosted,
) -> Result<Response, UiError> {
    let (org_id, id) = (viewer.org_id(), path_id(&id)?);
    if let Err(error) = outcome(definitions::delete(&state.store, org_id, viewer.user_id(), id).await)? {
        return workflow_page(&state, viewer, id, Some(error)).await;
    }
    match definitions::get(state.store.pool(), org_id, id).await {
        Ok(_) => Ok(see_other(&format!("/admin/workflows/{id}?notice=done.workflow_archived"))),
        Err(Error::NotFound(_)) => Ok(see_other("/admin/workflows?notice=done.workflow_deleted")),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_row_reads_back_as_the_step_it_came_from() {
        let spec = StepSpec {
            name: "Finance".into(),
            approvers: vec![
                ApproverSpec::User { user_id: 7 },
                ApproverSpec::Role { role_id: 3 },
                ApproverSpec::Manager,
                ApproverSpec::DepartmentHead { department_id: None },
                ApproverSpec::DepartmentHead { department_id: Some(2) },
            ],
            mode: Mode::All,
            condition: Some(Condition {
                field: "credit_limit".into(),
                op: definitions::Op::In,
                value: serde_json::json!([50000, "big", 1.5]),
            }),
            deadline_hours: Some(48),
            remind_after_hours: Some(24),
            escalate_to: Some(Escalation::User { user_id: 9 }),
        };
        let back = RawStep::from_spec(&spec).to_spec(Lang::En, 1).expect("reads back");
        assert_eq!(back, spec);
    }

    #[test]
    fn a_step_row_with_words_where_numbers_belong_is_refused_in_the_page_language() {
        let row = RawStep {
            name: "Boss".into(),
            approvers: vec!["manager".into()],
            deadline: "two days".into(),
            ..Default::default()
        };
        let Err(Error::Invalid { message, .. }) = row.to_spec(Lang::En, 2) else { panic!("accepted") };
        assert_eq!(message, "Step 2 (Boss): hours are a whole number from 1 to 8,760");
        let row = RawStep { name: "Boss".into(), approvers: vec!["someone".into()], ..Default::default() };
        assert!(row.to_spec(Lang::ZhCn, 1).is_err());
        let row = RawStep { name: "Boss".into(), field: "amount".into(), value: "5".into(), ..Default::default() };
        assert!(row.to_spec(Lang::En, 1).is_err(), "a condition without a comparison");
    }

    #[test]
    fn typed_values_become_numbers_booleans_or_text() {
        assert_eq!(typed_value("50000"), serde_json::json!(50000));
        assert_eq!(typed_value("2.5"), serde_json::json!(2.5));
        assert_eq!(typed_value("true"), serde_json::json!(true));
        assert_eq!(typed_value(" partner "), serde_json::json!("partner"));
    }

    #[test]
    fn other_topics_split_at_commas_and_spaces_after_the_boxes() {
        let form = FormFields(vec![
            ("topics".into(), "contact.*".into()),
            ("other_topics".into(), "deal.won, deal.lost，deal.won  x.y".into()),
        ]);
        assert_eq!(topics_of(&form), ["contact.*", "deal.won", "deal.lost", "x.y"]);
    }
}
