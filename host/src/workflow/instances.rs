//! Approval instances in the database: submission, every action on them, the history, the
//! inbox of each user, and the deadline runner. Each transition is decided by the pure state
//! machine (`machine::apply`) on the state read, then written with a compare-and-set on the
//! instance's `version` in one transaction with its history entry and outbox events: when two
//! people act on the same step at the same moment, exactly one write lands and the other is
//! told so (409).

use serde::{Deserialize, Serialize};
use sqlx::Row;
use utoipa::{IntoParams, ToSchema};

use super::definitions;
use super::machine::{self, Action, Actor, Escalation, MachineState, Refusal, Status, StepState, Transition};
use crate::error::{Error, Result};
use crate::events::Event;
use crate::store::{Id, SqlBuf, Store, now_ms};
use crate::timefmt::{rfc3339, rfc3339_opt};

/// An approval instance as shown.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Approval {
    pub id: Id,
    pub definition_id: Id,
    /// The version of the definition the instance started with.
    pub definition_version: i64,
    pub subject_type: String,
    pub subject_id: Id,
    /// A human title, e.g. the customer's name.
    pub title: String,
    pub submitter_id: Id,
    pub state: Status,
    /// The step that waits (0-based), while pending.
    pub step: Option<usize>,
    pub steps: Vec<StepState>,
    /// Who still has to decide the step that waits.
    pub waiting_for: Vec<Id>,
    /// The subject's fields at submission, which the step conditions were evaluated on.
    #[schema(value_type = Object)]
    pub fields: serde_json::Value,
    pub created_at: String,
    pub updated_at: String,
    pub finished_at: Option<String>,
    /// Incremented by every action.
    pub version: i64,
    /// Every action on the instance, oldest first (in the detail only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history: Option<Vec<HistoryEntry>>,
}

/// One accepted action.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HistoryEntry {
    /// `submit`, `approve`, `reject`, `return`, `transfer`, `urge`, `withdraw`, `resubmit`,
    /// `remind` or `escalate`.
    pub action: String,
    /// The step it was taken on (0-based), if any.
    pub step: Option<usize>,
    /// Who acted; absent for the host itself (reminders, escalation).
    pub actor_user_id: Option<Id>,
    /// The user a step was transferred to, or those added by escalation.
    pub to_user_ids: Vec<Id>,
    pub comment: Option<String>,
    pub at: String,
}

/// A submission.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewApproval {
    pub definition_id: Id,
    /// The record the approval is about (for `customer`, a customer the submitter may read).
    pub subject_id: Id,
    /// A human title; for customers, the customer's name is used.
    pub title: Option<String>,
    /// The fields the step conditions look at; for customers, the customer's own fields.
    #[schema(value_type = Option<Object>)]
    pub fields: Option<serde_json::Map<String, serde_json::Value>>,
    pub comment: Option<String>,
}

/// The body of an action.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionInput {
    pub comment: Option<String>,
    /// Whom to hand the step to (transfer only).
    pub to_user_id: Option<Id>,
}

/// Filters and keyset paging of the inbox and of one's own submissions.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ApprovalQuery {
    /// Only instances in this state (`pending`, `approved`, `rejected`, `returned`,
    /// `withdrawn`); only for `mine`.
    pub state: Option<String>,
    /// Instances older than this id (the `next_before_id` of the previous page).
    pub before_id: Option<Id>,
    /// 1–200, default 50.
    pub limit: Option<i64>,
}

/// A page of approvals, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApprovalPage {
    pub items: Vec<Approval>,
    /// Pass as `before_id` for the next page; absent on the last page.
    pub next_before_id: Option<Id>,
}

/// The payload of every `approval.*` event.
#[derive(Debug, Serialize)]
struct EventPayload<'a> {
    instance_id: Id,
    definition_id: Id,
    definition_version: i64,
    subject_type: &'a str,
    subject_id: Id,
    title: &'a str,
    state: &'static str,
    step: Option<usize>,
    actor_user_id: Option<Id>,
    comment: Option<&'a str>,
    notify: &'a [Id],
    waiting_for: Vec<Id>,
}

/// An instance row with its decoded state.
#[derive(Debug, Clone)]
pub(crate) struct Loaded {
    pub org_id: Id,
    pub approval: Approval,
    pub machine: MachineState,
}

const COLUMNS: &str = "i.id, i.org_id, i.definition_id, i.definition_version, i.subject_type, i.subject_id, i.title, \
    i.submitter_id, i.machine, i.fields, i.created_at, i.updated_at, i.finished_at, i.version";

fn from_row(r: &sqlx::any::AnyRow) -> Result<Loaded> {
    let machine: String = r.try_get(8)?;
    let machine: MachineState = serde_json::from_str(&machine)
        .map_err(|e| Error::Internal(format!("the state of a stored approval does not decode: {e}")))?;
    let fields: String = r.try_get(9)?;
    let approval = Approval {
        id: r.try_get(0)?,
        definition_id: r.try_get(2)?,
        definition_version: r.try_get(3)?,
        subject_type: r.try_get(4)?,
        subject_id: r.try_get(5)?,
        title: r.try_get(6)?,
        submitter_id: r.try_get(7)?,
        state: machine.status,
        step: machine.step,
        steps: machine.steps.clone(),
        waiting_for: machine.waiting_for(),
        fields: serde_json::from_str(&fields).unwrap_or_default(),
        created_at: rfc3339(r.try_get(10)?),
        updated_at: rfc3339(r.try_get(11)?),
        finished_at: rfc3339_opt(r.try_get(12)?),
        version: r.try_get(13)?,
        history: None,
    };
    Ok(Loaded { org_id: r.try_get(1)?, approval, machine })
}

/// Reads one instance of the organisation.
pub(crate) async fn load<'e, E>(exec: E, org_id: Id, id: Id) -> Result<Loaded>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM approval_instances i WHERE i.org_id = $1 AND i.id = $2"
    )))
    .bind(org_id)
    .bind(id)
    .fetch_optional(exec)
    .await?
    .ok_or(Error::NotFound("approval"))?;
    from_row(&row)
}

/// The history of an instance, oldest first.
async fn history(store: &Store, org_id: Id, id: Id) -> Result<Vec<HistoryEntry>> {
    let rows = sqlx::query(
        "SELECT action, step, actor_user_id, to_user_ids, comment, at FROM approval_history \
         WHERE org_id = $1 AND instance_id = $2 ORDER BY id",
    )
    .bind(org_id)
    .bind(id)
    .fetch_all(store.pool())
    .await?;
    rows.iter()
        .map(|r| {
            let to: String = r.try_get(3)?;
            Ok(HistoryEntry {
                action: r.try_get(0)?,
                step: r.try_get::<Option<i64>, _>(1)?.map(|s| s as usize),
                actor_user_id: r.try_get(2)?,
                to_user_ids: serde_json::from_str(&to).unwrap_or_default(),
                comment: r.try_get(4)?,
                at: rfc3339(r.try_get(5)?),
            })
        })
        .collect()
}

/// Whether `user_id` may see the instance: its submitter, an approver of any of its steps
/// (also one who handed their place on), or an administrator.
fn may_see(loaded: &Loaded, user_id: Id, is_admin: bool) -> bool {
    let m = &loaded.machine;
    is_admin
        || m.submitter == user_id
        || m.participants.contains(&user_id)
        || m.steps.iter().any(|s| s.approvers.contains(&user_id))
}

/// One instance with its history, for someone who may see it.
pub async fn get(store: &Store, org_id: Id, user_id: Id, is_admin: bool, id: Id) -> Result<Approval> {
    let loaded = load(store.pool(), org_id, id).await?;
    if !may_see(&loaded, user_id, is_admin) {
        return Err(Error::Forbidden(
            "only the submitter, the approvers and administrators may see this approval".into(),
        ));
    }
    let mut approval = loaded.approval;
    approval.history = Some(history(store, org_id, id).await?);
    Ok(approval)
}

fn clean_comment(comment: Option<&str>) -> Result<Option<String>> {
    match comment.map(str::trim).filter(|c| !c.is_empty()) {
        Some(c) if c.chars().count() > 2000 => Err(Error::invalid("comment", "a comment is at most 2,000 characters")),
        other => Ok(other.map(str::to_owned)),
    }
}

/// The subject of a submission: its title and fields.
pub(crate) struct Subject {
    pub subject_type: String,
    pub subject_id: Id,
    pub title: String,
    pub fields: serde_json::Map<String, serde_json::Value>,
}

/// Starts an instance of `definition_id` inside `tx` (the caller commits): resolves the steps
/// for the submitter, stores the instance, its first history entry and its events.
pub(crate) async fn submit_in(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    org_id: Id,
    submitter: Id,
    definition_id: Id,
    subject: &Subject,
    comment: Option<&str>,
) -> Result<Id> {
    let definition = definitions::get(&mut **tx, org_id, definition_id).await.map_err(|e| match e {
        Error::NotFound(_) => {
            Error::invalid("definition_id", format!("approval definition {definition_id} does not exist"))
        }
        other => other,
    })?;
    if !definition.active {
        return Err(Error::invalid(
            "definition_id",
            "this approval definition is archived; it starts no new approvals",
        ));
    }
    if definition.subject_type != subject.subject_type {
        return Err(Error::invalid(
            "definition_id",
            format!("this definition approves {}s, not {}s", definition.subject_type, subject.subject_type),
        ));
    }
    let comment = clean_comment(comment)?;
    let steps = definitions::resolve_steps(tx, org_id, submitter, &definition.steps, &subject.fields).await?;
    let now = now_ms();
    let t = machine::submit(submitter, steps, now);
    let machine_json = serde_json::to_string(&t.next).map_err(|e| Error::Internal(e.to_string()))?;
    let id: Id = sqlx::query_scalar(
        "INSERT INTO approval_instances (org_id, definition_id, definition_version, subject_type, subject_id, title, fields, \
            submitter_id, state, step, machine, remind_at, escalate_at, version, created_at, updated_at, finished_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 1, $14, $14, $15) RETURNING id",
    )
    .bind(org_id)
    .bind(definition.id)
    .bind(definition.version)
    .bind(&subject.subject_type)
    .bind(subject.subject_id)
    .bind(&subject.title)
    .bind(serde_json::Value::Object(subject.fields.clone()).to_string())
    .bind(submitter)
    .bind(t.next.status.as_str())
    .bind(t.next.step.map(|s| s as i64))
    .bind(machine_json)
    .bind(t.next.remind_at())
    .bind(t.next.escalate_at())
    .bind(now)
    .bind(t.next.status.is_final().then_some(now))
    .fetch_one(&mut **tx)
    .await?;
    let info = Info {
        org_id,
        id,
        definition_id: definition.id,
        definition_version: definition.version,
        subject_type: &subject.subject_type,
        subject_id: subject.subject_id,
        title: &subject.title,
    };
    write_effects(tx, &info, &t, "submit", Some(submitter), &[], comment.as_deref(), now).await?;
    Ok(id)
}

/// What events and side effects need to know of an instance.
struct Info<'a> {
    org_id: Id,
    id: Id,
    definition_id: Id,
    definition_version: i64,
    subject_type: &'a str,
    subject_id: Id,
    title: &'a str,
}

/// Writes what a transition brings besides the instance row: who waits, the history entry,
/// the events, and the subject's outcome when the instance finished.
#[allow(clippy::too_many_arguments)]
async fn write_effects(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    info: &Info<'_>,
    t: &Transition,
    action: &str,
    actor: Option<Id>,
    to_user_ids: &[Id],
    comment: Option<&str>,
    now: i64,
) -> Result<()> {
    sqlx::query("DELETE FROM approval_waiting WHERE org_id = $1 AND instance_id = $2")
        .bind(info.org_id)
        .bind(info.id)
        .execute(&mut **tx)
        .await?;
    let waiting = t.next.waiting_for();
    for user in &waiting {
        sqlx::query("INSERT INTO approval_waiting (org_id, instance_id, user_id, since) VALUES ($1, $2, $3, $4)")
            .bind(info.org_id)
            .bind(info.id)
            .bind(user)
            .bind(now)
            .execute(&mut **tx)
            .await?;
    }
    sqlx::query(
        "INSERT INTO approval_history (org_id, instance_id, step, action, actor_user_id, to_user_ids, comment, at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(info.org_id)
    .bind(info.id)
    .bind(t.step.map(|s| s as i64))
    .bind(action)
    .bind(actor)
    .bind(serde_json::json!(to_user_ids).to_string())
    .bind(comment)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    for e in &t.events {
        let payload = EventPayload {
            instance_id: info.id,
            definition_id: info.definition_id,
            definition_version: info.definition_version,
            subject_type: info.subject_type,
            subject_id: info.subject_id,
            title: info.title,
            state: t.next.status.as_str(),
            step: e.step,
            actor_user_id: actor,
            comment,
            notify: &e.notify,
            waiting_for: waiting.clone(),
        };
        Event {
            org_id: info.org_id,
            topic: e.topic,
            aggregate: ("approval", info.id),
            actor_user_id: actor,
            payload: &payload,
        }
        .record(tx)
        .await?;
    }
    if t.next.status.is_final() {
        // Plugins and other modules follow outcomes through one topic, whatever the kind.
        let payload = serde_json::json!({
            "instance_id": info.id,
            "definition_id": info.definition_id,
            "subject_type": info.subject_type,
            "subject_id": info.subject_id,
            "title": info.title,
            "outcome": t.next.status.as_str(),
            "step": null,
            "actor_user_id": actor,
            "comment": comment,
            "notify": [],
        });
        Event {
            org_id: info.org_id,
            topic: "workflow.completed",
            aggregate: ("approval", info.id),
            actor_user_id: actor,
            payload: &payload,
        }
        .record(tx)
        .await?;
        if info.subject_type == "customer" {
            super::customer_approval::finish(tx, info.org_id, info.id, t.next.status, now).await?;
        }
    }
    Ok(())
}

/// Stores a transition of a loaded instance if nobody changed the instance since it was read.
#[allow(clippy::too_many_arguments)]
async fn store_transition(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    loaded: &Loaded,
    t: &Transition,
    action: &str,
    actor: Option<Id>,
    to_user_ids: &[Id],
    comment: Option<&str>,
    now: i64,
) -> Result<()> {
    let a = &loaded.approval;
    let machine_json = serde_json::to_string(&t.next).map_err(|e| Error::Internal(e.to_string()))?;
    let done = sqlx::query(
        "UPDATE approval_instances SET state = $4, step = $5, machine = $6, remind_at = $7, escalate_at = $8, \
            version = version + 1, updated_at = $9, finished_at = $10 \
         WHERE org_id = $1 AND id = $2 AND version = $3",
    )
    .bind(loaded.org_id)
    .bind(a.id)
    .bind(a.version)
    .bind(t.next.status.as_str())
    .bind(t.next.step.map(|s| s as i64))
    .bind(machine_json)
    .bind(t.next.remind_at())
    .bind(t.next.escalate_at())
    .bind(now)
    .bind(t.next.status.is_final().then_some(now))
    .execute(&mut **tx)
    .await?;
    if done.rows_affected() == 0 {
        return Err(Error::Conflict(
            "someone else acted on this approval at the same moment and their action counted; reload it to see where it stands"
                .into(),
        ));
    }
    let info = Info {
        org_id: loaded.org_id,
        id: a.id,
        definition_id: a.definition_id,
        definition_version: a.definition_version,
        subject_type: &a.subject_type,
        subject_id: a.subject_id,
        title: &a.title,
    };
    write_effects(tx, &info, t, action, actor, to_user_ids, comment, now).await
}

/// The error a refusal stands for.
fn refused(r: Refusal) -> Error {
    match r {
        Refusal::NotApprover | Refusal::NotSubmitter | Refusal::NotSystem => Error::Forbidden(r.to_string()),
        Refusal::BadTarget(m) => Error::invalid("to_user_id", m),
        Refusal::TooSoon { retry_after_ms } => {
            Error::Throttled { retry_after_secs: (retry_after_ms.max(0) as u64).div_ceil(1000), message: r.to_string() }
        }
        Refusal::Finished(_)
        | Refusal::WaitingForSubmitter
        | Refusal::NotReturned
        | Refusal::AlreadyDecided
        | Refusal::AlreadyApproved
        | Refusal::Nothing(_) => Error::Conflict(r.to_string()),
    }
}

/// The actions a person can take through the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserAction {
    Approve,
    Reject,
    Return,
    Transfer,
    Urge,
    Withdraw,
    Resubmit,
}

/// Takes `what` on instance `id` as `user_id`, and answers the instance as it then stands.
pub async fn act(
    store: &Store,
    org_id: Id,
    user_id: Id,
    is_admin: bool,
    id: Id,
    what: UserAction,
    input: &ActionInput,
) -> Result<Approval> {
    let comment = clean_comment(input.comment.as_deref())?;
    let loaded = load(store.pool(), org_id, id).await?;
    if !may_see(&loaded, user_id, is_admin) {
        return Err(Error::Forbidden("only the submitter and the approvers act on this approval".into()));
    }
    if what != UserAction::Transfer && input.to_user_id.is_some() {
        return Err(Error::invalid("to_user_id", "to_user_id is for transfers only"));
    }
    let action = match what {
        UserAction::Approve => Action::Approve,
        UserAction::Reject => Action::Reject,
        UserAction::Return => Action::Return,
        UserAction::Urge => Action::Urge,
        UserAction::Withdraw => Action::Withdraw,
        UserAction::Resubmit => Action::Resubmit,
        UserAction::Transfer => {
            let to =
                input.to_user_id.ok_or_else(|| Error::invalid("to_user_id", "say whom to transfer the step to"))?;
            let active: Option<i64> = sqlx::query_scalar("SELECT active FROM users WHERE org_id = $1 AND id = $2")
                .bind(org_id)
                .bind(to)
                .fetch_optional(store.pool())
                .await?;
            if active != Some(1) {
                return Err(Error::invalid(
                    "to_user_id",
                    format!("user {to} is not an active user of this organisation"),
                ));
            }
            Action::Transfer { to }
        }
    };
    let now = now_ms();
    let t = machine::apply(&loaded.machine, &action, Actor::user(user_id, now)).map_err(refused)?;
    let targets: Vec<Id> = match &action {
        Action::Transfer { to } => vec![*to],
        _ => Vec::new(),
    };
    let mut tx = store.begin_write().await?;
    store_transition(&mut tx, &loaded, &t, action.name(), Some(user_id), &targets, comment.as_deref(), now).await?;
    tx.commit().await?;
    get(store, org_id, user_id, true, id).await
}

/// Submits a new approval through the API. For customers the submitter must be able to read
/// the customer, whose name and fields are used; other subjects bring their own.
pub async fn submit(store: &Store, access: &crate::access::Access, new: &NewApproval) -> Result<Approval> {
    let p = *access.principal();
    let definition = definitions::get(store.pool(), p.org_id, new.definition_id).await.map_err(|e| match e {
        Error::NotFound(_) => {
            Error::invalid("definition_id", format!("approval definition {} does not exist", new.definition_id))
        }
        other => other,
    })?;
    let subject = if definition.subject_type == "customer" {
        let customer = crate::customers::get(store, access, new.subject_id, crate::access::Action::Read).await?;
        let fields = match serde_json::to_value(&customer) {
            Ok(serde_json::Value::Object(map)) => map,
            _ => serde_json::Map::new(),
        };
        Subject { subject_type: "customer".into(), subject_id: customer.id, title: customer.name, fields }
    } else {
        let title = new
            .title
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty() && t.chars().count() <= 200)
            .ok_or_else(|| Error::invalid("title", "an approval needs a title of 1–200 characters"))?;
        let fields = new.fields.clone().unwrap_or_default();
        if serde_json::Value::Object(fields.clone()).to_string().len() > 64 * 1024 {
            return Err(Error::invalid("fields", "the fields are at most 64 KiB of JSON"));
        }
        Subject {
            subject_type: definition.subject_type.clone(),
            subject_id: new.subject_id,
            title: title.to_owned(),
            fields,
        }
    };
    let mut tx = store.begin_write().await?;
    let id = submit_in(&mut tx, p.org_id, p.user_id, definition.id, &subject, new.comment.as_deref()).await?;
    tx.commit().await?;
    get(store, p.org_id, p.user_id, true, id).await
}

fn check_limit(q: &ApprovalQuery) -> Result<i64> {
    let limit = q.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(Error::invalid("limit", "limit is 1 to 200"));
    }
    Ok(limit)
}

async fn page(store: &Store, mut sql: SqlBuf, q: &ApprovalQuery, limit: i64) -> Result<ApprovalPage> {
    if let Some(before) = q.before_id {
        sql.push(" AND i.id < ").bind(before);
    }
    sql.push(" ORDER BY i.id DESC").limit(limit + 1);
    let rows = sql.query().fetch_all(store.pool()).await?;
    let mut items = Vec::with_capacity(rows.len());
    for r in &rows {
        items.push(from_row(r)?.approval);
    }
    let more = items.len() as i64 > limit;
    items.truncate(limit as usize);
    let next_before_id = if more { items.last().map(|a| a.id) } else { None };
    Ok(ApprovalPage { items, next_before_id })
}

/// The instances waiting for `user_id` to decide a step, newest first.
pub async fn inbox(store: &Store, org_id: Id, user_id: Id, q: &ApprovalQuery) -> Result<ApprovalPage> {
    let limit = check_limit(q)?;
    if q.state.is_some() {
        return Err(Error::invalid("state", "the inbox holds pending approvals only; filter by state in `mine`"));
    }
    let mut sql = SqlBuf::new(format!(
        "SELECT {COLUMNS} FROM approval_waiting w JOIN approval_instances i ON i.id = w.instance_id WHERE w.org_id = "
    ));
    sql.bind(org_id).push(" AND w.user_id = ").bind(user_id);
    page(store, sql, q, limit).await
}

/// The instances `user_id` submitted, newest first.
pub async fn mine(store: &Store, org_id: Id, user_id: Id, q: &ApprovalQuery) -> Result<ApprovalPage> {
    let limit = check_limit(q)?;
    let mut sql = SqlBuf::new(format!("SELECT {COLUMNS} FROM approval_instances i WHERE i.org_id = "));
    sql.bind(org_id).push(" AND i.submitter_id = ").bind(user_id);
    if let Some(state) = &q.state {
        if !["pending", "approved", "rejected", "returned", "withdrawn"].contains(&state.as_str()) {
            return Err(Error::invalid("state", "a state is pending, approved, rejected, returned or withdrawn"));
        }
        sql.push(" AND i.state = ").bind(state.as_str());
    }
    page(store, sql, q, limit).await
}

/// Reminds the approvers of every step past its reminder time, and escalates every step past
/// its deadline, once each; returns how many reminders and escalations were recorded. Safe to
/// run on several nodes at once and again: a step already reminded or escalated is not due any
/// more, and two runners racing on one instance land one write (the other skips it).
pub async fn run_deadlines(store: &Store, now_ms: i64) -> Result<usize> {
    let mut done = 0;
    let mut after: Id = 0;
    loop {
        let rows: Vec<(Id, Id)> = sqlx::query_as(
            "SELECT id, org_id FROM approval_instances \
             WHERE id > $2 AND ((remind_at IS NOT NULL AND remind_at <= $1) OR (escalate_at IS NOT NULL AND escalate_at <= $1)) \
             ORDER BY id LIMIT 200",
        )
        .bind(now_ms)
        .bind(after)
        .fetch_all(store.pool())
        .await?;
        let Some(last) = rows.last() else { return Ok(done) };
        after = last.0;
        for (id, org_id) in rows {
            match run_deadlines_of(store, org_id, id, now_ms).await {
                Ok(n) => done += n,
                Err(Error::Conflict(_)) => {}
                Err(e) => return Err(e),
            }
        }
    }
}

/// The reminder and escalation due on one instance.
async fn run_deadlines_of(store: &Store, org_id: Id, id: Id, now: i64) -> Result<usize> {
    let mut done = 0;
    let mut loaded = load(store.pool(), org_id, id).await?;
    if loaded.machine.remind_at().is_some_and(|at| at <= now) {
        let t = machine::apply(&loaded.machine, &Action::Remind, Actor::system(now)).map_err(refused)?;
        let mut tx = store.begin_write().await?;
        store_transition(&mut tx, &loaded, &t, "remind", None, &[], None, now).await?;
        tx.commit().await?;
        done += 1;
        loaded = load(store.pool(), org_id, id).await?;
    }
    if loaded.machine.escalate_at().is_some_and(|at| at <= now) {
        let step = loaded.machine.step.and_then(|i| loaded.machine.steps.get(i));
        let target = step.and_then(|s| s.escalate_to);
        let waiting = loaded.machine.waiting_for();
        let mut tx = store.begin_write().await?;
        let candidates: Vec<Id> = match target {
            Some(Escalation::User { user_id }) => vec![user_id],
            Some(Escalation::ApproverManager) if !waiting.is_empty() => {
                let mut sql =
                    SqlBuf::new("SELECT DISTINCT manager_id FROM users WHERE manager_id IS NOT NULL AND org_id = ");
                sql.bind(org_id).push(" AND id IN ").bind_list(&waiting);
                let mut managers = Vec::new();
                for r in sql.query().fetch_all(&mut *tx).await? {
                    managers.push(r.try_get::<Id, _>(0)?);
                }
                managers.sort_unstable();
                managers
            }
            _ => Vec::new(),
        };
        let add = definitions::active_users(&mut tx, org_id, &candidates).await?;
        let t = machine::apply(&loaded.machine, &Action::Escalate { add: add.clone() }, Actor::system(now))
            .map_err(refused)?;
        store_transition(&mut tx, &loaded, &t, "escalate", None, &add, None, now).await?;
        tx.commit().await?;
        done += 1;
    }
    Ok(done)
}
