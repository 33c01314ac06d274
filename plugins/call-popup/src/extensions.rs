//! Extensions (`extension` records, page `extensions`, menu 分机): which user answers which
//! extension, so that the popup of a ringing extension goes to the right person. The mappings are
//! reference records: every user reads them (the webhook and the simulation look them up), only
//! administrators change them, and the page is for administrators only (`admin = true`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tessera_sdk::directory;
use tessera_sdk::records::{self, Query};
use tessera_sdk::ui::{Action, Field, Form, Outcome, Page, Table};
use tessera_sdk::{Caller, Error, Id, Result};

use crate::formats::MAX_EXTENSION;
use crate::text::Text;

/// The entity that stores the mappings.
pub const ENTITY: &str = "extension";
/// More extensions than any one organisation has; the page lists this many.
const MAX_LISTED: u32 = 500;

/// One extension and its user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mapping {
    pub extension: String,
    pub user_id: Id,
}

/// The user the extension rings, if it is mapped.
pub fn agent_for(extension: &str) -> Result<Option<Id>> {
    let page = records::find(&Query::new(ENTITY).eq("extension", extension).limit(1))?;
    Ok(page.items.first().and_then(|r| r.field("user_id")).and_then(|v| v.as_i64()))
}

/// Whether `text` is an extension as PBXs write them: 1 to 32 letters, digits or `- _ . # *`.
pub fn is_extension(text: &str) -> bool {
    (1..=MAX_EXTENSION).contains(&text.chars().count())
        && text.chars().all(|c| c.is_ascii_alphanumeric() || "-_.#*".contains(c))
}

/// Names of users by id, in one call; users the directory does not know are left out.
pub fn user_names(ids: impl IntoIterator<Item = Id>) -> Result<BTreeMap<Id, String>> {
    let mut ids: Vec<Id> = ids.into_iter().collect();
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() {
        return Ok(BTreeMap::new());
    }
    Ok(directory::users(&ids)?.into_iter().map(|u| (u.id, u.name)).collect())
}

/// A user's name from a map of names, or `#id` when the directory does not know them.
pub fn name_in(names: &BTreeMap<Id, String>, id: Id) -> String {
    names.get(&id).cloned().unwrap_or_else(|| format!("#{id}"))
}

/// Draws the extensions page.
pub fn render(caller: &Caller) -> Result<Page> {
    let t = Text::of(caller);
    let (mappings, _) = records::find_typed::<Mapping>(&Query::new(ENTITY).order_by("extension").limit(MAX_LISTED))?;
    let names = user_names(mappings.iter().map(|m| m.fields.user_id))?;
    let mut page = Page::new(t.extensions_title()).text(t.extensions_explained());
    page = if mappings.is_empty() {
        page.notice("info", t.no_extensions())
    } else {
        let table = Table::new().column("extension", t.extension()).column("user", t.user());
        let table = mappings.iter().fold(table, |table, m| {
            table.row(m.id.to_string(), [m.fields.extension.clone(), name_in(&names, m.fields.user_id)])
        });
        page.table(table.row_action(Action::danger("delete-extension", t.delete())))
    };
    Ok(page.form(
        Form::new(Action::primary("add-extension", t.add_extension()))
            .field(Field::text("extension", t.extension()).required())
            .field(Field::user("user_id", t.user()).required().help(t.user_help())),
    ))
}

/// The page's actions.
pub fn act(caller: &Caller, action: &str, argument: Option<&str>, input: &Value) -> Result<Outcome> {
    let t = Text::of(caller);
    let outcome = match action {
        "add-extension" => add(t, input),
        "delete-extension" => match argument.and_then(|a| a.trim().parse::<Id>().ok()) {
            Some(id) => records::delete(ENTITY, id).map(|()| Outcome::success(t.extension_deleted())),
            None => Ok(Outcome::error(t.not_allowed())),
        },
        _ => return Err(Error::not_found(format!("no action {action:?} on the extensions page"))),
    };
    // What the host refuses this user (only administrators change mappings) is a notice.
    match outcome {
        Err(Error::Denied(_) | Error::NotFound(_)) => Ok(Outcome::error(t.not_allowed())),
        other => other,
    }
}

fn add(t: Text, input: &Value) -> Result<Outcome> {
    let extension = input.get("extension").and_then(Value::as_str).map(str::trim).unwrap_or_default();
    let user = match input.get("user_id") {
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    };
    let mut errors = Vec::new();
    if !is_extension(extension) {
        errors.push(("extension", t.extension_rule()));
    }
    let name = match user {
        Some(id) => user_names([id])?.remove(&id),
        None => None,
    };
    if name.is_none() {
        errors.push(("user_id", t.choose_user()));
    }
    let (Some(user), Some(name), true) = (user, name, errors.is_empty()) else {
        return Ok(Outcome::invalid(errors));
    };
    if agent_for(extension)?.is_some() {
        return Ok(Outcome::invalid([("extension", t.extension_taken())]));
    }
    match records::insert(ENTITY, &json!({ "extension": extension, "user_id": user }).to_string(), None) {
        Ok(_) => Ok(Outcome::success(t.extension_added(extension, &name))),
        // Someone mapped it at the same moment.
        Err(Error::Conflict(_)) => Ok(Outcome::invalid([("extension", t.extension_taken())])),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extensions_are_what_pbxs_dial() {
        for good in ["8001", "101", "sip-8001", "*97", "1#", "a.b_c"] {
            assert!(is_extension(good), "{good}");
        }
        for bad in ["", "80 01", "8001;drop", "分机8001", &"1".repeat(33)] {
            assert!(!is_extension(bad), "{bad}");
        }
    }

    #[test]
    fn unknown_users_show_as_their_id() {
        let names = BTreeMap::from([(3, "王芳".to_owned())]);
        assert_eq!((name_in(&names, 3), name_in(&names, 9)), ("王芳".to_owned(), "#9".to_owned()));
    }
}
