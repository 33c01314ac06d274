//! The panel on the customer page (`customer-pool`): who held the customer when, and why it
//! changed hands. The owner may release the customer to the pool here, giving a reason; anyone
//! who may claim it from their pool may claim it here.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;
use tessera_sdk::customers::{self, AssignLimits, Customer, OwnerChange, Selection};
use tessera_sdk::directory;
use tessera_sdk::ui::{Action, Field, Form, Outcome, Page, RenderRequest, Table};
use tessera_sdk::{Caller, Error, Id, Result};

use crate::config::Settings;
use crate::pools::Reach;
use crate::text::{self, Text};

/// Draws the panel of one customer.
pub fn render(caller: &Caller, request: &RenderRequest) -> Result<Page> {
    let t = Text::of(caller);
    let id = request.require_customer()?;
    let customer = customer(id)?;
    let reach = Reach::of(caller.user_id)?;
    let claimable = reach.holds(&customer);
    // The plugin reaches every customer; the user sees only those they may read, or may claim.
    if !claimable {
        match customers::get(id) {
            Ok(_) => {}
            Err(Error::NotFound(_) | Error::Denied(_)) => return Err(Error::not_found(format!("customer {id}"))),
            Err(e) => return Err(e),
        }
    }
    let settings = Settings::load()?;
    let history = customers::owner_history(id)?;
    let names = user_names(customer.owner_id.iter().copied().chain(history.iter().flat_map(people)))?;
    let name_of = |user: Option<Id>| match user {
        Some(u) => names.get(&u).cloned().unwrap_or_else(|| format!("#{u}")),
        None => t.the_pool().to_owned(),
    };

    let mut page = Page::new(t.panel_title()).key_values([(t.owner(), name_of(customer.owner_id))]);
    let me = caller.user_id;
    if me.is_some() && customer.owner_id == me {
        page = page.form(
            Form::new(Action::danger("release", t.release()).argument(id.to_string()))
                .field(Field::textarea("reason", t.release_reason()).required()),
        );
    } else if me.is_some() && claimable {
        page = page.actions([Action::primary("claim", t.claim()).argument(id.to_string())]);
    }

    let table = Table::new()
        .column("at", t.time())
        .column("from", t.from())
        .column("to", t.to())
        .column("reason", t.reason())
        .column("by", t.by());
    let table = history.iter().enumerate().fold(table, |table, (i, change)| {
        let by = match change.actor_user_id {
            Some(user) => name_of(Some(user)),
            None => t.system().to_owned(),
        };
        table.row(
            i.to_string(),
            [
                settings.format_time(change.at),
                name_of(change.from_user_id),
                name_of(change.to_user_id),
                change.reason.clone(),
                by,
            ],
        )
    });
    page = page.heading(t.history());
    Ok(if history.is_empty() { page.notice("info", t.no_history()) } else { page.table(table) })
}

/// The owner gives the customer back to the pool, with a reason.
pub fn release(caller: &Caller, argument: Option<&str>, input: &Value) -> Result<Outcome> {
    let t = Text::of(caller);
    let Some(me) = caller.user_id else {
        return Err(Error::denied("releasing needs a signed-in user"));
    };
    let reason = input.get("reason").and_then(Value::as_str).map(str::trim).unwrap_or_default();
    if reason.is_empty() {
        return Ok(Outcome::invalid([("reason", t.reason_required())]));
    }
    if reason.chars().count() > 400 {
        return Ok(Outcome::invalid([("reason", t.reason_too_long(400))]));
    }
    let Some(id) = argument.and_then(|a| a.trim().parse::<Id>().ok()) else {
        return Ok(Outcome::error(t.no_such_customer()));
    };
    let customer = customer(id)?;
    if customer.owner_id != Some(me) {
        return Ok(Outcome::error(t.only_the_owner_releases()));
    }
    match customers::assign(id, Some(me), None, &text::reason_released(reason), AssignLimits::none()) {
        Ok(customer) => Ok(Outcome::success(t.released(&customer.code, &customer.name))),
        Err(Error::Conflict(_)) => Ok(Outcome::warning(t.owner_changed_meanwhile())),
        Err(e) => Err(e),
    }
}

/// One customer, on the plugin's authority.
fn customer(id: Id) -> Result<Customer> {
    customers::select(&Selection::any().ids(&[id]).limit(1))?
        .items
        .into_iter()
        .next()
        .ok_or_else(|| Error::not_found(format!("customer {id}")))
}

/// The users an owner change names.
fn people(change: &OwnerChange) -> impl Iterator<Item = Id> {
    [change.from_user_id, change.to_user_id, change.actor_user_id].into_iter().flatten()
}

/// Names of users by id, in one call.
fn user_names(ids: impl Iterator<Item = Id>) -> Result<BTreeMap<Id, String>> {
    let ids: Vec<Id> = ids.collect::<BTreeSet<_>>().into_iter().collect();
    if ids.is_empty() {
        return Ok(BTreeMap::new());
    }
    Ok(directory::users(&ids)?.into_iter().map(|u| (u.id, u.name)).collect())
}
