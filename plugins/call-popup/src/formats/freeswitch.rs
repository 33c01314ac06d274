//! FreeSWITCH: event-socket events in JSON (`event json …`), with the headers FreeSWITCH names.
//!
//! | `Event-Name` | becomes |
//! |---|---|
//! | `CHANNEL_CREATE`, `CHANNEL_PROGRESS` | ringing |
//! | `CHANNEL_ANSWER` | answered |
//! | `CHANNEL_HANGUP`, `CHANNEL_HANGUP_COMPLETE` | ended |
//! | anything else | acknowledged (202) and ignored |
//!
//! Only channels with `Call-Direction: inbound` count (the leg to the agent's phone is
//! `outbound` in FreeSWITCH's terms and would report the call twice); others are acknowledged
//! and ignored. The call is `Unique-ID`, the caller `Caller-Caller-ID-Number`, the extension
//! `Caller-Destination-Number`; `Event-Date-Timestamp` (microseconds) gives the time.

use super::{MAX_CALL_ID, MAX_EXTENSION, MAX_NUMBER, epoch_in, object, required_text, text};
use crate::call::Source;
use crate::event::{BadInput, CallEvent, EventKind, Parsed};

/// Reads an event-socket event.
pub fn parse(body: &[u8]) -> Result<Parsed, BadInput> {
    let o = object(body)?;
    let name = required_text(&o, "Event-Name", 64)?;
    let kind = match name.to_ascii_uppercase().as_str() {
        "CHANNEL_CREATE" | "CHANNEL_PROGRESS" => EventKind::Ringing,
        "CHANNEL_ANSWER" => EventKind::Answered,
        "CHANNEL_HANGUP" | "CHANNEL_HANGUP_COMPLETE" => EventKind::Ended,
        _ => return Ok(Parsed::Ignored(format!("the event {name} says nothing the plugin follows"))),
    };
    match text(&o, "Call-Direction", 20)? {
        Some(direction) if direction.eq_ignore_ascii_case("inbound") => {}
        Some(direction) => return Ok(Parsed::Ignored(format!("only inbound channels count, this one is {direction}"))),
        None => return Ok(Parsed::Ignored("only inbound channels count, this one says no Call-Direction".into())),
    }
    Ok(Parsed::Event(CallEvent {
        kind,
        call_id: required_text(&o, "Unique-ID", MAX_CALL_ID)?,
        from: text(&o, "Caller-Caller-ID-Number", MAX_NUMBER)?,
        extension: text(&o, "Caller-Destination-Number", MAX_EXTENSION)?,
        at: epoch_in(&o, "Event-Date-Timestamp", 1000.0),
        source: Source::Freeswitch,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(body: &str) -> CallEvent {
        match parse(body.as_bytes()) {
            Ok(Parsed::Event(e)) => e,
            other => panic!("{body}: {other:?}"),
        }
    }

    #[test]
    fn an_inbound_channel_rings_answers_and_hangs_up() {
        let base = r#""Call-Direction":"inbound","Unique-ID":"7f4de4bc-1c2f-4b8e-9a3e-000000000001",
                      "Caller-Caller-ID-Number":"+86 138 1234 5678","Caller-Destination-Number":"8001",
                      "Event-Date-Timestamp":"1700000000250000""#;
        let ringing = event(&format!(r#"{{"Event-Name":"CHANNEL_CREATE",{base}}}"#));
        assert_eq!(
            ringing,
            CallEvent {
                kind: EventKind::Ringing,
                call_id: "7f4de4bc-1c2f-4b8e-9a3e-000000000001".into(),
                from: Some("+86 138 1234 5678".into()),
                extension: Some("8001".into()),
                at: Some(1_700_000_000_250),
                source: Source::Freeswitch,
            }
        );
        assert_eq!(event(&format!(r#"{{"Event-Name":"CHANNEL_PROGRESS",{base}}}"#)).kind, EventKind::Ringing);
        assert_eq!(event(&format!(r#"{{"Event-Name":"CHANNEL_ANSWER",{base}}}"#)).kind, EventKind::Answered);
        assert_eq!(event(&format!(r#"{{"Event-Name":"CHANNEL_HANGUP",{base}}}"#)).kind, EventKind::Ended);
        assert_eq!(event(&format!(r#"{{"Event-Name":"CHANNEL_HANGUP_COMPLETE",{base}}}"#)).kind, EventKind::Ended);
    }

    #[test]
    fn outbound_legs_and_other_events_are_ignored() {
        let outbound = br#"{"Event-Name":"CHANNEL_CREATE","Call-Direction":"outbound","Unique-ID":"u2"}"#;
        assert!(matches!(parse(outbound), Ok(Parsed::Ignored(why)) if why.contains("outbound")));
        assert!(matches!(parse(br#"{"Event-Name":"CHANNEL_ANSWER","Unique-ID":"u2"}"#), Ok(Parsed::Ignored(_))));
        assert!(matches!(parse(br#"{"Event-Name":"HEARTBEAT"}"#), Ok(Parsed::Ignored(_))));
    }

    #[test]
    fn broken_events_are_refused_naming_the_field() {
        assert_eq!(parse(br#"{"Unique-ID":"u"}"#), Err(BadInput::invalid("Event-Name: required")));
        assert_eq!(
            parse(br#"{"Event-Name":"CHANNEL_CREATE","Call-Direction":"inbound"}"#),
            Err(BadInput::invalid("Unique-ID: required"))
        );
        assert_eq!(parse(b"Event-Name: CHANNEL_CREATE").map_err(|e| e.status), Err(400));
    }
}
