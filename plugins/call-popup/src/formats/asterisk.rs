//! Asterisk: AMI events forwarded as JSON objects, with the keys AMI gives them (any case).
//!
//! | AMI event | becomes |
//! |---|---|
//! | `DialBegin` | ringing |
//! | `DialEnd` with `DialStatus: ANSWER` | answered |
//! | `DialEnd` with any other status (`NOANSWER`, `BUSY`, `CANCEL`, `CHANUNAVAIL`, …) | ended |
//! | `Hangup` | ended |
//! | anything else | acknowledged (202) and ignored |
//!
//! The call is `Linkedid` (the same on every channel of the call), else `Uniqueid`; the caller
//! `CallerIDNum`; the extension `DestExten`, else `DestCallerIDNum`. `Timestamp` (sent with
//! `timestampevents = yes`) gives the time, else now.

use super::{MAX_CALL_ID, MAX_EXTENSION, MAX_NUMBER, epoch_in, first_text, object, required_text, text};
use crate::call::Source;
use crate::event::{BadInput, CallEvent, EventKind, Parsed};

/// Reads a forwarded AMI event.
pub fn parse(body: &[u8]) -> Result<Parsed, BadInput> {
    let o = object(body)?;
    let event = required_text(&o, "Event", 64)?;
    let kind = if event.eq_ignore_ascii_case("DialBegin") {
        EventKind::Ringing
    } else if event.eq_ignore_ascii_case("DialEnd") {
        let status = required_text(&o, "DialStatus", 32)?;
        if status.eq_ignore_ascii_case("ANSWER") { EventKind::Answered } else { EventKind::Ended }
    } else if event.eq_ignore_ascii_case("Hangup") {
        EventKind::Ended
    } else {
        return Ok(Parsed::Ignored(format!("the AMI event {event} says nothing the plugin follows")));
    };
    let call_id = first_text(&o, &["Linkedid", "Uniqueid"], MAX_CALL_ID)?
        .ok_or_else(|| BadInput::invalid("Linkedid: required (or Uniqueid)"))?;
    Ok(Parsed::Event(CallEvent {
        kind,
        call_id,
        from: text(&o, "CallerIDNum", MAX_NUMBER)?,
        extension: first_text(&o, &["DestExten", "DestCallerIDNum"], MAX_EXTENSION)?,
        at: epoch_in(&o, "Timestamp", 0.001),
        source: Source::Asterisk,
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
    fn dial_begin_rings_the_destination_extension() {
        let e = event(
            r#"{"Event":"DialBegin","Privilege":"call,all","Channel":"PJSIP/trunk-00000001","CallerIDNum":"13812345678",
                "Uniqueid":"1700000000.1","Linkedid":"1700000000.0","DestChannel":"PJSIP/8001-00000002",
                "DestCallerIDNum":"8001","DestExten":"s","Timestamp":"1700000000.250000"}"#,
        );
        assert_eq!(
            e,
            CallEvent {
                kind: EventKind::Ringing,
                call_id: "1700000000.0".into(),
                from: Some("13812345678".into()),
                extension: Some("s".into()),
                at: Some(1_700_000_000_250),
                source: Source::Asterisk,
            }
        );
        let e = event(r#"{"event":"dialbegin","calleridnum":"1","uniqueid":"9.9","destcalleridnum":"8002"}"#);
        assert_eq!((e.call_id.as_str(), e.from.as_deref()), ("9.9", Some("1")), "keys in any case");
        assert_eq!((e.extension.as_deref(), e.at), (Some("8002"), None));
    }

    #[test]
    fn dial_end_answers_or_ends_by_its_status() {
        let answered = event(r#"{"Event":"DialEnd","DialStatus":"ANSWER","Linkedid":"L1","CallerIDNum":"138"}"#);
        assert_eq!((answered.kind, answered.call_id.as_str()), (EventKind::Answered, "L1"));
        for status in ["NOANSWER", "BUSY", "CANCEL", "CHANUNAVAIL", "CONGESTION"] {
            let e = event(&format!(r#"{{"Event":"DialEnd","DialStatus":"{status}","Linkedid":"L1"}}"#));
            assert_eq!(e.kind, EventKind::Ended, "{status}");
        }
        assert_eq!(event(r#"{"Event":"Hangup","Uniqueid":"U1","Cause":"16"}"#).kind, EventKind::Ended);
    }

    #[test]
    fn other_events_are_ignored_and_broken_ones_refused() {
        assert!(matches!(parse(br#"{"Event":"Newchannel","Linkedid":"L1"}"#), Ok(Parsed::Ignored(_))));
        assert!(matches!(parse(br#"{"Event":"PeerStatus"}"#), Ok(Parsed::Ignored(_))));
        assert_eq!(parse(br#"{"Linkedid":"L1"}"#), Err(BadInput::invalid("Event: required")));
        assert_eq!(parse(br#"{"Event":"DialEnd","Linkedid":"L1"}"#), Err(BadInput::invalid("DialStatus: required")));
        assert_eq!(
            parse(br#"{"Event":"DialBegin","CallerIDNum":"138"}"#),
            Err(BadInput::invalid("Linkedid: required (or Uniqueid)"))
        );
        assert_eq!(parse(b"Event: DialBegin\r\n").map_err(|e| e.status), Err(400));
    }
}
