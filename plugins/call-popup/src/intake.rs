//! Taking in one call event, from a webhook, a native driver or the "simulate call" form: the
//! state machine (`machine`) says what to do, and this module does it with as few host calls as
//! it can, because the time from the PBX's event to the agent's popup is what users feel
//! (the goal is 100 ms at p99). A first ringing costs six calls: the call by its id, the
//! extension's user, the canonical number, the customers with that number, storing the call,
//! and the popup; later events cost two or three.
//!
//! Two events of one call may arrive at once (a PBX posting ringing and answered in parallel):
//! the unique call id makes the second insert a conflict, and a version check makes the second
//! update one, and either way the event is applied again to what is stored now.

use tessera_sdk::customers;
use tessera_sdk::notify::{self, Message, Popup};
use tessera_sdk::{Error, Id, Result, log};

use crate::call::{self, Call, Status, Stored};
use crate::event::CallEvent;
use crate::extensions;
use crate::machine::{self, Change, Start, Step};
use crate::matching::{self, Candidate};
use crate::text::{self, Text};

/// Where the missed-call notices link: the list of missed calls.
pub const MISSED_LINK: &str = "/p/call-popup/missed";
/// Attempts at applying one event when racing events of the same call.
const ATTEMPTS: usize = 3;

/// Who sees the popup of a new call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// The user the event's extension maps to, if any.
    ByExtension,
    /// This user (the simulation, to the user who runs it or to a checked extension's user).
    To(Id),
}

/// What became of an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// The call's record.
    pub call: Id,
    pub status: Status,
    /// How many customers the number matched when it rang.
    pub matches: i64,
    /// How many users the popup reached (0 when nothing popped up).
    pub popups: u32,
    /// The agent of the call.
    pub agent: Option<Id>,
}

impl Received {
    fn of(stored: &Stored, popups: u32) -> Received {
        Received {
            call: stored.id,
            status: stored.fields.status,
            matches: stored.fields.matches,
            popups,
            agent: stored.fields.user_id,
        }
    }
}

/// Applies one event. `t` is the language of the popup and notices; `now` stands in for an
/// event without a time. An event that cannot start a call (no caller number) is `invalid`,
/// naming the field.
pub fn receive(t: Text, event: &CallEvent, route: Route, now: i64) -> Result<Received> {
    let at = event.at.unwrap_or(now);
    for _ in 0..ATTEMPTS {
        let existing = call::find_by_call_id(&event.call_id)?;
        let outcome = match (machine::step(existing.as_ref().map(|s| &s.fields), event.kind, at), existing) {
            (Step::Unchanged, Some(stored)) => Some(Received::of(&stored, 0)),
            (Step::Change(change), Some(stored)) => move_on(t, &stored, &change)?,
            (Step::Create(start), None) => start_call(t, event, &start, route)?,
            // The machine creates exactly when nothing is stored.
            (step, stored) => {
                return Err(Error::internal(format!("the call {} took {step:?} with {stored:?}", event.call_id)));
            }
        };
        if let Some(received) = outcome {
            return Ok(received);
        }
    }
    Err(Error::conflict(format!("the call {} kept changing under this event; send it again", event.call_id)))
}

/// Stores a new call and pops it up; `None` when the same call was stored meanwhile.
fn start_call(t: Text, event: &CallEvent, start: &Start, route: Route) -> Result<Option<Received>> {
    let number = event.from.clone().ok_or_else(|| {
        Error::invalid(format!(
            "from: required, since this {} event is the first the plugin hears of call {}",
            event.kind.as_str(),
            event.call_id
        ))
    })?;
    let agent = match (route, &event.extension) {
        (Route::To(user), _) => Some(user),
        (Route::ByExtension, Some(extension)) => extensions::agent_for(extension)?,
        (Route::ByExtension, None) => None,
    };
    let canonical = customers::canonical_phone(&number);
    // Only a phone number can belong to a customer; the rest ("anonymous") saves the search.
    let candidates = match &canonical {
        Some(_) => match matching::find(&number) {
            Ok(found) => found,
            Err(Error::Denied(why)) => {
                log::warn(format!("call {}: cannot look the number up ({why}); recorded as unknown", event.call_id));
                Vec::new()
            }
            Err(e) => return Err(e),
        },
        None => Vec::new(),
    };
    let matches = i64::try_from(candidates.len()).unwrap_or(i64::MAX);
    let (customer, contact_id, customer_name) = match candidates.as_slice() {
        [only] => (Some(only.customer_id), only.contact.as_ref().map(|c| c.id), customer_name(only)),
        _ => (None, None, None),
    };
    let new = Call {
        call_id: event.call_id.clone(),
        canonical: canonical.unwrap_or_else(|| call::digits_of(&number)),
        extension: event.extension.clone(),
        user_id: agent,
        status: start.status,
        started_at: start.started_at,
        answered_at: start.answered_at,
        ended_at: start.ended_at,
        duration_s: None,
        contact_id,
        matches,
        customer_name,
        logged: false,
        handled: false,
        source: event.source,
        summary: text::summary(&number, start.status, None),
        number,
    };
    let stored = match call::insert(&new, customer) {
        Ok(stored) => stored,
        // The same call was stored by a racing event: apply this one to it.
        Err(Error::Conflict(_)) => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut popups = 0;
    if let Some(agent) = agent {
        if start.popup {
            popups = pop_up(t, &stored, agent, popup_body(t, &candidates));
        }
        if start.missed {
            tell_missed(t, &stored.fields, agent);
        }
    }
    Ok(Some(Received::of(&stored, popups)))
}

/// Moves a stored call on; `None` when it changed meanwhile.
fn move_on(t: Text, stored: &Stored, change: &Change) -> Result<Option<Received>> {
    let patch = change.patch(&stored.fields.number);
    let updated = match call::update(stored.id, &patch, Some(stored.version)) {
        Ok(updated) => updated,
        Err(Error::Conflict(_)) => return Ok(None),
        Err(e) => return Err(e),
    };
    if change.missed
        && let Some(agent) = updated.fields.user_id
    {
        tell_missed(t, &updated.fields, agent);
    }
    Ok(Some(Received::of(&updated, 0)))
}

/// The name of the one customer a number matched; read when the match came through a contact.
fn customer_name(candidate: &Candidate) -> Option<String> {
    if let Some(name) = candidate.name() {
        return Some(name.to_owned());
    }
    match customers::get(candidate.customer_id) {
        Ok(customer) => Some(customer.name),
        Err(e) => {
            log::warn(format!("customer {} matched a call but cannot be read: {e}", candidate.customer_id));
            None
        }
    }
}

/// The popup's one line: who is calling, as far as the plugin knows.
fn popup_body(t: Text, candidates: &[Candidate]) -> String {
    match candidates {
        [] => t.unknown_number(),
        [only] => match (only.name(), &only.contact) {
            (Some(name), _) => t.popup_body_customer(name),
            (None, Some(contact)) => t.popup_body_contact(&contact.name),
            (None, None) => t.popup_body_several(1),
        },
        several => t.popup_body_several(i64::try_from(several.len()).unwrap_or(i64::MAX)),
    }
}

/// Who called, for the missed-call notice.
fn caller_of(t: Text, call: &Call) -> String {
    match (&call.customer_name, call.matches) {
        (Some(name), _) => t.popup_body_customer(name),
        (None, 0) => t.unknown_number(),
        (None, n) => t.popup_body_several(n),
    }
}

/// Opens the popup for the agent. A popup that does not go out leaves the call recorded: the
/// PBX is told `popups: 0` rather than an error it would retry.
fn pop_up(t: Text, stored: &Stored, agent: Id, body: String) -> u32 {
    let popup = Popup::new("call", t.incoming(&stored.fields.number), body).param("call", stored.id.to_string());
    match notify::pop_up(&[agent], &popup) {
        Ok(reached) => reached,
        Err(e) => {
            log::warn(format!("call {}: the popup for user {agent} did not go out: {e}", stored.fields.call_id));
            0
        }
    }
}

/// Tells the agent about a missed call, linking the list of missed calls.
fn tell_missed(t: Text, call: &Call, agent: Id) {
    let message = Message::new(t.missed_title(&call.number), caller_of(t, call)).link(MISSED_LINK);
    if let Err(e) = notify::push(&[agent], &message) {
        log::warn(format!("call {}: the missed-call notice for user {agent} did not go out: {e}", call.call_id));
    }
}

#[cfg(test)]
mod tests {
    use tessera_sdk::customers::{Contact, Customer};

    use super::*;
    use crate::call::Source;

    fn candidate(id: Id, name: Option<&str>, contact: Option<&str>) -> Candidate {
        Candidate {
            customer_id: id,
            customer: name.map(|name| Customer {
                id,
                code: format!("KH-{id}"),
                name: name.into(),
                data: "{}".into(),
                ..Customer::default()
            }),
            contact: contact.map(|name| Contact {
                id: 100 + id,
                customer_id: id,
                name: name.into(),
                position: None,
                phones: Vec::new(),
                email: None,
                data: "{}".into(),
            }),
        }
    }

    #[test]
    fn the_popup_says_who_is_calling() {
        let t = Text::new(false);
        assert_eq!(popup_body(t, &[]), "未知号码");
        assert_eq!(popup_body(t, &[candidate(1, Some("北京科技"), Some("李雷"))]), "客户：北京科技");
        assert_eq!(popup_body(t, &[candidate(1, None, Some("李雷"))]), "联系人：李雷");
        assert_eq!(
            popup_body(Text::new(true), &[candidate(1, Some("A"), None), candidate(2, None, Some("B"))]),
            "2 customers have this number: choose one"
        );
    }

    #[test]
    fn the_missed_call_notice_names_the_caller_when_known() {
        let mut call = Call {
            call_id: "c".into(),
            number: "138".into(),
            canonical: "138".into(),
            extension: None,
            user_id: Some(2),
            status: Status::Missed,
            started_at: 0,
            answered_at: None,
            ended_at: Some(1),
            duration_s: None,
            contact_id: None,
            matches: 0,
            customer_name: None,
            logged: false,
            handled: false,
            source: Source::Asterisk,
            summary: String::new(),
        };
        let t = Text::new(false);
        assert_eq!(caller_of(t, &call), "未知号码");
        call.matches = 3;
        assert_eq!(caller_of(t, &call), "3 个客户使用此号码，请选择");
        call.customer_name = Some("上海贸易".into());
        assert_eq!(caller_of(t, &call), "客户：上海贸易");
    }
}
