//! 考勤 / Attendance: people clock in and out from a phone-sized page, only from the office's
//! networks and, when the admin sets a site, within a radius of it; shifts (night shifts across
//! midnight too) and a work calendar of public holidays and make-up working days decide what
//! each day should have been; late, early, absent, missing punches, leave and overtime are
//! computed; leave and overtime are approved on the workflow kernel; administrators correct
//! punches with an audit trail; monthly reports per department go out as XLSX. Every day
//! boundary is in the organisation's time zone.
//!
//! - `rules`: the pure rules (work-date windows, late, early, absent, overtime), with the
//!   synthetic month that tests them; `network`: the CIDR matcher; `xlsx`: the spreadsheet;
//!   `zone`: the organisation's clock; `config`: settings and the location rule;
//! - `store`: the records; `ledger`: loading and judging people's days; `access`: who sees what;
//! - `clock`, `mine`, `team`, `report`, `requests`, `setup`: the pages, their actions, the XLSX
//!   route and the `workflow.completed` handler; `text`: every string in both languages.

mod access;
mod clock;
mod config;
mod ledger;
mod mine;
mod network;
mod report;
mod requests;
mod rules;
mod setup;
mod store;
mod team;
mod text;
mod xlsx;
mod zone;

use serde_json::Value;
use tessera_sdk::events::Event;
use tessera_sdk::http::{Request, Response, Router};
use tessera_sdk::time;
use tessera_sdk::ui::{Outcome, Page, RenderRequest};
use tessera_sdk::{Caller, Error, Json, Plugin, Result, from_json};

/// The plugin. The host starts it afresh for every call; what it keeps lives in its records and
/// settings.
struct Attendance;

impl Plugin for Attendance {
    fn on_event(_caller: Caller, event: Event) -> Result<()> {
        match event.topic.as_str() {
            "workflow.completed" => requests::on_completed(&event),
            _ => Ok(()),
        }
    }

    fn handle_http(caller: Caller, request: Request) -> Response {
        let now = time::now_ms();
        if request.is_hook() || request.is_driver() {
            return Response::error(&Error::not_found("attendance serves signed-in users only"));
        }
        Router::new(&request).get("/report.xlsx", |_| report::export(&caller, &request, now)).finish()
    }

    fn render(caller: Caller, request: RenderRequest) -> Result<Page> {
        let now = time::now_ms();
        match request.target.as_str() {
            "clock" => clock::render(&caller, now),
            "mine" => mine::render(&caller, &request, now),
            "team" => team::render(&caller, &request, now),
            "report" => report::render(&caller, &request, now),
            "leave" => requests::render_leave(&caller),
            "overtime" => requests::render_overtime(&caller),
            "shifts" => setup::render_shifts(&caller),
            "calendar" => setup::render_calendar(&caller, &request, now),
            "networks" => setup::render_networks(&caller),
            other => Err(Error::not_found(format!("no page {other:?}"))),
        }
    }

    fn act(caller: Caller, target: String, action: String, argument: Option<String>, input: Json) -> Result<Outcome> {
        let input: Value = from_json("form input", &input)?;
        let (argument, now) = (argument.as_deref(), time::now_ms());
        match (target.as_str(), action.as_str()) {
            ("clock", _) => clock::act(&caller, &action, &input, now),
            ("mine", "month") => mine::go_to_month("mine", argument, ""),
            ("team", _) => team::act(&caller, &action, &input, now),
            ("report", _) => report::act(&action, argument, &input),
            ("leave", "request-leave") => requests::request_leave(&caller, &input),
            ("overtime", "request-overtime") => requests::request_overtime(&caller, &input),
            ("shifts", _) => setup::act_shifts(&caller, &action, argument, &input),
            ("calendar", _) => setup::act_calendar(&caller, &action, argument, &input),
            ("networks", _) => setup::act_networks(&caller, &action, argument, &input),
            _ => Err(Error::not_found(format!("no action {action:?} on {target:?}"))),
        }
    }
}

tessera_sdk::export!(Attendance);
