//! The `call` records: one per call the PBX reports, from its first event until it ends, linked
//! to the customer the number belongs to (which puts it on the customer's timeline).

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tessera_sdk::records::{self, Query, Typed};
use tessera_sdk::{Error, Id, Result};

/// The entity that stores calls.
pub const ENTITY: &str = "call";

/// Where a call stands. `missed` and `ended` are final: nothing a PBX reports later changes them
/// (see `machine`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ringing,
    Answered,
    Missed,
    Ended,
}

impl Status {
    pub const ALL: [Status; 4] = [Status::Ringing, Status::Answered, Status::Missed, Status::Ended];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ringing => "ringing",
            Status::Answered => "answered",
            Status::Missed => "missed",
            Status::Ended => "ended",
        }
    }

    pub fn parse(text: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

/// Who reported the call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// The native JSON format on `/calls`.
    #[default]
    Webhook,
    Asterisk,
    Freeswitch,
    /// A native telephony driver the operator installed, through the host.
    Driver,
    /// The "simulate call" form.
    Simulated,
}

/// The fields of a `call` record. The host answers every declared field, `null` where a record
/// has none, so fields that always have a value read `null` as their default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Call {
    /// The PBX's id of the call; unique, which is what makes a repeated event harmless.
    pub call_id: String,
    /// As the PBX sent it.
    #[serde(default, deserialize_with = "records::or_default")]
    pub number: String,
    /// As the host matches numbers (`+8613812345678`), or the digits when it is not a phone
    /// number the host knows.
    #[serde(default, deserialize_with = "records::or_default")]
    pub canonical: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extension: Option<String>,
    /// The agent the extension maps to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<Id>,
    pub status: Status,
    #[serde(default, deserialize_with = "records::or_default")]
    pub started_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answered_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_s: Option<i64>,
    /// The customer's contact the number belongs to, when it matched through a contact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact_id: Option<Id>,
    /// How many customers had the number when it rang.
    #[serde(default, deserialize_with = "records::or_default")]
    pub matches: i64,
    /// The linked customer's name, for lists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_name: Option<String>,
    /// The agent logged the call as an activity.
    #[serde(default, deserialize_with = "records::or_default")]
    pub logged: bool,
    /// A missed call was returned or dismissed.
    #[serde(default, deserialize_with = "records::or_default")]
    pub handled: bool,
    #[serde(default, deserialize_with = "records::or_default")]
    pub source: Source,
    /// The line on the customer's timeline.
    #[serde(default, deserialize_with = "records::or_default")]
    pub summary: String,
}

/// A stored call.
pub type Stored = Typed<Call>;

/// The call the PBX knows by `call_id`, if the plugin has seen it.
pub fn find_by_call_id(call_id: &str) -> Result<Option<Stored>> {
    let page = records::find(&Query::new(ENTITY).eq("call_id", call_id).limit(1))?;
    page.items.into_iter().next().map(|r| r.into_typed()).transpose()
}

/// One call, if the caller may see it.
pub fn get(id: Id) -> Result<Stored> {
    records::get_typed(ENTITY, id)
}

/// Stores a new call, linked to `customer` when the number is that customer's.
pub fn insert(call: &Call, customer: Option<Id>) -> Result<Stored> {
    records::insert_typed(ENTITY, call, customer)?.into_typed()
}

/// Changes the fields `patch` names; with `version`, only if nobody changed the call since it was
/// read (else `conflict`).
pub fn update(id: Id, patch: &Value, version: Option<i64>) -> Result<Stored> {
    records::update(ENTITY, id, &patch.to_string(), version)?.into_typed()
}

/// Links a call to the customer the user chose or created, moving it to their timeline, with
/// the name lists show and the contact the number belongs to.
pub fn link(id: Id, customer_id: Id, customer_name: &str, contact_id: Option<Id>) -> Result<Stored> {
    records::link(ENTITY, id, Some(customer_id))?;
    update(id, &json!({ "customer_name": customer_name, "contact_id": contact_id }), None)
}

/// The record id a page or an action names (`call=17`, an action's argument).
pub fn parse_id(text: Option<&str>) -> Result<Id> {
    text.map(str::trim)
        .and_then(|t| t.parse::<Id>().ok())
        .filter(|id| *id > 0)
        .ok_or_else(|| Error::not_found(format!("no call {:?}", text.unwrap_or_default())))
}

/// The digits of a number, full-width ones included: the canonical form of last resort.
pub fn digits_of(number: &str) -> String {
    number
        .chars()
        .filter_map(|c| match c {
            '0'..='9' => Some(c),
            '０'..='９' => char::from_digit(u32::from(c) - u32::from('０'), 10),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_stored_call_reads_nulls_as_defaults() {
        let fields = json!({
            "call_id": "1700000000.12", "number": "138 1234 5678", "canonical": null, "extension": "8001",
            "user_id": 4, "status": "ringing", "started_at": 1_000, "answered_at": null, "ended_at": null,
            "duration_s": null, "contact_id": null, "matches": null, "customer_name": null, "logged": null,
            "handled": false, "source": null, "summary": null,
        });
        let call: Call = serde_json::from_value(fields).expect("a call");
        assert_eq!((call.status, call.user_id, call.matches, call.logged), (Status::Ringing, Some(4), 0, false));
        assert_eq!((call.source, call.canonical.as_str()), (Source::Webhook, ""));
    }

    #[test]
    fn a_new_call_leaves_out_what_it_does_not_have() {
        let call = Call {
            call_id: "c1".into(),
            number: "8001".into(),
            canonical: "8001".into(),
            extension: None,
            user_id: None,
            status: Status::Missed,
            started_at: 5,
            answered_at: None,
            ended_at: Some(6),
            duration_s: None,
            contact_id: None,
            matches: 0,
            customer_name: None,
            logged: false,
            handled: false,
            source: Source::Freeswitch,
            summary: "s".into(),
        };
        let value = serde_json::to_value(&call).expect("json");
        assert_eq!(value["status"], "missed");
        assert_eq!(value["source"], "freeswitch");
        assert_eq!(value["ended_at"], 6);
        assert!(value.get("answered_at").is_none() && value.get("user_id").is_none(), "{value}");
        assert_eq!(value["handled"], false);
    }

    #[test]
    fn statuses_and_ids_parse_strictly() {
        assert_eq!(Status::parse("missed"), Some(Status::Missed));
        assert_eq!(Status::parse("Missed"), None);
        assert_eq!(parse_id(Some(" 17 ")), Ok(17));
        assert_eq!(parse_id(Some("x")).map_err(|e| e.kind()), Err("not-found"));
        assert_eq!(parse_id(Some("-3")).map_err(|e| e.kind()), Err("not-found"));
        assert_eq!(parse_id(None).map_err(|e| e.kind()), Err("not-found"));
    }

    #[test]
    fn digits_are_the_last_resort() {
        assert_eq!(digits_of("+86 (138) 1234-5678"), "8613812345678");
        assert_eq!(digits_of("１３８ 1234"), "1381234");
        assert_eq!(digits_of("anonymous"), "");
    }
}
