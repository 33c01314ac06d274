//! The life of a call, as a pure function of what is stored and what the PBX reports next:
//!
//! ```text
//!            ringing            answered             ended
//! (none) ───────────▶ ringing ───────────▶ answered ────────▶ ended (with duration)
//!    │                   │ ended
//!    │                   └────────────────────────────────────▶ missed
//!    ├─ answered ▶ answered  (a PBX that reports no ringing)
//!    └─ ended ───▶ missed
//! ```
//!
//! Every other event changes nothing: PBXs repeat themselves (a hangup per channel, a ringing per
//! retry), and events arrive late or out of order; `missed` and `ended` are final. So a repeated
//! ringing never pops up twice, and only the first `ended` of a call that was never answered
//! tells the agent about a missed call.

use serde_json::{Value, json};

use crate::call::{Call, Status};
use crate::event::EventKind;
use crate::text;

/// What to do with one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// The first event of the call: store it.
    Create(Start),
    /// A later event that moves the call on.
    Change(Change),
    /// A repeated, late or out-of-order event.
    Unchanged,
}

/// A call's first state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Start {
    pub status: Status,
    pub started_at: i64,
    pub answered_at: Option<i64>,
    pub ended_at: Option<i64>,
    /// Show the agent the popup: the call is ringing or in progress.
    pub popup: bool,
    /// Tell the agent about a missed call.
    pub missed: bool,
}

/// How a stored call moves on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub status: Status,
    pub answered_at: Option<i64>,
    pub ended_at: Option<i64>,
    pub duration_s: Option<i64>,
    /// Tell the agent about a missed call.
    pub missed: bool,
}

impl Change {
    /// The fields to update, with the call's new timeline line.
    pub fn patch(&self, number: &str) -> Value {
        let mut patch = json!({
            "status": self.status.as_str(),
            "summary": text::summary(number, self.status, self.duration_s),
        });
        for (name, value) in
            [("answered_at", self.answered_at), ("ended_at", self.ended_at), ("duration_s", self.duration_s)]
        {
            if let (Some(value), Some(fields)) = (value, patch.as_object_mut()) {
                fields.insert(name.to_owned(), value.into());
            }
        }
        patch
    }
}

/// The step an event of kind `kind` at `at` (ms) takes on the call as stored, if it is.
pub fn step(existing: Option<&Call>, kind: EventKind, at: i64) -> Step {
    let Some(call) = existing else {
        return Step::Create(match kind {
            EventKind::Ringing => Start {
                status: Status::Ringing,
                started_at: at,
                answered_at: None,
                ended_at: None,
                popup: true,
                missed: false,
            },
            EventKind::Answered => Start {
                status: Status::Answered,
                started_at: at,
                answered_at: Some(at),
                ended_at: None,
                popup: true,
                missed: false,
            },
            EventKind::Ended => Start {
                status: Status::Missed,
                started_at: at,
                answered_at: None,
                ended_at: Some(at),
                popup: false,
                missed: true,
            },
        });
    };
    match (call.status, kind) {
        (Status::Ringing, EventKind::Answered) => Step::Change(Change {
            status: Status::Answered,
            answered_at: Some(at.max(call.started_at)),
            ended_at: None,
            duration_s: None,
            missed: false,
        }),
        (Status::Ringing, EventKind::Ended) => Step::Change(Change {
            status: Status::Missed,
            answered_at: None,
            ended_at: Some(at.max(call.started_at)),
            duration_s: None,
            missed: true,
        }),
        (Status::Answered, EventKind::Ended) => {
            let answered = call.answered_at.unwrap_or(call.started_at);
            let ended = at.max(answered);
            Step::Change(Change {
                status: Status::Ended,
                answered_at: None,
                ended_at: Some(ended),
                duration_s: Some((ended - answered) / 1000),
                missed: false,
            })
        }
        _ => Step::Unchanged,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::call::Source;

    fn stored(status: Status, started_at: i64, answered_at: Option<i64>) -> Call {
        Call {
            call_id: "c1".into(),
            number: "138 1234 5678".into(),
            canonical: "+8613812345678".into(),
            extension: Some("8001".into()),
            user_id: Some(4),
            status,
            started_at,
            answered_at,
            ended_at: None,
            duration_s: None,
            contact_id: None,
            matches: 1,
            customer_name: None,
            logged: false,
            handled: false,
            source: Source::Webhook,
            summary: String::new(),
        }
    }

    fn change(step: Step) -> Change {
        match step {
            Step::Change(change) => change,
            other => panic!("expected a change, got {other:?}"),
        }
    }

    #[test]
    fn the_first_ringing_creates_the_call_and_pops_up() {
        let Step::Create(start) = step(None, EventKind::Ringing, 1_000) else { panic!("a new call") };
        assert_eq!((start.status, start.started_at, start.popup, start.missed), (Status::Ringing, 1_000, true, false));
    }

    #[test]
    fn a_call_answered_then_ended_has_its_duration() {
        let ringing = stored(Status::Ringing, 1_000, None);
        let answered = change(step(Some(&ringing), EventKind::Answered, 6_000));
        assert_eq!((answered.status, answered.answered_at, answered.missed), (Status::Answered, Some(6_000), false));

        let talking = stored(Status::Answered, 1_000, Some(6_000));
        let ended = change(step(Some(&talking), EventKind::Ended, 131_900));
        assert_eq!((ended.status, ended.ended_at, ended.duration_s), (Status::Ended, Some(131_900), Some(125)));
        assert!(!ended.missed);
        assert_eq!(
            ended.patch("138 1234 5678"),
            json!({
                "status": "ended", "ended_at": 131_900, "duration_s": 125,
                "summary": "来电 138 1234 5678 · 通话 2 分 05 秒 (incoming call, talked 2 min 05 s)",
            })
        );
    }

    #[test]
    fn a_call_that_ends_without_an_answer_is_missed() {
        let ringing = stored(Status::Ringing, 1_000, None);
        let missed = change(step(Some(&ringing), EventKind::Ended, 21_000));
        assert_eq!(
            (missed.status, missed.ended_at, missed.duration_s, missed.missed),
            (Status::Missed, Some(21_000), None, true)
        );
        assert_eq!(missed.patch("8001")["summary"], "来电 8001 · 未接 (incoming call, missed)");
    }

    #[test]
    fn repeated_late_and_out_of_order_events_change_nothing() {
        let cases = [
            (Status::Ringing, EventKind::Ringing),
            (Status::Answered, EventKind::Ringing),
            (Status::Answered, EventKind::Answered),
            (Status::Missed, EventKind::Ringing),
            (Status::Missed, EventKind::Answered),
            (Status::Missed, EventKind::Ended),
            (Status::Ended, EventKind::Ringing),
            (Status::Ended, EventKind::Answered),
            (Status::Ended, EventKind::Ended),
        ];
        for (status, kind) in cases {
            assert_eq!(
                step(Some(&stored(status, 1_000, Some(2_000))), kind, 9_000),
                Step::Unchanged,
                "{status:?} + {kind:?}"
            );
        }
    }

    #[test]
    fn a_pbx_that_reports_no_ringing_still_gets_its_call() {
        let Step::Create(answered) = step(None, EventKind::Answered, 5_000) else { panic!("a new call") };
        assert_eq!((answered.status, answered.answered_at, answered.popup), (Status::Answered, Some(5_000), true));
        let Step::Create(ended) = step(None, EventKind::Ended, 5_000) else { panic!("a new call") };
        assert_eq!(
            (ended.status, ended.ended_at, ended.popup, ended.missed),
            (Status::Missed, Some(5_000), false, true)
        );
    }

    #[test]
    fn clocks_that_disagree_never_make_time_run_backwards() {
        let talking = stored(Status::Answered, 1_000, Some(6_000));
        let ended = change(step(Some(&talking), EventKind::Ended, 4_000));
        assert_eq!((ended.ended_at, ended.duration_s), (Some(6_000), Some(0)));
        let ringing = stored(Status::Ringing, 1_000, None);
        assert_eq!(change(step(Some(&ringing), EventKind::Answered, 500)).answered_at, Some(1_000));
    }
}
