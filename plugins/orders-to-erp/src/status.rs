//! Where an order stands, and which changes of status are allowed:
//!
//! ```text
//! draft ──submit──▶ pending ──approved──▶ approved ──▶ shipped ──▶ invoiced
//!   ▲  ▲               │  │                  │  └──────────────────▲
//!   │  └─withdrawn/────┘  └─rejected─▶ rejected          approved/shipped ──▶ cancelled (ERP)
//!   │    returned                         │
//!   └─────────── edit ────────────────────┘   draft/rejected ──▶ cancelled (in the CRM)
//! ```
//!
//! The CRM moves an order through approval; the ERP moves it on from `approved`. The ERP's
//! statuses are ordered (`approved` < `shipped` < `invoiced`), so that a callback for a status
//! the order has reached or passed (a repeated `shipped`, or `shipped` arriving after
//! `invoiced`) changes nothing and is answered as done.

use serde::{Deserialize, Serialize};

/// An order's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Draft,
    Pending,
    Approved,
    Rejected,
    Shipped,
    Invoiced,
    Cancelled,
}

impl Status {
    pub const ALL: [Status; 7] = [
        Status::Draft,
        Status::Pending,
        Status::Approved,
        Status::Rejected,
        Status::Shipped,
        Status::Invoiced,
        Status::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Draft => "draft",
            Status::Pending => "pending",
            Status::Approved => "approved",
            Status::Rejected => "rejected",
            Status::Shipped => "shipped",
            Status::Invoiced => "invoiced",
            Status::Cancelled => "cancelled",
        }
    }

    pub fn parse(text: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Whether lines, discount and notes may change: a draft, or a rejected order (which the
    /// change brings back to draft under a new version).
    pub fn is_editable(self) -> bool {
        matches!(self, Status::Draft | Status::Rejected)
    }

    /// Whether the order may be submitted for approval.
    pub fn can_submit(self) -> bool {
        self.is_editable()
    }

    /// Whether the CRM may cancel the order itself (before the ERP has it).
    pub fn can_cancel_in_crm(self) -> bool {
        self.is_editable()
    }

    /// The rank of the ERP's statuses: approved, shipped, invoiced.
    fn erp_rank(self) -> Option<u8> {
        match self {
            Status::Approved => Some(0),
            Status::Shipped => Some(1),
            Status::Invoiced => Some(2),
            _ => None,
        }
    }
}

/// What an ERP callback does to an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Callback {
    /// The order moves to the new status.
    Apply,
    /// The order is already there or past it: nothing changes, and the ERP is told it is done.
    AlreadyDone,
    /// The change is not allowed from where the order stands.
    Invalid,
}

/// What a callback asking for `to` does to an order in `from`. The ERP may report `shipped`,
/// `invoiced` or `cancelled` only.
pub fn erp_callback(from: Status, to: Status) -> Callback {
    match (from, to) {
        (Status::Cancelled, Status::Cancelled) => Callback::AlreadyDone,
        (Status::Approved | Status::Shipped, Status::Cancelled) => Callback::Apply,
        (_, Status::Shipped | Status::Invoiced) => match (from.erp_rank(), to.erp_rank()) {
            (Some(have), Some(want)) if have >= want => Callback::AlreadyDone,
            (Some(_), Some(_)) => Callback::Apply,
            _ => Callback::Invalid,
        },
        _ => Callback::Invalid,
    }
}

/// An outcome of the order's approval, as `workflow.completed` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Approved,
    Rejected,
    /// Withdrawn by the submitter, or returned for changes: the order is a draft again.
    BackToDraft,
}

impl Outcome {
    pub fn parse(text: &str) -> Option<Outcome> {
        match text {
            "approved" => Some(Outcome::Approved),
            "rejected" => Some(Outcome::Rejected),
            "withdrawn" | "returned" => Some(Outcome::BackToDraft),
            _ => None,
        }
    }

    /// The status the outcome gives a pending order.
    pub fn status(self) -> Status {
        match self {
            Outcome::Approved => Status::Approved,
            Outcome::Rejected => Status::Rejected,
            Outcome::BackToDraft => Status::Draft,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_read_and_write_as_their_names() {
        for status in Status::ALL {
            assert_eq!(Status::parse(status.as_str()), Some(status));
            assert_eq!(serde_json::to_value(status).ok(), Some(serde_json::json!(status.as_str())));
        }
        assert_eq!(Status::parse("Draft"), None);
        assert_eq!(Status::parse(""), None);
    }

    #[test]
    fn only_drafts_and_rejected_orders_change_in_the_crm() {
        let editable: Vec<Status> = Status::ALL.into_iter().filter(|s| s.is_editable()).collect();
        assert_eq!(editable, [Status::Draft, Status::Rejected]);
        assert!(Status::Rejected.can_submit() && Status::Draft.can_cancel_in_crm());
        assert!(!Status::Pending.can_submit() && !Status::Approved.can_cancel_in_crm());
    }

    #[test]
    fn the_erp_moves_approved_orders_forward() {
        use Callback::*;
        use Status::*;
        let expected = [
            // (from, to, what happens)
            (Approved, Shipped, Apply),
            (Approved, Invoiced, Apply),
            (Approved, Cancelled, Apply),
            (Shipped, Invoiced, Apply),
            (Shipped, Cancelled, Apply),
            (Shipped, Shipped, AlreadyDone),
            (Invoiced, Invoiced, AlreadyDone),
            (Invoiced, Shipped, AlreadyDone),
            (Cancelled, Cancelled, AlreadyDone),
            (Invoiced, Cancelled, Invalid),
            (Cancelled, Shipped, Invalid),
            (Cancelled, Invoiced, Invalid),
            (Draft, Shipped, Invalid),
            (Pending, Shipped, Invalid),
            (Pending, Cancelled, Invalid),
            (Rejected, Invoiced, Invalid),
            (Draft, Cancelled, Invalid),
        ];
        for (from, to, what) in expected {
            assert_eq!(erp_callback(from, to), what, "{from:?} → {to:?}");
        }
        // The ERP cannot approve, reject or reopen anything.
        for from in Status::ALL {
            for to in [Draft, Pending, Approved, Rejected] {
                assert_eq!(erp_callback(from, to), Invalid, "{from:?} → {to:?}");
            }
        }
    }

    #[test]
    fn approval_outcomes_map_to_statuses() {
        assert_eq!(Outcome::parse("approved").map(Outcome::status), Some(Status::Approved));
        assert_eq!(Outcome::parse("rejected").map(Outcome::status), Some(Status::Rejected));
        assert_eq!(Outcome::parse("withdrawn").map(Outcome::status), Some(Status::Draft));
        assert_eq!(Outcome::parse("returned").map(Outcome::status), Some(Status::Draft));
        assert_eq!(Outcome::parse("pending"), None);
    }
}
