//! Claiming a customer from the pool. The plugin checks that the customer is in one of the
//! user's pools; the host checks the caps (customers held, claims today, the cooldown of a
//! former owner) in the same transaction that gives the customer to the user, so two people
//! claiming the same customer at once, or one person claiming twice at once, cannot both pass.

use serde_json::json;
use tessera_sdk::customers::{self, Selection};
use tessera_sdk::records::{self, Query};
use tessera_sdk::ui::Outcome;
use tessera_sdk::{Caller, Error, Id, Result, log};

use crate::config::Settings;
use crate::pools::Reach;
use crate::text::{self, Text};
use tessera_sdk::time;

/// The entity that logs each successful claim, to count a user's claims of the day.
const ENTITY: &str = "claim";
/// The most claims of one day [`claimed_since`] counts.
pub const MAX_COUNTED: u32 = 500;

/// Claims the customer `argument` (its id) for the signed-in user.
pub fn claim(caller: &Caller, argument: Option<&str>) -> Result<Outcome> {
    let t = Text::of(caller);
    let Some(me) = caller.user_id else {
        return Err(Error::denied("claiming needs a signed-in user"));
    };
    let Some(id) = argument.and_then(|a| a.trim().parse::<Id>().ok()) else {
        return Ok(Outcome::error(t.no_such_customer()));
    };
    let reach = Reach::of(Some(me))?;
    let Some(pool) = reach.customers(None) else {
        return Ok(Outcome::error(t.no_pool_for_you()));
    };
    if customers::select(&pool.ids(&[id]).limit(1))?.items.is_empty() {
        return why_not_claimable(t, me, id);
    }
    let settings = Settings::load()?;
    let limits = settings.claim_limits(time::now_ms());
    match customers::assign(id, None, Some(me), text::REASON_CLAIMED, limits) {
        Ok(customer) => {
            // The claim stands whether or not it is counted; a lost count only lets the user
            // see one claim fewer today, and the host still enforces the cap.
            if let Err(e) = records::insert(ENTITY, &json!({ "user_id": me }).to_string(), Some(id)) {
                log::warn(format!("claim of customer {id} by user {me} not counted: {e}"));
            }
            Ok(Outcome::success(t.claimed(&customer.code, &customer.name)))
        }
        Err(Error::Conflict(_)) => Ok(Outcome::warning(t.taken_by_someone_else())),
        Err(Error::Limited(reason)) => Ok(Outcome::warning(limit_notice(t, &settings, &reason))),
        Err(e) => Err(e),
    }
}

/// Why a customer the user asked for is not in their pools: someone took it, it is theirs
/// already, or it was never in a pool they may claim from.
fn why_not_claimable(t: Text, me: Id, id: Id) -> Result<Outcome> {
    let found = customers::select(&Selection::any().ids(&[id]).limit(1))?;
    Ok(match found.items.first().map(|c| c.owner_id) {
        Some(Some(owner)) if owner == me => Outcome::info(t.already_yours()),
        Some(Some(_)) => Outcome::warning(t.taken_by_someone_else()),
        Some(None) => Outcome::error(t.not_in_your_pools()),
        None => Outcome::error(t.no_such_customer()),
    })
}

/// The notice for a cap the host enforced; its message starts with the limit's name.
fn limit_notice(t: Text, settings: &Settings, reason: &str) -> String {
    if reason.starts_with("max-held:") {
        t.held_cap_reached(settings.max_held)
    } else if reason.starts_with("max-taken-since:") {
        t.daily_cap_reached(settings.daily_claim_cap)
    } else if reason.starts_with("cooldown-ms:") {
        t.cooldown(settings.cooldown_days)
    } else {
        t.limited(reason)
    }
}

/// How many customers `user` claimed since `since`, up to [`MAX_COUNTED`].
pub fn claimed_since(user: Id, since: i64) -> Result<usize> {
    let query = Query::new(ENTITY).eq("user_id", user).ge("created_at", since).limit(MAX_COUNTED);
    Ok(records::find(&query)?.items.len())
}
