//! Host reactions that notify people: the event dispatcher hands each event here inside the
//! transaction that marks it dispatched, so a reaction takes effect exactly once with it.

use serde_json::Value;
use sqlx::Row as _;

use super::{
    APPROVAL_DEADLINE, APPROVAL_UPDATE, APPROVAL_WAITING, CUSTOMER_ASSIGNED, Kind, Made, NewNotification, Text, create,
};
use crate::error::Result;
use crate::store::Id;

/// An event as the dispatcher read it.
#[derive(Debug, Clone)]
pub struct EventRow {
    pub id: Id,
    pub org_id: Id,
    pub topic: String,
    pub actor_user_id: Option<Id>,
    pub payload: String,
}

/// Whether any reaction takes events of `topic` (the dispatcher reads payloads only then).
pub fn reacts_to(topic: &str) -> bool {
    topic == "customer.transferred" || approval(topic).is_some()
}

/// The kind and wording of the notification for an approval event.
fn approval(topic: &str) -> Option<(Kind, &'static str, &'static str)> {
    Some(match topic {
        "approval.submitted" | "approval.waiting" => (APPROVAL_WAITING, "待你审批：", "Waiting for your approval: "),
        "approval.transferred" => (APPROVAL_WAITING, "审批转给了你：", "Approval handed to you: "),
        "approval.urged" => (APPROVAL_WAITING, "催办：", "Please decide: "),
        "approval.reminder" => (APPROVAL_DEADLINE, "审批即将超时：", "Approval due soon: "),
        "approval.escalated" => (APPROVAL_DEADLINE, "审批已超时，请你处理：", "Overdue approval escalated to you: "),
        "approval.approved" => (APPROVAL_UPDATE, "审批已通过：", "Approved: "),
        "approval.rejected" => (APPROVAL_UPDATE, "审批被驳回：", "Rejected: "),
        "approval.returned" => (APPROVAL_UPDATE, "审批被退回修改：", "Returned for changes: "),
        "approval.withdrawn" => (APPROVAL_UPDATE, "审批已撤回：", "Withdrawn: "),
        _ => return None,
    })
}

fn id_of(v: &Value, key: &str) -> Option<Id> {
    v.get(key).and_then(Value::as_i64)
}

/// Makes the notifications an event calls for. Returns those to push once committed.
pub async fn react(tx: &mut sqlx::Transaction<'static, sqlx::Any>, event: &EventRow) -> Result<Vec<Made>> {
    if !reacts_to(&event.topic) {
        return Ok(Vec::new());
    }
    // A payload the host wrote is JSON; one that is not is nothing to react to.
    let Ok(payload) = serde_json::from_str::<Value>(&event.payload) else { return Ok(Vec::new()) };
    let mut made = Vec::new();
    let dedupe_key = format!("event:{}", event.id);
    if event.topic == "customer.transferred" {
        let (Some(customer), Some(to)) = (id_of(&payload, "id"), id_of(&payload, "to_user_id")) else {
            return Ok(made);
        };
        if event.actor_user_id == Some(to) {
            return Ok(made);
        }
        let name: Option<String> = sqlx::query("SELECT name FROM customers WHERE org_id = $1 AND id = $2")
            .bind(event.org_id)
            .bind(customer)
            .fetch_optional(&mut **tx)
            .await?
            .map(|r| r.try_get(0))
            .transpose()?;
        let name = name.unwrap_or_else(|| payload["code"].as_str().unwrap_or_default().to_owned());
        let reason = payload["reason"].as_str().unwrap_or_default();
        let n = NewNotification {
            org_id: event.org_id,
            user_id: to,
            kind: CUSTOMER_ASSIGNED,
            title: Text::new(format!("客户转给了你：{name}"), format!("Customer assigned to you: {name}")),
            body: if reason.is_empty() {
                Text::default()
            } else {
                Text::new(format!("原因：{reason}"), format!("Reason: {reason}"))
            },
            link: Some(format!("/customers/{customer}")),
            subject: Some(("customer", customer)),
            dedupe_key,
        };
        made.extend(create(tx, &n).await?);
        return Ok(made);
    }
    let Some((kind, zh, en)) = approval(&event.topic) else { return Ok(made) };
    let Some(instance) = id_of(&payload, "instance_id") else { return Ok(made) };
    let title = payload["title"].as_str().unwrap_or_default();
    let body = match payload["comment"].as_str().filter(|c| !c.is_empty()) {
        Some(c) => Text::new(format!("意见：{c}"), format!("Comment: {c}")),
        None => Text::default(),
    };
    let mut notify: Vec<Id> =
        payload["notify"].as_array().map(|a| a.iter().filter_map(Value::as_i64).collect()).unwrap_or_default();
    notify.sort_unstable();
    notify.dedup();
    for user in notify.into_iter().filter(|u| Some(*u) != event.actor_user_id) {
        let n = NewNotification {
            org_id: event.org_id,
            user_id: user,
            kind,
            title: Text::new(format!("{zh}{title}"), format!("{en}{title}")),
            body: body.clone(),
            link: Some(format!("/approvals/{instance}")),
            subject: Some(("approval", instance)),
            dedupe_key: dedupe_key.clone(),
        };
        made.extend(create(tx, &n).await?);
    }
    Ok(made)
}
