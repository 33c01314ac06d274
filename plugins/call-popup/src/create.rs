//! An unknown number: the popup offers to create the customer there and then, with the number as
//! its mobile or office phone and, optionally, the caller as its first contact, and links the
//! call to it.

use serde_json::{Value, json};
use tessera_sdk::customers;
use tessera_sdk::ui::{Action, Field, Form, Outcome, Page};
use tessera_sdk::{Caller, Error, Result, log};

use crate::call::{self, Stored};
use crate::formats::MAX_NUMBER;
use crate::text::Text;

/// Longest customer and contact name the form takes.
const MAX_NAME: usize = 200;

/// Adds the "unknown number" notice and the form to the popup of `stored`.
pub fn section(page: Page, t: Text, stored: &Stored) -> Page {
    page.notice("warning", t.unknown_number()).heading(t.create_heading()).form(
        Form::new(Action::primary("create-customer", t.create_submit()).argument(stored.id.to_string()))
            .field(Field::text("name", t.customer_name()).required())
            .field(Field::text("contact_name", t.contact_name()))
            .field(Field::text("phone", t.phone()).required().value(stored.fields.number.as_str())),
    )
}

/// Whether a canonical number is a mainland mobile (`+861` and ten more digits), which the
/// customer keeps as its mobile rather than its office phone.
fn is_mobile(canonical: &str) -> bool {
    canonical
        .strip_prefix("+861")
        .is_some_and(|rest| rest.len() == 10 && rest.starts_with(['3', '4', '5', '6', '7', '8', '9']))
}

/// Creates the customer for the call `argument` and links the call to it.
pub fn act(caller: &Caller, argument: Option<&str>, input: &Value) -> Result<Outcome> {
    let t = Text::of(caller);
    let stored = match call::parse_id(argument).and_then(call::get) {
        Ok(stored) => stored,
        Err(Error::NotFound(_)) => return Ok(Outcome::error(t.no_such_call())),
        Err(e) => return Err(e),
    };
    if stored.customer_id.is_some() {
        return Ok(Outcome::info(t.already_linked()));
    }
    let text = |name: &str| input.get(name).and_then(Value::as_str).map(str::trim).unwrap_or_default().to_owned();
    let (name, contact, phone) = (text("name"), text("contact_name"), text("phone"));
    let mut errors = Vec::new();
    if name.is_empty() || name.chars().count() > MAX_NAME {
        errors.push(("name", t.name_required()));
    }
    if phone.is_empty() || phone.chars().count() > MAX_NUMBER {
        errors.push(("phone", t.phone_required()));
    }
    if !errors.is_empty() {
        return Ok(Outcome::invalid(errors));
    }
    let label = match customers::canonical_phone(&phone) {
        Some(canonical) if is_mobile(&canonical) => t.mobile_label(),
        _ => t.office_label(),
    };
    let input = json!({ "name": name, "phones": [{ "label": label, "number": phone }] });
    let customer = match customers::create(&input.to_string()) {
        Ok(customer) => customer,
        Err(Error::Invalid(why) | Error::Denied(why)) => return Ok(Outcome::error(t.refused(&why))),
        Err(e) => return Err(e),
    };
    let contact_id = if contact.is_empty() || contact.chars().count() > MAX_NAME {
        None
    } else {
        match customers::create_contact(customer.id, &json!({ "name": contact }).to_string()) {
            Ok(contact) => Some(contact.id),
            // The customer stands; the contact can be added on the customer's page.
            Err(e) => {
                log::warn(format!("customer {} was created but its contact was refused: {e}", customer.id));
                None
            }
        }
    };
    match call::link(stored.id, customer.id, &customer.name, contact_id) {
        Ok(_) => Ok(Outcome::success(t.created(&customer.code, &customer.name))),
        Err(Error::Denied(why) | Error::Invalid(why)) => Ok(Outcome::error(t.refused(&why))),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mainland_mobiles_are_told_from_landlines() {
        assert!(is_mobile("+8613812345678"));
        assert!(is_mobile("+8619912345678"));
        assert!(!is_mobile("+861087654321"), "a Beijing landline");
        assert!(!is_mobile("+8612345678901"));
        assert!(!is_mobile("+14155550100"));
        assert!(!is_mobile("13812345678"));
    }
}
