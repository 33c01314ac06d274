//! 客户公海 / Public pool: customers without an owner wait in pools, one per department (or one
//! for the whole organisation), and staff claim them, within a cap on customers held, a daily
//! claim cap, and a cooldown before a former owner may claim a customer back. Customers their
//! owners neglect return on their own: each customer level has a rule of N days without a
//! follow-up and M days without a win, and the owner is reminded K days before. Won and locked
//! customers never return by a rule. An owner may release a customer by hand with a reason, and
//! every change of owner is in the customer's history.
//!
//! The plugin decides who may claim what; the host carries out every move in bulk and checks the
//! caps inside the transaction that moves the customer, so racing claims cannot beat them:
//!
//! - `pool_page`: the pool page with the claim button, and `claim` behind it;
//! - `panel`: the owner history on the customer page, with release and claim;
//! - `rules_page`: the recycle rules and the pools, kept as records (`rules`, `pools`);
//! - `recycle`: the nightly job that returns overdue customers and reminds owners;
//! - `stats`: the numbers on the pool page and the dashboard widget.

mod claim;
mod config;
mod panel;
mod pool_page;
mod pools;
mod recycle;
mod reference;
mod rules;
mod rules_page;
mod stats;
mod text;

use serde_json::Value;
use tessera_sdk::time;
use tessera_sdk::ui::{Outcome, Page, RenderRequest};
use tessera_sdk::{Caller, Error, Json, Plugin, Result, from_json};

use crate::config::Settings;
use crate::pools::Reach;
use crate::text::Text;

/// The plugin. The host starts it afresh for every call; what it keeps lives in its records and
/// settings.
struct PublicPool;

impl Plugin for PublicPool {
    fn run_job(caller: Caller, name: String) -> Result<()> {
        match name.as_str() {
            "recycle" => recycle::nightly(&caller),
            _ => Err(Error::invalid(format!("no such job: {name:?}"))),
        }
    }

    fn render(caller: Caller, request: RenderRequest) -> Result<Page> {
        let now = time::now_ms();
        match request.target.as_str() {
            "pool" => pool_page::render(&caller, &request, now),
            "rules" => rules_page::render(&caller),
            "customer-pool" => panel::render(&caller, &request),
            "pool-stats" => {
                let settings = Settings::load()?;
                let reach = Reach::of(caller.user_id)?;
                stats::widget(Text::of(&caller), &caller, &settings, &reach, &rules::defined()?, now)
            }
            other => Err(Error::not_found(format!("no page {other:?}"))),
        }
    }

    fn act(caller: Caller, target: String, action: String, argument: Option<String>, input: Json) -> Result<Outcome> {
        let input: Value = from_json("form input", &input)?;
        let argument = argument.as_deref();
        match (target.as_str(), action.as_str()) {
            ("pool" | "customer-pool", "claim") => claim::claim(&caller, argument),
            ("pool", "filter") => Ok(pool_page::filter(&input)),
            ("customer-pool", "release") => panel::release(&caller, argument, &input),
            ("rules", _) => rules_page::act(&caller, &action, argument, &input, time::now_ms()),
            _ => Err(Error::not_found(format!("no action {action:?} on {target:?}"))),
        }
    }
}

tessera_sdk::export!(PublicPool);
