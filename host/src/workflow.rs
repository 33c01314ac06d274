//! The workflow kernel: approvals. Administrators declare approval definitions (ordered steps;
//! approvers by user, role, the submitter's manager or a department head; conditions on the
//! subject's fields; any-of or all-of; deadlines with reminders and escalation). Submitting a
//! record starts an instance, which a pure state machine (`machine`) moves through submit,
//! approve, reject, return, resubmit, transfer, urge and withdraw, with every action kept in its
//! history and announced as an `approval.*` event in the outbox (the notifications module tells
//! people from there). The first built-in use is the approval of new customers of chosen
//! categories (`customer_approval`).

pub mod customer_approval;
pub mod definitions;
pub mod instances;
pub mod machine;
mod routes;

pub(crate) use routes::routes;

use crate::error::Result;
use crate::store::Store;

/// Reminds the approvers of every step past its reminder time and escalates every step past
/// its deadline, each once; returns how many reminders and escalations it recorded. The
/// scheduler calls it every minute or so; running it twice, or on several nodes, does nothing
/// more.
pub async fn run_deadlines(store: &Store, now_ms: i64) -> Result<usize> {
    instances::run_deadlines(store, now_ms).await
}
