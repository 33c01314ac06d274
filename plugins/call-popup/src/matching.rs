//! Who is calling: the customers a number belongs to, through their own phones or through one of
//! their contacts'. The host normalises the number and finds both; the plugin folds contacts into
//! their customers, so a customer whose office line and whose buyer's mobile are the same number
//! counts once.

use tessera_sdk::customers::{self, Contact, Customer, PhoneMatches};
use tessera_sdk::{Error, Id, Result};

/// A customer the number belongs to.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub customer_id: Id,
    /// The customer, when it matched through its own phones; a match through a contact only
    /// knows the id until [`complete`] reads it.
    pub customer: Option<Customer>,
    /// The contact the number belongs to, when it matched through one.
    pub contact: Option<Contact>,
}

impl Candidate {
    /// The customer's name, when it is known.
    pub fn name(&self) -> Option<&str> {
        self.customer.as_ref().map(|c| c.name.as_str())
    }
}

/// The customers of a search, each once: those matched by their own phones first, in the host's
/// order, then those matched only through a contact.
pub fn candidates(found: PhoneMatches) -> Vec<Candidate> {
    let mut out: Vec<Candidate> = found
        .customers
        .into_iter()
        .map(|c| Candidate { customer_id: c.id, customer: Some(c), contact: None })
        .collect();
    for contact in found.contacts {
        match out.iter_mut().find(|c| c.customer_id == contact.customer_id) {
            Some(candidate) => {
                if candidate.contact.is_none() {
                    candidate.contact = Some(contact);
                }
            }
            None => out.push(Candidate { customer_id: contact.customer_id, customer: None, contact: Some(contact) }),
        }
    }
    out
}

/// The customers `number` belongs to, as far as the caller may see. A number the host does not
/// take for a phone number belongs to nobody.
pub fn find(number: &str) -> Result<Vec<Candidate>> {
    match customers::find_by_phone(number) {
        Ok(found) => Ok(candidates(found)),
        Err(Error::Invalid(_)) => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

/// Reads the customers that matched through a contact only; those the caller may not see are
/// dropped.
pub fn complete(candidates: Vec<Candidate>) -> Result<Vec<Candidate>> {
    let mut out = Vec::with_capacity(candidates.len());
    for mut candidate in candidates {
        if candidate.customer.is_none() {
            match customers::get(candidate.customer_id) {
                Ok(customer) => candidate.customer = Some(customer),
                Err(Error::NotFound(_) | Error::Denied(_)) => continue,
                Err(e) => return Err(e),
            }
        }
        out.push(candidate);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn customer(id: Id, name: &str) -> Customer {
        Customer { id, code: format!("KH-{id}"), name: name.into(), data: "{}".into(), ..Customer::default() }
    }

    fn contact(id: Id, customer_id: Id, name: &str) -> Contact {
        Contact {
            id,
            customer_id,
            name: name.into(),
            position: None,
            phones: Vec::new(),
            email: None,
            data: "{}".into(),
        }
    }

    #[test]
    fn contacts_fold_into_their_customers() {
        let found = PhoneMatches {
            customers: vec![customer(1, "北京科技"), customer(2, "上海贸易")],
            contacts: vec![
                contact(10, 2, "李雷"),
                contact(11, 3, "韩梅梅"),
                contact(12, 3, "王芳"),
                contact(13, 2, "张伟"),
            ],
        };
        let found = candidates(found);
        let summary: Vec<(Id, Option<&str>, Option<&str>)> =
            found.iter().map(|c| (c.customer_id, c.name(), c.contact.as_ref().map(|k| k.name.as_str()))).collect();
        assert_eq!(
            summary,
            [(1, Some("北京科技"), None), (2, Some("上海贸易"), Some("李雷")), (3, None, Some("韩梅梅"))],
            "one candidate per customer, the first contact kept"
        );
    }

    #[test]
    fn nothing_found_is_no_candidate() {
        assert!(candidates(PhoneMatches { customers: Vec::new(), contacts: Vec::new() }).is_empty());
    }
}
