//! "模拟来电 / Simulate call": a ringing made up on the call log page, for demos and for checking
//! the set-up without a phone system. It goes through the same intake as a PBX's ringing (source
//! `simulated`), so what the agent sees is exactly what a real call would show: to the user of
//! the extension given, or to the user who simulates when the extension is left empty.

use serde_json::Value;
use tessera_sdk::ui::{Action, Field, Form, Outcome, Page};
use tessera_sdk::{Caller, Error, Result};

use crate::call::Source;
use crate::event::{CallEvent, EventKind};
use crate::extensions;
use crate::formats::MAX_NUMBER;
use crate::intake::{self, Route};
use crate::text::Text;

/// Adds the form to a page.
pub fn section(page: Page, t: Text) -> Page {
    page.heading(t.simulate_heading()).text(t.simulate_explained()).form(
        Form::new(Action::primary("simulate", t.simulate_submit()))
            .field(Field::text("number", t.simulate_number()).required())
            .field(Field::text("extension", t.extension()).help(t.simulate_extension_help())),
    )
}

/// Simulates a ringing.
pub fn act(caller: &Caller, input: &Value, now: i64) -> Result<Outcome> {
    let t = Text::of(caller);
    let Some(me) = caller.user_id else {
        return Ok(Outcome::error(t.sign_in_first()));
    };
    let text = |name: &str| input.get(name).and_then(Value::as_str).map(str::trim).unwrap_or_default().to_owned();
    let (number, extension) = (text("number"), text("extension"));
    if number.is_empty() || number.chars().count() > MAX_NUMBER {
        return Ok(Outcome::invalid([("number", t.number_required())]));
    }
    let agent = if extension.is_empty() {
        me
    } else if !extensions::is_extension(&extension) {
        return Ok(Outcome::invalid([("extension", t.extension_rule())]));
    } else {
        match extensions::agent_for(&extension)? {
            Some(agent) => agent,
            None => return Ok(Outcome::invalid([("extension", t.extension_not_mapped(&extension))])),
        }
    };
    let event = CallEvent {
        kind: EventKind::Ringing,
        call_id: format!("simulated-{me}-{now}"),
        from: Some(number),
        extension: (!extension.is_empty()).then_some(extension),
        at: Some(now),
        source: Source::Simulated,
    };
    let received = match intake::receive(t, &event, Route::To(agent), now) {
        Ok(received) => received,
        Err(Error::Invalid(why) | Error::Denied(why)) => return Ok(Outcome::error(t.refused(&why))),
        Err(e) => return Err(e),
    };
    if received.popups == 0 {
        return Ok(Outcome::warning(t.popup_not_sent()));
    }
    let name = extensions::name_in(&extensions::user_names([agent])?, agent);
    Ok(Outcome::success(t.popup_on_its_way(&name)))
}
