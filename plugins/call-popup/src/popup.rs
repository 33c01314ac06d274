//! The popup (page `call`, rendered with `call=<record id>`): what the agent sees the moment the
//! phone rings, in a dialog over whatever they are doing, or as a page of its own from a list.
//! Its heading and status, then one of:
//!
//! - the customer is known (`card`): the card, the last activities, open items, "log this call";
//! - several customers have the number (`choose`): pick the one calling;
//! - nobody has it (`create`): "unknown number", and a form that creates the customer.
//!
//! The host shows the call only to users it lets read the record (the agent's call, an
//! administrator); anyone else gets not-found. Every action carries the call's id as its
//! argument, since `act` is not given the page's parameters.

use serde_json::Value;
use tessera_sdk::ui::{Outcome, Page, RenderRequest};
use tessera_sdk::{Caller, Error, Result};

use crate::call::{self, Call, Status};
use crate::config::Settings;
use crate::matching;
use crate::text::Text;
use crate::{card, choose, create, listing, log_call};

/// Draws the popup of the call the `call` parameter names.
pub fn render(caller: &Caller, request: &RenderRequest, now: i64) -> Result<Page> {
    let t = Text::of(caller);
    let id = call::parse_id(request.param("call"))?;
    let stored = call::get(id).map_err(|e| match e {
        Error::NotFound(_) => Error::not_found(format!("call {id}: no such call, or not one this user may see")),
        other => other,
    })?;
    let settings = Settings::load()?;
    let c = &stored.fields;
    let (level, status) = status_notice(t, &settings, c);
    let mut page = Page::new(t.popup_title()).heading(t.incoming(&c.number)).notice(level, status);
    page = match stored.customer_id {
        Some(customer_id) => card::section(page, t, &settings, &stored, customer_id, now)?,
        None => {
            let candidates = matching::complete(matching::find(&c.number)?)?;
            if !candidates.is_empty() {
                choose::section(page, t, &stored, &candidates)?
            } else if c.matches > 0 {
                // The number is a colleague's customer's: no second customer for it.
                page.notice("info", t.no_visible_match())
            } else {
                create::section(page, t, &stored)
            }
        }
    };
    if c.status == Status::Missed && !c.handled {
        page = page.actions([listing::called_back_action(t).argument(stored.id.to_string())]);
    }
    Ok(page)
}

/// Where the call stands: `(level, text)`.
fn status_notice(t: Text, settings: &Settings, c: &Call) -> (&'static str, String) {
    match c.status {
        Status::Ringing => ("info", t.ringing_notice()),
        Status::Answered => ("info", t.answered_notice(&settings.format_time(c.answered_at.unwrap_or(c.started_at)))),
        Status::Missed => ("warning", t.missed_notice(&settings.format_time(c.started_at))),
        Status::Ended => ("info", t.ended_notice(&t.duration(c.duration_s.unwrap_or(0)))),
    }
}

/// The popup's actions.
pub fn act(caller: &Caller, action: &str, argument: Option<&str>, input: &Value, now: i64) -> Result<Outcome> {
    match action {
        "log-call" => log_call::act(caller, argument, input, now),
        "choose" => choose::act(caller, argument),
        "create-customer" => create::act(caller, argument, input),
        "called-back" => listing::mark_handled(caller, argument),
        "open-customer" => card::open(argument),
        _ => Err(Error::not_found(format!("no action {action:?} on the popup"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::call::Source;

    #[test]
    fn the_status_notice_says_where_the_call_stands() {
        let mut c = Call {
            call_id: "c".into(),
            number: "138".into(),
            canonical: "138".into(),
            extension: None,
            user_id: None,
            status: Status::Ringing,
            started_at: 1_796_088_600_000,
            answered_at: None,
            ended_at: None,
            duration_s: None,
            contact_id: None,
            matches: 0,
            customer_name: None,
            logged: false,
            handled: false,
            source: Source::Simulated,
            summary: String::new(),
        };
        let (t, settings) = (Text::new(false), Settings { utc_offset_ms: 8 * 3_600_000 });
        assert_eq!(status_notice(t, &settings, &c), ("info", "正在响铃……".to_owned()));
        c.status = Status::Missed;
        assert_eq!(status_notice(t, &settings, &c), ("warning", "未接来电，2026-12-01 09:30 响铃".to_owned()));
        c.status = Status::Ended;
        c.duration_s = Some(61);
        assert_eq!(
            status_notice(Text::new(true), &settings, &c),
            ("info", "The call ended after 1 min 01 s".to_owned())
        );
        c.status = Status::Answered;
        c.answered_at = Some(1_796_088_660_000);
        assert_eq!(status_notice(t, &settings, &c).1, "通话中，2026-12-01 09:31 接通");
    }
}
