//! The outcome of an order's approval, from the `workflow.completed` event (or at once, when
//! every step of the definition skipped and the approval was decided as it started).
//!
//! Events arrive at least once, and the submitting call and the event may apply the same
//! outcome at the same moment, so applying is idempotent and safe to race:
//!
//! 1. the order moves from `pending` with a compare-and-set on its record version (the loser of
//!    a race reads again and finds the work done); an approval also raises the order's version;
//! 2. the change is recorded in the history under a unique key;
//! 3. an approved order is published once per version (`delivery`), and its `publish_pending`
//!    flag, set with step 1, is cleared.
//!
//! A run that stopped after step 1 is finished by the next: an order already in the outcome's
//! status under the same approval repeats steps 2 and 3, which do nothing twice. When there is
//! no next run (the event was handled while the submitting call still held the order, and that
//! call was then stopped), the `publish-approved` job finds the flag and finishes the order.

use serde::Deserialize;
use serde_json::json;
use tessera_sdk::events::Event;
use tessera_sdk::records::{self, Query};
use tessera_sdk::{Error, Id, Result, log};

use crate::delivery;
use crate::history::{self, Change, Source};
use crate::order::{self, Stored};
use crate::status::{Outcome, Status};

/// The subject type of the plugin's approvals.
pub const SUBJECT_TYPE: &str = "orders-to-erp:order";
/// How long an outcome waits for the order to record the approval it belongs to (the call that
/// submitted it may still be finishing; the host stops an interactive call after 12 s at most).
/// Past it, the submitting call was stopped before it recorded the approval: the order stays as
/// it was, its owner was told the submission failed, and submits it again.
const WAIT_FOR_SUBMIT_MS: i64 = 30_000;
/// How long after its approval an order still flagged `publish_pending` is left to the call
/// that approved it.
const PUBLISH_GRACE_MS: i64 = 30_000;
/// Orders the `publish-approved` job finishes per run.
const PUBLISH_BATCH: u32 = 100;
/// Attempts at the compare-and-set before giving up (the event is then delivered again).
const ATTEMPTS: usize = 3;

/// The payload of `workflow.completed`.
#[derive(Debug, Clone, Deserialize)]
struct Completed {
    instance_id: Id,
    subject_type: String,
    subject_id: Id,
    outcome: String,
    #[serde(default)]
    actor_user_id: Option<Id>,
    #[serde(default)]
    comment: Option<String>,
}

/// Handles `workflow.completed`: only approvals of the plugin's orders matter.
pub fn on_completed(event: &Event, now: i64) -> Result<()> {
    let completed: Completed = match event.payload_as() {
        Ok(c) => c,
        Err(e) => {
            log::warn(format!("workflow.completed #{} has a payload this plugin cannot read: {e}", event.id));
            return Ok(());
        }
    };
    if completed.subject_type != SUBJECT_TYPE {
        return Ok(());
    }
    let Some(outcome) = Outcome::parse(&completed.outcome) else {
        log::info(format!(
            "approval {} ended {:?}; the order keeps its status",
            completed.instance_id, completed.outcome
        ));
        return Ok(());
    };
    let stored = match order::get(completed.subject_id) {
        Ok(stored) => stored,
        Err(Error::NotFound(_)) => {
            log::info(format!(
                "approval {} is about order {}, which is gone",
                completed.instance_id, completed.subject_id
            ));
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    let recorded = stored.fields.approval_id;
    if recorded != Some(completed.instance_id) {
        let newer = recorded.is_none_or(|id| id < completed.instance_id);
        if newer && stored.fields.status.can_submit() && now - event.occurred_at < WAIT_FOR_SUBMIT_MS {
            // The submitting call has started the approval but not yet stored it on the order.
            return Err(Error::unavailable(format!(
                "order {} has not recorded approval {} yet",
                completed.subject_id, completed.instance_id
            )));
        }
        log::info(format!(
            "approval {} of order {} is not the order's current approval; ignored",
            completed.instance_id, completed.subject_id
        ));
        return Ok(());
    }
    let at = if event.occurred_at > 0 { event.occurred_at } else { now };
    apply_with(
        completed.subject_id,
        completed.instance_id,
        outcome,
        completed.actor_user_id,
        at,
        completed.comment.as_deref(),
    )
}

/// Applies an approval's outcome to its order (see the module's steps).
pub fn apply(order_id: Id, approval_id: Id, outcome: Outcome, actor: Option<Id>, at: i64) -> Result<()> {
    apply_with(order_id, approval_id, outcome, actor, at, None)
}

fn apply_with(
    order_id: Id,
    approval_id: Id,
    outcome: Outcome,
    actor: Option<Id>,
    at: i64,
    note: Option<&str>,
) -> Result<()> {
    let target = outcome.status();
    for attempt in 1..=ATTEMPTS {
        let stored = order::get(order_id)?;
        let o = &stored.fields;
        if o.approval_id != Some(approval_id) {
            return Ok(());
        }
        if o.status == target {
            return finish(&stored, outcome, actor, at, note).map(|_| ());
        }
        if o.status != Status::Pending {
            // Moved on since (edited after a rejection, shipped after approval): nothing to do.
            return Ok(());
        }
        let mut next = o.clone();
        next.status = target;
        if outcome == Outcome::Approved {
            next.revision += 1;
            next.approved_at = Some(at);
        }
        next.summary = next.summary_for(order_id);
        let patch = json!({
            "status": next.status,
            "revision": next.revision,
            "approved_at": next.approved_at,
            "summary": next.summary,
            "publish_pending": outcome == Outcome::Approved,
        });
        match records::update(order::ENTITY, order_id, &patch.to_string(), Some(stored.version)) {
            Ok(record) => return finish(&record.into_typed()?, outcome, actor, at, note).map(|_| ()),
            Err(Error::Conflict(_)) if attempt < ATTEMPTS => continue,
            Err(e) => return Err(e),
        }
    }
    Err(Error::conflict(format!("order {order_id} kept changing while its approval was applied")))
}

/// Records the change and, for an approval, delivers the order; true when this call published
/// the order's version.
fn finish(order: &Stored, outcome: Outcome, actor: Option<Id>, at: i64, note: Option<&str>) -> Result<bool> {
    let (id, approval) = (order.id, order.fields.approval_id.unwrap_or_default());
    let key = match outcome {
        Outcome::Approved => format!("order-{id}-approved-v{}", order.fields.revision),
        Outcome::Rejected => format!("order-{id}-rejected-{approval}"),
        Outcome::BackToDraft => format!("order-{id}-returned-{approval}"),
    };
    let change =
        Change { from: Some(Status::Pending), to: outcome.status(), at, by: actor, source: Source::Workflow, note };
    history::record(order, &change, &key)?;
    if outcome != Outcome::Approved {
        return Ok(false);
    }
    let published = delivery::publish(order)?;
    if published {
        log::info(format!(
            "order {} version {} published to the ERP",
            order.fields.number_or(id),
            order.fields.revision
        ));
    }
    if order.fields.publish_pending {
        clear_publish_pending(id)?;
    }
    Ok(published)
}

/// Clears the flag once the version is published. A flag left set only means the job finishes
/// the order again, which publishes nothing twice.
fn clear_publish_pending(id: Id) -> Result<()> {
    match records::update(order::ENTITY, id, &json!({ "publish_pending": false }).to_string(), None) {
        Ok(_) | Err(Error::Conflict(_)) => Ok(()),
        Err(e) => Err(e),
    }
}

/// The `publish-approved` job: finishes the approved orders still flagged `publish_pending` a
/// while after their approval (records the change, publishes the version, clears the flag).
/// Returns how many it published.
pub fn publish_pending(now: i64) -> Result<usize> {
    let query = Query::new(order::ENTITY)
        .eq("publish_pending", true)
        .lt("approved_at", now - PUBLISH_GRACE_MS)
        .order_by("approved_at")
        .limit(PUBLISH_BATCH);
    let (pending, _) = records::find_typed::<order::Order>(&query)?;
    let mut late = 0;
    for stored in &pending {
        let o = &stored.fields;
        if o.status == Status::Approved {
            let at = o.approved_at.unwrap_or(now);
            if finish(stored, Outcome::Approved, None, at, None)? {
                late += 1;
            }
        } else {
            // Shipped or cancelled since: the ERP had it.
            clear_publish_pending(stored.id)?;
        }
    }
    if late > 0 {
        log::warn(format!("{late} approved orders were published late, by the publish-approved job"));
    }
    Ok(late)
}
