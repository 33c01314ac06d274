//! The formats phone systems report calls in, each translated into a [`CallEvent`]: the
//! plugin's own JSON (`native`, on `/calls`, also what native drivers send), Asterisk AMI events
//! forwarded as JSON (`asterisk`) and FreeSWITCH event-socket events as JSON (`freeswitch`).
//! Parsing is pure, so every mapping is tested without a host.
//!
//! [`CallEvent`]: crate::event::CallEvent

pub mod asterisk;
pub mod freeswitch;
pub mod native;

use serde_json::{Map, Value};

use crate::event::BadInput;

/// Longest call id, number and extension accepted.
pub const MAX_CALL_ID: usize = 200;
pub const MAX_NUMBER: usize = 64;
pub const MAX_EXTENSION: usize = 32;

/// The body as a JSON object: 400 when it is not JSON, 422 when it is JSON but no object.
pub fn object(body: &[u8]) -> Result<Map<String, Value>, BadInput> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(BadInput::invalid("the body must be a JSON object")),
        Err(e) => Err(BadInput::malformed(format!("the body is not JSON: {e}"))),
    }
}

/// A field by name, ignoring ASCII case: forwarders of AMI and event-socket events do not all
/// keep the case the PBX used.
pub fn field<'a>(object: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    object.get(name).or_else(|| object.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v))
}

/// A text field: a string (trimmed; empty is absent) or a number written as text, at most `max`
/// characters. Anything else is refused naming the field.
pub fn text(object: &Map<String, Value>, name: &str, max: usize) -> Result<Option<String>, BadInput> {
    let value = match field(object, name) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(s)) => s.trim().to_owned(),
        Some(Value::Number(n)) => n.to_string(),
        Some(other) => return Err(BadInput::invalid(format!("{name}: must be text, not {}", kind_of(other)))),
    };
    if value.chars().count() > max {
        return Err(BadInput::invalid(format!("{name}: at most {max} characters")));
    }
    Ok((!value.is_empty()).then_some(value))
}

/// The first of several text fields that has a value (`DestExten`, else `DestCallerIDNum`).
pub fn first_text(object: &Map<String, Value>, names: &[&str], max: usize) -> Result<Option<String>, BadInput> {
    for name in names {
        if let Some(value) = text(object, name, max)? {
            return Ok(Some(value));
        }
    }
    Ok(None)
}

/// A required text field.
pub fn required_text(object: &Map<String, Value>, name: &str, max: usize) -> Result<String, BadInput> {
    text(object, name, max)?.ok_or_else(|| BadInput::invalid(format!("{name}: required")))
}

/// A timestamp in some unit as text or a number (`"1700000000.123456"` seconds for Asterisk,
/// `"1700000000123456"` microseconds for FreeSWITCH), in milliseconds; absent or unreadable is
/// `None`, since PBXs add these fields only when configured to and "now" is a fine stand-in.
pub fn epoch_in(object: &Map<String, Value>, name: &str, per_ms: f64) -> Option<i64> {
    let value = match field(object, name)? {
        Value::String(s) => s.trim().parse::<f64>().ok()?,
        Value::Number(n) => n.as_f64()?,
        _ => return None,
    };
    let ms = value / per_ms;
    // Only instants between 2001 and 2286 are taken for what they say.
    (ms.is_finite() && (1e12..1e13).contains(&ms)).then(|| ms.round() as i64)
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "true or false",
        Value::Number(_) => "a number",
        Value::String(_) => "text",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn obj(value: Value) -> Map<String, Value> {
        value.as_object().cloned().expect("an object")
    }

    #[test]
    fn bodies_that_are_not_json_objects_are_refused_with_the_right_status() {
        assert_eq!(object(b"{\"a\":1").map_err(|e| e.status), Err(400));
        assert_eq!(object(b"").map_err(|e| e.status), Err(400));
        assert_eq!(object(b"[1,2]").map_err(|e| e.status), Err(422));
        assert!(object(b"{}").is_ok());
    }

    #[test]
    fn text_fields_take_strings_and_numbers_and_name_the_field_otherwise() {
        let o =
            obj(json!({ "from": " 138 1234 5678 ", "Ext": 8001, "empty": "  ", "bad": [1], "long": "x".repeat(65) }));
        assert_eq!(text(&o, "from", 64), Ok(Some("138 1234 5678".into())));
        assert_eq!(text(&o, "ext", 64), Ok(Some("8001".into())), "case does not matter");
        assert_eq!(text(&o, "empty", 64), Ok(None));
        assert_eq!(text(&o, "missing", 64), Ok(None));
        assert_eq!(text(&o, "bad", 64), Err(BadInput::invalid("bad: must be text, not a list")));
        assert_eq!(text(&o, "long", 64), Err(BadInput::invalid("long: at most 64 characters")));
        assert_eq!(required_text(&o, "missing", 64), Err(BadInput::invalid("missing: required")));
        assert_eq!(first_text(&o, &["empty", "Ext"], 64), Ok(Some("8001".into())));
    }

    #[test]
    fn epoch_timestamps_in_other_units_become_milliseconds() {
        let o = obj(json!({ "s": "1700000000.123456", "us": "1700000000123456", "n": 1_700_000_000, "junk": "soon" }));
        assert_eq!(epoch_in(&o, "s", 0.001), Some(1_700_000_000_123));
        assert_eq!(epoch_in(&o, "us", 1000.0), Some(1_700_000_000_123));
        assert_eq!(epoch_in(&o, "n", 0.001), Some(1_700_000_000_000));
        assert_eq!(epoch_in(&o, "junk", 0.001), None);
        assert_eq!(epoch_in(&o, "n", 1000.0), None, "far too early to be real");
        assert_eq!(epoch_in(&o, "missing", 1.0), None);
    }
}
