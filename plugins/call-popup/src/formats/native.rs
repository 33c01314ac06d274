//! The plugin's own format, on `/calls`, for any phone system or middleware that can post JSON,
//! and what the host sends for native telephony drivers:
//!
//! ```json
//! {"event": "ringing", "call_id": "a1b2", "from": "138 1234 5678", "extension": "8001",
//!  "direction": "inbound", "at": "2026-12-01T09:30:00+08:00"}
//! ```
//!
//! `event` and `call_id` are required; `from` too when the event is the first the plugin hears
//! of the call (checked by the intake, which knows). `direction` defaults to `inbound`, and
//! outbound calls are acknowledged and ignored. `at` is RFC 3339 or milliseconds since the
//! epoch, and defaults to now.

use serde_json::Value;

use super::{MAX_CALL_ID, MAX_EXTENSION, MAX_NUMBER, field, object, required_text, text};
use crate::call::Source;
use crate::event::{BadInput, CallEvent, EventKind, Parsed};
use tessera_sdk::time;

/// Reads a native event; `source` is `webhook`, or `driver` when the host relays a driver.
pub fn parse(body: &[u8], source: Source) -> Result<Parsed, BadInput> {
    let o = object(body)?;
    let kind = match text(&o, "event", 20)?.as_deref() {
        Some("ringing") => EventKind::Ringing,
        Some("answered") => EventKind::Answered,
        Some("ended") => EventKind::Ended,
        Some(other) => {
            return Err(BadInput::invalid(format!("event: {other:?} is not one of ringing, answered, ended")));
        }
        None => return Err(BadInput::invalid("event: required, one of ringing, answered, ended")),
    };
    match text(&o, "direction", 20)?.as_deref() {
        None | Some("inbound") => {}
        Some("outbound") => return Ok(Parsed::Ignored("outbound calls are not popped up".into())),
        Some(other) => return Err(BadInput::invalid(format!("direction: {other:?} is not inbound or outbound"))),
    }
    let at = match field(&o, "at") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(time::parse_rfc3339(s).ok_or_else(|| {
            BadInput::invalid(format!("at: {s:?} is not an RFC 3339 time such as 2026-12-01T09:30:00+08:00"))
        })?),
        Some(Value::Number(n)) => Some(
            n.as_i64()
                .filter(|ms| *ms >= 0)
                .ok_or_else(|| BadInput::invalid(format!("at: {n} is not a whole number of milliseconds")))?,
        ),
        Some(_) => {
            return Err(BadInput::invalid("at: an RFC 3339 time or milliseconds since the epoch"));
        }
    };
    Ok(Parsed::Event(CallEvent {
        kind,
        call_id: required_text(&o, "call_id", MAX_CALL_ID)?,
        from: text(&o, "from", MAX_NUMBER)?,
        extension: text(&o, "extension", MAX_EXTENSION)?,
        at,
        source,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(body: &str) -> CallEvent {
        match parse(body.as_bytes(), Source::Webhook) {
            Ok(Parsed::Event(e)) => e,
            other => panic!("{body}: {other:?}"),
        }
    }

    fn refused(body: &str) -> BadInput {
        parse(body.as_bytes(), Source::Webhook).expect_err(body)
    }

    #[test]
    fn a_ringing_event_reads_every_field() {
        let e = event(
            r#"{"event":"ringing","call_id":"a1","from":"138 1234 5678","extension":"8001","direction":"inbound","at":"2026-12-01T09:30:00+08:00"}"#,
        );
        assert_eq!(
            e,
            CallEvent {
                kind: EventKind::Ringing,
                call_id: "a1".into(),
                from: Some("138 1234 5678".into()),
                extension: Some("8001".into()),
                at: Some(1_796_088_600_000),
                source: Source::Webhook,
            }
        );
    }

    #[test]
    fn optional_fields_default() {
        let e = event(r#"{"event":"ended","call_id":42,"at":1796088600000}"#);
        assert_eq!((e.kind, e.call_id.as_str(), e.at), (EventKind::Ended, "42", Some(1_796_088_600_000)));
        assert_eq!((e.from, e.extension), (None, None));
        assert_eq!(event(r#"{"event":"answered","call_id":"x"}"#).at, None);
        let driver = parse(br#"{"event":"answered","call_id":"x"}"#, Source::Driver);
        assert!(matches!(driver, Ok(Parsed::Event(CallEvent { source: Source::Driver, .. }))));
    }

    #[test]
    fn outbound_calls_are_acknowledged_and_ignored() {
        let parsed =
            parse(br#"{"event":"ringing","call_id":"o1","from":"8001","direction":"outbound"}"#, Source::Webhook);
        assert!(matches!(parsed, Ok(Parsed::Ignored(_))), "{parsed:?}");
    }

    #[test]
    fn bad_input_is_refused_naming_the_field() {
        assert_eq!(refused("not json").status, 400);
        assert_eq!(refused(r#"{"event":"ringing","#).status, 400);
        assert_eq!(refused(r#""ringing""#), BadInput::invalid("the body must be a JSON object"));
        assert_eq!(
            refused(r#"{"call_id":"a"}"#),
            BadInput::invalid("event: required, one of ringing, answered, ended")
        );
        assert!(refused(r#"{"event":"hold","call_id":"a"}"#).message.starts_with("event: \"hold\""));
        assert_eq!(refused(r#"{"event":"ringing","from":"138"}"#), BadInput::invalid("call_id: required"));
        assert_eq!(refused(r#"{"event":"ringing","call_id":"  "}"#), BadInput::invalid("call_id: required"));
        assert!(
            refused(r#"{"event":"ringing","call_id":"a","at":"yesterday"}"#).message.starts_with("at: \"yesterday\"")
        );
        assert!(refused(r#"{"event":"ringing","call_id":"a","at":-5}"#).message.starts_with("at: -5"));
        assert!(refused(r#"{"event":"ringing","call_id":"a","at":1.5}"#).message.starts_with("at: 1.5"));
        assert!(
            refused(r#"{"event":"ringing","call_id":"a","direction":"sideways"}"#).message.starts_with("direction:")
        );
        assert_eq!(
            refused(r#"{"event":"ringing","call_id":"a","from":{"n":1}}"#).message,
            "from: must be text, not an object"
        );
        assert_eq!(refused(&format!(r#"{{"event":"ringing","call_id":"{}"}}"#, "x".repeat(201))).status, 422);
    }
}
