//! The state machine of one approval instance, as a pure function: given the instance's
//! state, an action and who acts, [`apply`] either refuses (saying why) or returns the next
//! state with the history entry and the events the transition makes. Nothing here touches the
//! database, so the rules can be tested exhaustively (see the property tests below); storage
//! (`instances`) loads a state, applies, and writes the result with a compare-and-set on the
//! instance's version.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::store::Id;

/// How long a submitter waits between two nudges of the same approval.
pub const URGE_INTERVAL_MS: i64 = 10 * 60 * 1000;

/// Where an approval stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// A step waits for its approvers.
    Pending,
    /// Every step approved (or skipped). Final.
    Approved,
    /// An approver rejected it. Final.
    Rejected,
    /// Sent back to the submitter for changes; the submitter may resubmit or withdraw.
    Returned,
    /// The submitter took it back. Final.
    Withdrawn,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Approved => "approved",
            Status::Rejected => "rejected",
            Status::Returned => "returned",
            Status::Withdrawn => "withdrawn",
        }
    }

    /// Whether no action can change it any more.
    pub fn is_final(self) -> bool {
        matches!(self, Status::Approved | Status::Rejected | Status::Withdrawn)
    }
}

/// Whether one approver decides a step, or every approver must approve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// The first approval decides the step.
    Any,
    /// Every approver of the step must approve.
    All,
}

/// One step of an instance, with its approvers resolved at submission.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct StepState {
    pub name: String,
    pub mode: Mode,
    /// Who decides the step (changed by transfer and escalation).
    pub approvers: Vec<Id>,
    /// Who has approved it in the current round.
    pub approved_by: Vec<Id>,
    /// The step's condition did not hold for the subject, so it does not run.
    pub skipped: bool,
    /// Hours after the step starts when its approvers are reminded.
    pub remind_after_hours: Option<i64>,
    /// Hours after the step starts when it is overdue (and escalated, if the definition says so).
    pub deadline_hours: Option<i64>,
    /// Who is added to the step when it is overdue; nobody when absent.
    pub escalate_to: Option<Escalation>,
}

/// Who is added to an overdue step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Escalation {
    /// The manager of each approver who has not decided yet.
    ApproverManager,
    /// A named user.
    User { user_id: Id },
}

/// The state of one instance: all the machine needs to decide the next action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MachineState {
    pub status: Status,
    pub submitter: Id,
    pub steps: Vec<StepState>,
    /// The step that waits, while pending.
    pub step: Option<usize>,
    /// When the current step started (Unix ms).
    pub step_started_at: i64,
    /// Whether the current step's approvers were reminded.
    pub reminded: bool,
    /// Whether the current step was escalated.
    pub escalated: bool,
    /// When the submitter last nudged the approvers.
    pub last_urged_at: Option<i64>,
    /// Everyone ever asked to decide a step (they keep seeing the instance).
    pub participants: Vec<Id>,
    /// How many actions were accepted, submission included.
    pub actions: u32,
}

/// Who acts, and when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Actor {
    /// `None` for the host itself (reminders and escalation at deadlines).
    pub user_id: Option<Id>,
    pub at_ms: i64,
}

impl Actor {
    pub fn user(user_id: Id, at_ms: i64) -> Self {
        Actor { user_id: Some(user_id), at_ms }
    }

    pub fn system(at_ms: i64) -> Self {
        Actor { user_id: None, at_ms }
    }
}

/// What someone does to an instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Approve,
    Reject,
    /// Sends the instance back to its submitter for changes.
    Return,
    /// The approver hands their place in the step to another user.
    Transfer {
        to: Id,
    },
    /// The submitter nudges the current approvers.
    Urge,
    Withdraw,
    /// The submitter sends a returned instance again, from the first step.
    Resubmit,
    /// The host reminds the current approvers of a step nearing its deadline.
    Remind,
    /// The host adds approvers to an overdue step.
    Escalate {
        add: Vec<Id>,
    },
}

impl Action {
    /// The name the history shows.
    pub fn name(&self) -> &'static str {
        match self {
            Action::Approve => "approve",
            Action::Reject => "reject",
            Action::Return => "return",
            Action::Transfer { .. } => "transfer",
            Action::Urge => "urge",
            Action::Withdraw => "withdraw",
            Action::Resubmit => "resubmit",
            Action::Remind => "remind",
            Action::Escalate { .. } => "escalate",
        }
    }
}

/// Why an action was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("this approval is {} already; nothing more can be done with it", .0.as_str())]
    Finished(Status),
    #[error("this approval was returned to its submitter; it waits for them to resubmit or withdraw it")]
    WaitingForSubmitter,
    #[error("this approval is not returned, so there is nothing to resubmit")]
    NotReturned,
    #[error("this step was already decided by someone else; reload the approval")]
    AlreadyDecided,
    #[error("you have approved this step already; it waits for the other approvers")]
    AlreadyApproved,
    #[error("you are not an approver of the step that waits")]
    NotApprover,
    #[error("only the submitter may do this")]
    NotSubmitter,
    #[error("only the host itself does this")]
    NotSystem,
    #[error("{0}")]
    BadTarget(&'static str),
    #[error("the approvers were nudged a moment ago; try again later")]
    TooSoon { retry_after_ms: i64 },
    #[error("nothing to do: {0}")]
    Nothing(&'static str),
}

/// An event a transition makes, before storage adds the instance's details.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Emitted {
    /// e.g. `approval.approved`.
    pub topic: &'static str,
    /// The step it is about, if any.
    pub step: Option<usize>,
    /// Who should be told.
    pub notify: Vec<Id>,
}

/// What one accepted action does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub next: MachineState,
    /// The step the action was taken on (for the history), if any.
    pub step: Option<usize>,
    pub events: Vec<Emitted>,
}

/// The state of a freshly submitted instance at `at_ms`, with the events of submission.
pub fn submit(submitter: Id, steps: Vec<StepState>, at_ms: i64) -> Transition {
    let mut state = MachineState {
        status: Status::Pending,
        submitter,
        steps,
        step: None,
        step_started_at: at_ms,
        reminded: false,
        escalated: false,
        last_urged_at: None,
        participants: Vec::new(),
        actions: 0,
    };
    let mut events = Vec::new();
    start_from(&mut state, 0, at_ms, "approval.submitted", &mut events);
    Transition { next: state, step: None, events }
}

/// Moves to the first step at or after `from` that runs, or finishes approved when none is left.
/// The first event is `topic` (`approval.submitted` or `approval.waiting`).
fn start_from(state: &mut MachineState, from: usize, at_ms: i64, topic: &'static str, events: &mut Vec<Emitted>) {
    state.actions += 1;
    state.step_started_at = at_ms;
    state.reminded = false;
    state.escalated = false;
    let from_index = from.min(state.steps.len());
    for s in &mut state.steps[from_index..] {
        s.approved_by.clear();
    }
    match (from..state.steps.len()).find(|i| !state.steps[*i].skipped) {
        Some(i) => {
            state.status = Status::Pending;
            state.step = Some(i);
            let approvers = state.steps[i].approvers.clone();
            for a in &approvers {
                if !state.participants.contains(a) {
                    state.participants.push(*a);
                }
            }
            events.push(Emitted { topic, step: Some(i), notify: approvers });
        }
        None => {
            if topic == "approval.submitted" {
                events.push(Emitted { topic, step: None, notify: Vec::new() });
            }
            state.status = Status::Approved;
            state.step = None;
            events.push(Emitted { topic: "approval.approved", step: None, notify: vec![state.submitter] });
        }
    }
}

impl MachineState {
    /// The approvers of the current step who have not approved it yet.
    pub fn waiting_for(&self) -> Vec<Id> {
        match (self.status, self.step.and_then(|i| self.steps.get(i))) {
            (Status::Pending, Some(s)) => s.approvers.iter().copied().filter(|a| !s.approved_by.contains(a)).collect(),
            _ => Vec::new(),
        }
    }

    /// When the current step's reminder is due, if it has one and it was not sent.
    pub fn remind_at(&self) -> Option<i64> {
        let step = self.current()?;
        if self.reminded {
            return None;
        }
        let hours = step.remind_after_hours.or(step.deadline_hours)?;
        Some(self.step_started_at.saturating_add(hours.saturating_mul(3_600_000)))
    }

    /// When the current step escalates, if it does and has not.
    pub fn escalate_at(&self) -> Option<i64> {
        let step = self.current()?;
        if self.escalated || step.escalate_to.is_none() {
            return None;
        }
        Some(self.step_started_at.saturating_add(step.deadline_hours?.saturating_mul(3_600_000)))
    }

    fn current(&self) -> Option<&StepState> {
        if self.status != Status::Pending {
            return None;
        }
        self.steps.get(self.step?)
    }
}

/// Applies `action` by `actor` to `state`: the next state, or why not.
pub fn apply(state: &MachineState, action: &Action, actor: Actor) -> Result<Transition, Refusal> {
    if state.status.is_final() {
        return Err(Refusal::Finished(state.status));
    }
    let mut next = state.clone();
    let mut events = Vec::new();
    let submitter_only = |user: Option<Id>| -> Result<(), Refusal> {
        if user == Some(state.submitter) { Ok(()) } else { Err(Refusal::NotSubmitter) }
    };
    match action {
        Action::Resubmit => {
            submitter_only(actor.user_id)?;
            if state.status != Status::Returned {
                return Err(Refusal::NotReturned);
            }
            start_from(&mut next, 0, actor.at_ms, "approval.submitted", &mut events);
            return Ok(Transition { next, step: None, events });
        }
        Action::Withdraw => {
            submitter_only(actor.user_id)?;
            let notify = state.waiting_for();
            next.status = Status::Withdrawn;
            next.step = None;
            next.actions += 1;
            events.push(Emitted { topic: "approval.withdrawn", step: state.step, notify });
            return Ok(Transition { next, step: state.step, events });
        }
        _ => {}
    }
    if state.status == Status::Returned {
        return Err(Refusal::WaitingForSubmitter);
    }
    let Some(i) = state.step else {
        return Err(Refusal::Nothing("no step waits"));
    };
    let step = &state.steps[i];
    let waiting = state.waiting_for();
    // An approver acting on a step that has moved on lost a race: the step was decided.
    let approver_check = |user: Option<Id>| -> Result<Id, Refusal> {
        let Some(user) = user else { return Err(Refusal::NotApprover) };
        if waiting.contains(&user) {
            Ok(user)
        } else if step.approved_by.contains(&user) {
            Err(Refusal::AlreadyApproved)
        } else if state.steps[..i].iter().any(|s| s.approvers.contains(&user)) {
            Err(Refusal::AlreadyDecided)
        } else {
            Err(Refusal::NotApprover)
        }
    };
    match action {
        Action::Approve => {
            let user = approver_check(actor.user_id)?;
            let s = &mut next.steps[i];
            s.approved_by.push(user);
            let done = s.mode == Mode::Any || s.approvers.iter().all(|a| s.approved_by.contains(a));
            if done {
                start_from(&mut next, i + 1, actor.at_ms, "approval.waiting", &mut events);
            } else {
                // An all-of step goes on waiting for the others; nobody new needs telling.
                next.actions += 1;
                events.push(Emitted { topic: "approval.waiting", step: Some(i), notify: Vec::new() });
            }
        }
        Action::Reject => {
            approver_check(actor.user_id)?;
            next.status = Status::Rejected;
            next.step = None;
            next.actions += 1;
            events.push(Emitted { topic: "approval.rejected", step: Some(i), notify: vec![state.submitter] });
        }
        Action::Return => {
            approver_check(actor.user_id)?;
            next.status = Status::Returned;
            next.step = None;
            next.actions += 1;
            for s in &mut next.steps {
                s.approved_by.clear();
            }
            events.push(Emitted { topic: "approval.returned", step: Some(i), notify: vec![state.submitter] });
        }
        Action::Transfer { to } => {
            let user = approver_check(actor.user_id)?;
            if *to == user {
                return Err(Refusal::BadTarget("you cannot transfer a step to yourself"));
            }
            if step.approvers.contains(to) {
                return Err(Refusal::BadTarget("that user is an approver of this step already"));
            }
            let s = &mut next.steps[i];
            for a in &mut s.approvers {
                if *a == user {
                    *a = *to;
                }
            }
            if !next.participants.contains(to) {
                next.participants.push(*to);
            }
            next.actions += 1;
            events.push(Emitted { topic: "approval.transferred", step: Some(i), notify: vec![*to] });
        }
        Action::Urge => {
            submitter_only(actor.user_id)?;
            if let Some(last) = state.last_urged_at {
                let wait = last.saturating_add(URGE_INTERVAL_MS) - actor.at_ms;
                if wait > 0 {
                    return Err(Refusal::TooSoon { retry_after_ms: wait });
                }
            }
            next.last_urged_at = Some(actor.at_ms);
            next.actions += 1;
            events.push(Emitted { topic: "approval.urged", step: Some(i), notify: waiting });
        }
        Action::Remind => {
            if actor.user_id.is_some() {
                return Err(Refusal::NotSystem);
            }
            if state.reminded {
                return Err(Refusal::Nothing("the approvers of this step were reminded already"));
            }
            next.reminded = true;
            next.actions += 1;
            events.push(Emitted { topic: "approval.reminder", step: Some(i), notify: waiting });
        }
        Action::Escalate { add } => {
            if actor.user_id.is_some() {
                return Err(Refusal::NotSystem);
            }
            if state.escalated {
                return Err(Refusal::Nothing("this step was escalated already"));
            }
            next.escalated = true;
            next.reminded = true;
            let mut added = Vec::new();
            for a in add {
                if !next.steps[i].approvers.contains(a) && !added.contains(a) {
                    added.push(*a);
                }
            }
            next.steps[i].approvers.extend(&added);
            for a in &added {
                if !next.participants.contains(a) {
                    next.participants.push(*a);
                }
            }
            next.actions += 1;
            events.push(Emitted { topic: "approval.escalated", step: Some(i), notify: added });
        }
        Action::Withdraw | Action::Resubmit => return Err(Refusal::Nothing("handled above")),
    }
    Ok(Transition { next, step: Some(i), events })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SUBMITTER: Id = 1;

    fn step(name: &str, mode: Mode, approvers: &[Id], skipped: bool) -> StepState {
        StepState {
            name: name.into(),
            mode,
            approvers: approvers.to_vec(),
            approved_by: Vec::new(),
            skipped,
            remind_after_hours: None,
            deadline_hours: None,
            escalate_to: None,
        }
    }

    fn act(state: &MachineState, action: Action, user: Id) -> Result<MachineState, Refusal> {
        apply(state, &action, Actor::user(user, 1_000)).map(|t| t.next)
    }

    #[test]
    fn skipped_steps_are_passed_and_all_of_needs_everyone() {
        let t = submit(
            SUBMITTER,
            vec![
                step("a", Mode::Any, &[2, 3], false),
                step("b", Mode::Any, &[4], true),
                step("c", Mode::All, &[5, 6], false),
            ],
            0,
        );
        assert_eq!(t.events[0].topic, "approval.submitted");
        assert_eq!(t.events[0].notify, vec![2, 3]);
        let s = act(&t.next, Action::Approve, 3).expect("approver 3");
        assert_eq!(s.step, Some(2), "step b is skipped");
        assert_eq!(act(&s, Action::Approve, 2), Err(Refusal::AlreadyDecided), "a late click on step a");
        let s = act(&s, Action::Approve, 5).expect("approver 5");
        assert_eq!((s.status, s.step), (Status::Pending, Some(2)));
        assert_eq!(act(&s, Action::Approve, 5), Err(Refusal::AlreadyApproved));
        let s = act(&s, Action::Approve, 6).expect("approver 6");
        assert_eq!(s.status, Status::Approved);
        assert_eq!(act(&s, Action::Withdraw, SUBMITTER), Err(Refusal::Finished(Status::Approved)));
    }

    #[test]
    fn an_instance_whose_steps_all_skip_is_approved_at_once() {
        let t = submit(SUBMITTER, vec![step("a", Mode::Any, &[2], true)], 0);
        assert_eq!(t.next.status, Status::Approved);
        let topics: Vec<_> = t.events.iter().map(|e| e.topic).collect();
        assert_eq!(topics, ["approval.submitted", "approval.approved"]);
    }

    #[test]
    fn return_and_resubmit_start_again_from_the_first_step() {
        let t = submit(SUBMITTER, vec![step("a", Mode::Any, &[2], false), step("b", Mode::Any, &[3], false)], 0);
        let s = act(&t.next, Action::Approve, 2).expect("a");
        let s = act(&s, Action::Return, 3).expect("return");
        assert_eq!((s.status, s.step), (Status::Returned, None));
        assert_eq!(act(&s, Action::Approve, 3), Err(Refusal::WaitingForSubmitter));
        assert_eq!(act(&s, Action::Resubmit, 2), Err(Refusal::NotSubmitter));
        let s = act(&s, Action::Resubmit, SUBMITTER).expect("resubmit");
        assert_eq!((s.status, s.step), (Status::Pending, Some(0)));
    }

    #[test]
    fn urging_is_rate_limited() {
        let t = submit(SUBMITTER, vec![step("a", Mode::Any, &[2], false)], 0);
        let s = apply(&t.next, &Action::Urge, Actor::user(SUBMITTER, 1_000)).expect("urge").next;
        let again = apply(&s, &Action::Urge, Actor::user(SUBMITTER, 2_000));
        assert_eq!(again, Err(Refusal::TooSoon { retry_after_ms: URGE_INTERVAL_MS - 1_000 }));
        assert!(apply(&s, &Action::Urge, Actor::user(SUBMITTER, 1_000 + URGE_INTERVAL_MS)).is_ok());
        assert_eq!(apply(&s, &Action::Urge, Actor::user(2, 1_000 + URGE_INTERVAL_MS)), Err(Refusal::NotSubmitter));
    }

    #[test]
    fn transfer_hands_the_place_over() {
        let t = submit(SUBMITTER, vec![step("a", Mode::All, &[2, 3], false)], 0);
        assert!(matches!(act(&t.next, Action::Transfer { to: 3 }, 2), Err(Refusal::BadTarget(_))));
        let s = act(&t.next, Action::Transfer { to: 7 }, 2).expect("transfer");
        assert_eq!(s.steps[0].approvers, vec![7, 3]);
        assert_eq!(act(&s, Action::Approve, 2), Err(Refusal::NotApprover));
        assert!(s.participants.contains(&2) && s.participants.contains(&7));
    }

    #[test]
    fn deadlines_remind_and_escalate_once() {
        let mut a = step("a", Mode::Any, &[2], false);
        a.remind_after_hours = Some(1);
        a.deadline_hours = Some(4);
        a.escalate_to = Some(Escalation::ApproverManager);
        let t = submit(SUBMITTER, vec![a], 0);
        assert_eq!(t.next.remind_at(), Some(3_600_000));
        assert_eq!(t.next.escalate_at(), Some(4 * 3_600_000));
        assert_eq!(apply(&t.next, &Action::Remind, Actor::user(2, 0)), Err(Refusal::NotSystem));
        let s = apply(&t.next, &Action::Remind, Actor::system(0)).expect("remind").next;
        assert_eq!(s.remind_at(), None);
        assert!(apply(&s, &Action::Remind, Actor::system(0)).is_err());
        let e = apply(&s, &Action::Escalate { add: vec![9] }, Actor::system(0)).expect("escalate");
        assert_eq!(e.events[0].notify, vec![9]);
        assert_eq!(e.next.escalate_at(), None);
        assert!(apply(&e.next, &Action::Escalate { add: vec![8] }, Actor::system(0)).is_err());
        assert!(act(&e.next, Action::Approve, 9).is_ok(), "the added approver decides");
    }

    // --- Property tests against a reference model -------------------------------------------

    /// The reference: what an approval should look like, written as plainly as possible.
    #[derive(Debug, Clone)]
    struct Model {
        status: Status,
        step: Option<usize>,
        approvers: Vec<Vec<Id>>,
        modes: Vec<Mode>,
        skipped: Vec<bool>,
        approved: Vec<Id>,
    }

    impl Model {
        fn first_from(&mut self, from: usize) {
            self.approved.clear();
            self.step = (from..self.skipped.len()).find(|i| !self.skipped[*i]);
            self.status = if self.step.is_some() { Status::Pending } else { Status::Approved };
        }

        fn is_current_approver(&self, user: Id) -> bool {
            self.status == Status::Pending
                && self.step.is_some_and(|i| self.approvers[i].contains(&user) && !self.approved.contains(&user))
        }

        /// Applies an action; whether the model accepts it.
        fn apply(&mut self, action: &Action, user: Id) -> bool {
            let finished = matches!(self.status, Status::Approved | Status::Rejected | Status::Withdrawn);
            if finished {
                return false;
            }
            match action {
                Action::Approve => {
                    if !self.is_current_approver(user) {
                        return false;
                    }
                    let i = self.step.unwrap_or_default();
                    self.approved.push(user);
                    let all = self.approvers[i].iter().all(|a| self.approved.contains(a));
                    if self.modes[i] == Mode::Any || all {
                        self.first_from(i + 1);
                    }
                    true
                }
                Action::Reject | Action::Return => {
                    if !self.is_current_approver(user) {
                        return false;
                    }
                    self.status = if *action == Action::Reject { Status::Rejected } else { Status::Returned };
                    self.step = None;
                    self.approved.clear();
                    true
                }
                Action::Transfer { to } => {
                    if !self.is_current_approver(user) || *to == user {
                        return false;
                    }
                    let i = self.step.unwrap_or_default();
                    if self.approvers[i].contains(to) {
                        return false;
                    }
                    for a in &mut self.approvers[i] {
                        if *a == user {
                            *a = *to;
                        }
                    }
                    true
                }
                Action::Withdraw => {
                    if user != SUBMITTER {
                        return false;
                    }
                    self.status = Status::Withdrawn;
                    self.step = None;
                    true
                }
                Action::Resubmit => {
                    if user != SUBMITTER || self.status != Status::Returned {
                        return false;
                    }
                    self.first_from(0);
                    true
                }
                // Urge is rate limited by time; the sequences below act at distinct times far
                // apart, so the submitter may always urge a pending approval.
                Action::Urge => user == SUBMITTER && self.status == Status::Pending,
                Action::Remind | Action::Escalate { .. } => false,
            }
        }
    }

    fn steps_strategy() -> impl Strategy<Value = Vec<(bool, bool, Vec<Id>)>> {
        prop::collection::vec(
            (any::<bool>(), prop::bool::weighted(0.25), prop::collection::btree_set(2..7i64, 1..4)),
            1..5,
        )
        .prop_map(|v| v.into_iter().map(|(all, skipped, set)| (all, skipped, set.into_iter().collect())).collect())
    }

    fn action_strategy() -> impl Strategy<Value = (Action, Id)> {
        let action = prop_oneof![
            4 => Just(Action::Approve),
            1 => Just(Action::Reject),
            1 => Just(Action::Return),
            1 => (2..9i64).prop_map(|to| Action::Transfer { to }),
            1 => Just(Action::Urge),
            1 => Just(Action::Withdraw),
            2 => Just(Action::Resubmit),
        ];
        (action, 1..9i64)
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        #[test]
        fn the_machine_agrees_with_the_model(
            steps in steps_strategy(),
            actions in prop::collection::vec(action_strategy(), 0..40),
        ) {
            let defs: Vec<StepState> = steps
                .iter()
                .enumerate()
                .map(|(i, (all, skipped, approvers))| {
                    step(&format!("s{i}"), if *all { Mode::All } else { Mode::Any }, approvers, *skipped)
                })
                .collect();
            let t = submit(SUBMITTER, defs, 0);
            let mut state = t.next;
            let mut model = Model {
                status: Status::Pending,
                step: None,
                approvers: steps.iter().map(|s| s.2.clone()).collect(),
                modes: steps.iter().map(|s| if s.0 { Mode::All } else { Mode::Any }).collect(),
                skipped: steps.iter().map(|s| s.1).collect(),
                approved: Vec::new(),
            };
            model.first_from(0);
            let mut accepted = 1u32;
            for (n, (action, user)) in actions.iter().enumerate() {
                let at = (n as i64 + 1) * 2 * URGE_INTERVAL_MS;
                let before = state.clone();
                let result = apply(&before, action, Actor::user(*user, at));
                let model_accepts = model.apply(action, *user);
                prop_assert_eq!(result.is_ok(), model_accepts, "{:?} by {} on {:?}: {:?}", action, user, before, result);
                if let Ok(t) = result {
                    accepted += 1;
                    let next = t.next;
                    // Only the submitter withdraws, resubmits and urges.
                    if matches!(action, Action::Withdraw | Action::Resubmit | Action::Urge) {
                        prop_assert_eq!(*user, SUBMITTER);
                    }
                    // Only an approver still to decide the current step decides it.
                    if matches!(action, Action::Approve | Action::Reject | Action::Return | Action::Transfer { .. }) {
                        prop_assert!(before.waiting_for().contains(user));
                    }
                    // The step index never goes back, except by return and resubmission.
                    if let (Some(a), Some(b)) = (before.step, next.step)
                        && !matches!(action, Action::Resubmit)
                    {
                        prop_assert!(b >= a);
                    }
                    // Leaving an all-of step by approval needs every approver.
                    if *action == Action::Approve
                        && let Some(i) = before.step
                        && next.step != Some(i)
                        && before.steps[i].mode == Mode::All
                    {
                        let step = &next.steps[i];
                        let all_before: Vec<Id> = before.steps[i].approvers.clone();
                        let mut approved = before.steps[i].approved_by.clone();
                        approved.push(*user);
                        prop_assert!(all_before.iter().all(|a| approved.contains(a)), "{:?}", step);
                    }
                    // Every transition says something.
                    prop_assert!(!t.events.is_empty());
                    state = next;
                }
                prop_assert_eq!(state.status, model.status);
                prop_assert_eq!(state.step, model.step);
                prop_assert_eq!(state.actions, accepted, "one history entry per accepted action");
                // A pending instance always has someone to decide it.
                if state.status == Status::Pending {
                    prop_assert!(!state.waiting_for().is_empty());
                }
            }
            // A finished instance accepts nothing at all.
            if state.status.is_final() {
                for user in 1..9 {
                    for action in [Action::Approve, Action::Reject, Action::Return, Action::Urge, Action::Withdraw, Action::Resubmit, Action::Transfer { to: 8 }] {
                        prop_assert_eq!(apply(&state, &action, Actor::user(user, 0)), Err(Refusal::Finished(state.status)));
                    }
                }
            }
        }
    }
}
