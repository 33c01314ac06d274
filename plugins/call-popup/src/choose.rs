//! A number several customers share (a switchboard, a family business, a shared office): the
//! popup lists them and the agent picks the one who is calling, which links the call to that
//! customer's timeline. Each row's argument is `<call id>:<customer id>`, because `act` is not
//! given the page's parameters.

use std::collections::BTreeMap;

use tessera_sdk::ui::{Action, Outcome, Page, Table};
use tessera_sdk::{Caller, Error, Id, Result};

use crate::call::{self, Stored};
use crate::extensions;
use crate::matching::{self, Candidate};
use crate::text::Text;

/// Adds the table of candidates to the popup of `stored`.
pub fn section(page: Page, t: Text, stored: &Stored, candidates: &[Candidate]) -> Result<Page> {
    let owners = extensions::user_names(candidates.iter().filter_map(|c| c.customer.as_ref()?.owner_id))?;
    Ok(page.heading(t.choose_heading()).text(t.choose_explained()).table(table(t, stored.id, candidates, &owners)))
}

fn table(t: Text, call: Id, candidates: &[Candidate], owners: &BTreeMap<Id, String>) -> Table {
    let table = Table::new()
        .column("name", t.name())
        .column("code", t.code())
        .column("owner", t.owner())
        .column("matched_by", t.matched_via());
    candidates
        .iter()
        .fold(table, |table, c| {
            let (name, code, owner) = match &c.customer {
                Some(customer) => (
                    customer.name.clone(),
                    customer.code.clone(),
                    customer.owner_id.map(|o| extensions::name_in(owners, o)).unwrap_or_else(|| t.no_owner()),
                ),
                None => (format!("#{}", c.customer_id), String::new(), String::new()),
            };
            let via = match &c.contact {
                Some(contact) => t.via_contact(&contact.name),
                None => t.via_customer_phone(),
            };
            table.row(format!("{call}:{}", c.customer_id), [name, code, owner, via])
        })
        .row_action(Action::primary("choose", t.this_one()))
}

/// `<call id>:<customer id>`.
fn parse_argument(argument: Option<&str>) -> Option<(Id, Id)> {
    let (call, customer) = argument?.trim().split_once(':')?;
    Some((call.parse().ok()?, customer.parse().ok()?))
}

/// Links the call to the customer the agent chose, if the number is that customer's.
pub fn act(caller: &Caller, argument: Option<&str>) -> Result<Outcome> {
    let t = Text::of(caller);
    let Some((id, customer_id)) = parse_argument(argument) else {
        return Ok(Outcome::error(t.no_such_call()));
    };
    let stored = match call::get(id) {
        Ok(stored) => stored,
        Err(Error::NotFound(_)) => return Ok(Outcome::error(t.no_such_call())),
        Err(e) => return Err(e),
    };
    if stored.customer_id.is_some() {
        return Ok(Outcome::info(t.already_linked()));
    }
    // Only a customer the number belongs to, and whom the agent may see.
    let found = matching::find(&stored.fields.number)?;
    let Some(chosen) =
        matching::complete(found.into_iter().filter(|c| c.customer_id == customer_id).collect())?.into_iter().next()
    else {
        return Ok(Outcome::error(t.not_a_candidate()));
    };
    let name = chosen.name().unwrap_or_default().to_owned();
    match call::link(id, customer_id, &name, chosen.contact.as_ref().map(|c| c.id)) {
        Ok(_) => Ok(Outcome::success(t.linked(&name))),
        Err(Error::Denied(why) | Error::Invalid(why)) => Ok(Outcome::error(t.refused(&why))),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use tessera_sdk::customers::{Contact, Customer};

    use super::*;

    #[test]
    fn the_argument_names_the_call_and_the_customer() {
        assert_eq!(parse_argument(Some("12:34")), Some((12, 34)));
        assert_eq!(parse_argument(Some("12")), None);
        assert_eq!(parse_argument(Some("12:x")), None);
        assert_eq!(parse_argument(None), None);
    }

    #[test]
    fn each_candidate_is_a_row_whose_id_carries_the_call() {
        let customer = Customer {
            id: 5,
            code: "KH-5".into(),
            name: "北京科技".into(),
            owner_id: Some(2),
            department_id: None,
            level: None,
            status: None,
            tags: Vec::new(),
            phones: Vec::new(),
            last_followed_up_at: None,
            data: "{}".into(),
        };
        let contact = Contact {
            id: 9,
            customer_id: 6,
            name: "李雷".into(),
            position: None,
            phones: Vec::new(),
            email: None,
            data: "{}".into(),
        };
        let candidates = [
            Candidate { customer_id: 5, customer: Some(customer), contact: None },
            Candidate { customer_id: 6, customer: None, contact: Some(contact) },
        ];
        let owners = BTreeMap::from([(2, "王芳".to_owned())]);
        let table = table(Text::new(false), 77, &candidates, &owners);
        assert_eq!(table.row_ids, ["77:5", "77:6"]);
        assert_eq!(table.rows[0], ["北京科技", "KH-5", "王芳", "客户电话"]);
        assert_eq!(table.rows[1][3], "联系人 李雷");
        assert_eq!((table.row_actions[0].name.as_str(), table.row_actions[0].label.as_str()), ("choose", "选择"));
    }
}
