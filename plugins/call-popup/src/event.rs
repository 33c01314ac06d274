//! A call event, whichever format it came in: what the state machine (`machine`) and the intake
//! (`intake`) work from. The formats (`formats`) only translate into it.

use crate::call::Source;

/// What happened to the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// The agent's phone rings.
    Ringing,
    /// The agent picked up.
    Answered,
    /// The call is over: hung up, not answered, busy, cancelled.
    Ended,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Ringing => "ringing",
            EventKind::Answered => "answered",
            EventKind::Ended => "ended",
        }
    }
}

/// One event of one call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallEvent {
    pub kind: EventKind,
    /// The PBX's id of the call, the same for all its events.
    pub call_id: String,
    /// The caller's number, as received. Events after the first may leave it out.
    pub from: Option<String>,
    /// The extension that rings.
    pub extension: Option<String>,
    /// When it happened (ms since the epoch); `None` for "now".
    pub at: Option<i64>,
    pub source: Source,
}

/// What a request body says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// An event of an incoming call.
    Event(CallEvent),
    /// Something the plugin does not act on (an outbound call, another AMI event), and why; the
    /// sender gets a 202 so that it does not retry.
    Ignored(String),
}

/// A body the plugin cannot use: 400 when it is not JSON, 422 when a field is wrong. The message
/// names the field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadInput {
    pub status: u16,
    pub message: String,
}

impl BadInput {
    /// The body is not JSON at all.
    pub fn malformed(message: impl Into<String>) -> BadInput {
        BadInput { status: 400, message: message.into() }
    }

    /// The JSON is fine but a field is missing or wrong.
    pub fn invalid(message: impl Into<String>) -> BadInput {
        BadInput { status: 422, message: message.into() }
    }
}
