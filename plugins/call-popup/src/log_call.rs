//! "记录本次通话 / Log this call": the popup's form that turns the call into a follow-up activity
//! of kind `call` on the customer's timeline (which also moves the customer's last and next
//! follow-up dates), and marks the call logged so that the form gives way to a notice.

use serde_json::{Value, json};
use tessera_sdk::customers;
use tessera_sdk::ui::{Action, Field, Form, Outcome, Page};
use tessera_sdk::{Caller, Error, Result, log};

use crate::call::{self, Stored};
use crate::config::Settings;
use crate::text::Text;
use tessera_sdk::time;

/// Longest content the host keeps on an activity.
const MAX_CONTENT: usize = 20_000;
/// A follow-up planned for a day is due at 09:00 local time that day.
const FOLLOW_UP_HOUR_MS: i64 = 9 * 3_600_000;

/// The form, or the notice that the call is logged.
pub fn section(page: Page, t: Text, stored: &Stored) -> Page {
    let page = page.heading(t.log_heading());
    if stored.fields.logged {
        return page.notice("success", t.logged_notice());
    }
    page.form(
        Form::new(Action::primary("log-call", t.log_submit()).argument(stored.id.to_string()))
            .field(Field::textarea("content", t.log_content()).required())
            .field(Field::select("result", t.log_result(), t.results()))
            .field(Field::date("next_follow_up_at", t.log_next()).help(t.log_next_help())),
    )
}

/// What the form says, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Log {
    content: String,
    /// The result's words in the user's language; empty when none was chosen.
    result: String,
    /// When to follow up next (ms).
    next: Option<i64>,
}

/// Reads the form; errors by field otherwise.
fn read(t: Text, settings: &Settings, input: &Value, now: i64) -> Result<Log, Vec<(String, String)>> {
    let text = |name: &str| input.get(name).and_then(Value::as_str).map(str::trim).unwrap_or_default().to_owned();
    let mut errors = Vec::new();
    let content = text("content");
    if content.is_empty() {
        errors.push(("content".to_owned(), t.content_required()));
    } else if content.chars().count() > MAX_CONTENT {
        errors.push(("content".to_owned(), t.content_too_long(MAX_CONTENT)));
    }
    let result = match text("result").as_str() {
        "" => Some(String::new()),
        chosen => t.result_text(chosen),
    };
    if result.is_none() {
        errors.push(("result".to_owned(), t.choose_a_result()));
    }
    let next = match text("next_follow_up_at").as_str() {
        "" => None,
        date => match time::parse_date(date) {
            None => {
                errors.push(("next_follow_up_at".to_owned(), t.date_invalid()));
                None
            }
            Some(day) => {
                let midnight = time::day_start(day, settings.utc_offset_ms);
                if midnight < settings.start_of_today(now) {
                    errors.push(("next_follow_up_at".to_owned(), t.date_in_past()));
                }
                // Today's follow-up is due now at the earliest: the host refuses one before the call.
                Some((midnight + FOLLOW_UP_HOUR_MS).max(now))
            }
        },
    };
    match (errors.is_empty(), result) {
        (true, Some(result)) => Ok(Log { content, result, next }),
        _ => Err(errors),
    }
}

/// Logs the call `argument` with the form's values.
pub fn act(caller: &Caller, argument: Option<&str>, input: &Value, now: i64) -> Result<Outcome> {
    let t = Text::of(caller);
    let stored = match call::parse_id(argument).and_then(call::get) {
        Ok(stored) => stored,
        Err(Error::NotFound(_)) => return Ok(Outcome::error(t.no_such_call())),
        Err(e) => return Err(e),
    };
    let Some(customer_id) = stored.customer_id else {
        return Ok(Outcome::error(t.choose_customer_first()));
    };
    if stored.fields.logged {
        return Ok(Outcome::info(t.already_logged()));
    }
    let settings = Settings::load()?;
    let log = match read(t, &settings, input, now) {
        Ok(log) => log,
        Err(errors) => return Ok(Outcome::Invalid(errors)),
    };
    let c = &stored.fields;
    let activity = json!({
        "kind": "call",
        "subject": t.activity_subject(&c.number),
        "content": log.content,
        "result": log.result,
        "contact_id": c.contact_id,
        "occurred_at": time::rfc3339(c.started_at),
        "next_follow_up_at": log.next.map(time::rfc3339),
    });
    match customers::add_activity(customer_id, &activity.to_string()) {
        Ok(_) => {}
        Err(Error::Invalid(why) | Error::Denied(why)) => return Ok(Outcome::error(t.refused(&why))),
        Err(e) => return Err(e),
    }
    // The activity stands either way; a flag that did not stick only shows the form again.
    if let Err(e) = call::update(stored.id, &json!({ "logged": true }), None) {
        log::warn(format!("call {} was logged as an activity but not marked logged: {e}", stored.id));
    }
    Ok(Outcome::success(t.logged()))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const NOW: i64 = 1_796_088_600_000; // 2026-12-01 09:30 in Beijing

    fn settings() -> Settings {
        Settings { utc_offset_ms: 8 * 3_600_000 }
    }

    #[test]
    fn a_complete_form_becomes_an_activity() {
        let input = json!({ "content": " 客户要报价 ", "result": "interested", "next_follow_up_at": "2026-12-03" });
        let log = read(Text::new(false), &settings(), &input, NOW).expect("valid");
        assert_eq!((log.content.as_str(), log.result.as_str()), ("客户要报价", "有意向"));
        assert_eq!(log.next.map(time::rfc3339).as_deref(), Some("2026-12-03T01:00:00.000Z"), "09:00 in Beijing");
    }

    #[test]
    fn result_and_next_follow_up_are_optional() {
        let log = read(Text::new(true), &settings(), &json!({ "content": "x", "result": "" }), NOW).expect("valid");
        assert_eq!((log.result.as_str(), log.next), ("", None));
        // Today, after 09:00: due now, never before the call.
        let today =
            read(Text::new(true), &settings(), &json!({ "content": "x", "next_follow_up_at": "2026-12-01" }), NOW);
        assert_eq!(today.map(|l| l.next), Ok(Some(NOW)));
    }

    #[test]
    fn a_bad_form_comes_back_with_its_errors() {
        let input = json!({ "content": "  ", "result": "bribe", "next_follow_up_at": "2026-11-30" });
        let errors = read(Text::new(false), &settings(), &input, NOW).expect_err("invalid");
        assert_eq!(
            errors,
            [
                ("content".to_owned(), "请填写通话内容".to_owned()),
                ("result".to_owned(), "请选择结果".to_owned()),
                ("next_follow_up_at".to_owned(), "下次跟进日期不能早于今天".to_owned()),
            ]
        );
        let errors = read(Text::new(true), &settings(), &json!({ "content": "x", "next_follow_up_at": "soon" }), NOW);
        assert_eq!(errors, Err(vec![("next_follow_up_at".to_owned(), "Give a date such as 2026-12-01".to_owned())]));
    }
}
