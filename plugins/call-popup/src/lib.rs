//! 来电弹屏 / Caller ID popup: the PBX reports an incoming call, the plugin matches the caller's
//! number to a customer (through the customer's phones or a contact's), and the agent whose
//! extension rings sees a popup at once: the customer card, the last five activities, open items
//! and a form to log the call; an unknown number offers to create the customer, a shared one to
//! pick among its customers. Every call is a record on its customer's timeline; missed calls are
//! listed until someone calls back.
//!
//! - `hooks`: the webhook the phone system posts to, with its token check (`auth`) and the
//!   formats it understands (`formats`: native JSON, Asterisk AMI, FreeSWITCH);
//! - `intake`: one event through the state machine (`machine`) to the stored call (`call`),
//!   the matched customers (`matching`), the popup and the missed-call notice;
//! - `popup`: the popup page, with the customer's sections (`card`, `log_call`), the choice
//!   among several customers (`choose`) and the new customer for an unknown number (`create`);
//! - `missed`, `calls_page` (with `simulate`), `extensions`: the menu pages; `panel` on the
//!   customer page and `widget` on the dashboard, sharing `listing`.

mod auth;
mod call;
mod calls_page;
mod card;
mod choose;
mod config;
mod create;
mod event;
mod extensions;
mod formats;
mod hooks;
mod intake;
mod listing;
mod log_call;
mod machine;
mod matching;
mod missed;
mod panel;
mod popup;
mod simulate;
mod text;
mod widget;

use serde_json::Value;
use tessera_sdk::http::{Request, Response};
use tessera_sdk::time;
use tessera_sdk::ui::{Outcome, Page, RenderRequest};
use tessera_sdk::{Caller, Error, Json, Plugin, Result, from_json};

/// The plugin. The host starts it afresh for every call; what it keeps lives in its records and
/// settings.
struct CallPopup;

impl Plugin for CallPopup {
    fn handle_http(caller: Caller, request: Request) -> Response {
        hooks::handle(&caller, &request)
    }

    fn render(caller: Caller, request: RenderRequest) -> Result<Page> {
        let now = time::now_ms();
        match request.target.as_str() {
            "call" => popup::render(&caller, &request, now),
            "missed" => missed::render(&caller, &request),
            "calls" => calls_page::render(&caller, &request),
            "extensions" => extensions::render(&caller),
            "customer-calls" => panel::render(&caller, &request),
            "call-stats" => widget::render(&caller, now),
            other => Err(Error::not_found(format!("no page {other:?}"))),
        }
    }

    fn act(caller: Caller, target: String, action: String, argument: Option<String>, input: Json) -> Result<Outcome> {
        let input: Value = from_json("form input", &input)?;
        let (argument, now) = (argument.as_deref(), time::now_ms());
        match target.as_str() {
            "call" => popup::act(&caller, &action, argument, &input, now),
            "missed" => missed::act(&caller, &action, argument, &input),
            "calls" => calls_page::act(&caller, &action, argument, &input, now),
            "extensions" => extensions::act(&caller, &action, argument, &input),
            "customer-calls" if action == "open" => listing::open(argument),
            _ => Err(Error::not_found(format!("no action {action:?} on {target:?}"))),
        }
    }
}

tessera_sdk::export!(CallPopup);
