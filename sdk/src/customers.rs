//! Customers, contacts and follow-up activities of the host's customer database.
//!
//! Reading needs the capability `customers:read`; creating and updating customers and contacts
//! `customers:write`; changing an owner `customers:transfer`; adding activities
//! `activities:write`. Calls made for a signed-in user see only what that user may see.
//!
//! Since API 0.1.1, a plugin that decides on its own rules who holds which customer (a public
//! pool, lead distribution) asks for `customers:assign` and uses [`select`],
//! [`count_by_owner`], [`assign`], [`release`] and [`owner_history`], which reach every
//! customer of the organisation: build the [`Selection`] with its builder,
//! `Selection::unowned().departments(&[3]).levels(&["a"])`.
//!
//! Since API 0.1.2, [`activities`] reads the newest entries of a customer's timeline and
//! [`canonical_phone`] puts a number in the form the host matches numbers by.

use serde::Serialize;
use serde::de::DeserializeOwned;

pub use crate::bindings::tessera::plugin::customers::{
    Activity, AssignLimits, Contact, Customer, CustomerPage, CustomerQuery, OwnerChange, OwnerCount, Ownership, Phone,
    PhoneMatches, Released, Selection, activities, add_activity, assign, canonical_phone, contacts, count_by_owner,
    create, create_contact, find_by_phone, get, owner_history, query, release, select, set_owner, update,
};
use crate::{Id, Result, from_json, to_json};

/// Creates a customer from a value serialized as the body of `POST /api/v1/customers`.
pub fn create_from<T: Serialize + ?Sized>(input: &T) -> Result<Customer> {
    create(&to_json(input)?)
}

/// Changes a customer with a value serialized as the body of `PATCH /api/v1/customers/{id}`.
pub fn update_from<T: Serialize + ?Sized>(id: Id, patch: &T) -> Result<Customer> {
    update(id, &to_json(patch)?)
}

impl Customer {
    /// The whole customer as JSON (the REST API's representation).
    pub fn data_value(&self) -> Result<serde_json::Value> {
        from_json("customer data", &self.data)
    }

    /// The whole customer, read into a type of the plugin's own.
    pub fn data_as<T: DeserializeOwned>(&self) -> Result<T> {
        from_json("customer data", &self.data)
    }
}

impl Contact {
    /// The whole contact as JSON.
    pub fn data_value(&self) -> Result<serde_json::Value> {
        from_json("contact data", &self.data)
    }
}

impl Activity {
    /// The whole activity as JSON.
    pub fn data_value(&self) -> Result<serde_json::Value> {
        from_json("activity data", &self.data)
    }
}

/// A builder over the query's fields: `CustomerQuery::new().text("华为").limit(20)`.
impl CustomerQuery {
    /// Every customer the caller may see.
    pub fn new() -> CustomerQuery {
        CustomerQuery::default()
    }

    /// Quick search: name, code, phone, contact name, pinyin.
    pub fn text(mut self, text: impl Into<String>) -> CustomerQuery {
        self.text = Some(text.into());
        self
    }

    /// Only customers of this owner.
    pub fn owner(mut self, owner_id: Id) -> CustomerQuery {
        self.owner_id = Some(owner_id);
        self
    }

    /// Only customers of this level.
    pub fn level(mut self, level: impl Into<String>) -> CustomerQuery {
        self.level = Some(level.into());
        self
    }

    /// Only customers in this status.
    pub fn status(mut self, status: impl Into<String>) -> CustomerQuery {
        self.status = Some(status.into());
        self
    }

    /// Only customers with this tag.
    pub fn tag(mut self, tag: impl Into<String>) -> CustomerQuery {
        self.tag = Some(tag.into());
        self
    }

    /// Only customers not followed up since this instant (ms since the epoch), or never.
    pub fn not_followed_up_since(mut self, millis: i64) -> CustomerQuery {
        self.not_followed_up_since = Some(millis);
        self
    }

    /// At most this many (1 to 200; the host's default is 50).
    pub fn limit(mut self, limit: u32) -> CustomerQuery {
        self.limit = Some(limit);
        self
    }

    /// Continues after the page that returned this cursor.
    pub fn cursor(mut self, cursor: impl Into<String>) -> CustomerQuery {
        self.cursor = Some(cursor.into());
        self
    }
}

impl Selection {
    /// Customers with or without an owner.
    pub fn any() -> Selection {
        Selection::with(Ownership::Any)
    }

    /// Customers that have an owner.
    pub fn owned() -> Selection {
        Selection::with(Ownership::Owned)
    }

    /// Customers without an owner.
    pub fn unowned() -> Selection {
        Selection::with(Ownership::Unowned)
    }

    fn with(ownership: Ownership) -> Selection {
        Selection {
            ownership,
            ids: Vec::new(),
            owner_ids: Vec::new(),
            department_ids: Vec::new(),
            levels: Vec::new(),
            exclude_statuses: Vec::new(),
            exclude_tags: Vec::new(),
            owned_before: None,
            idle_since: None,
            text: None,
            limit: None,
            cursor: None,
        }
    }

    /// Only these customers.
    pub fn ids(mut self, ids: &[Id]) -> Selection {
        self.ids = ids.to_vec();
        self
    }

    /// Only customers held by these users.
    pub fn owners(mut self, ids: &[Id]) -> Selection {
        self.owner_ids = ids.to_vec();
        self
    }

    /// Only customers of these departments.
    pub fn departments(mut self, ids: &[Id]) -> Selection {
        self.department_ids = ids.to_vec();
        self
    }

    /// Only customers of these levels.
    pub fn levels<S: AsRef<str>>(mut self, levels: &[S]) -> Selection {
        self.levels = levels.iter().map(|l| l.as_ref().to_owned()).collect();
        self
    }

    /// Only customers in none of these statuses.
    pub fn excluding_statuses<S: AsRef<str>>(mut self, statuses: &[S]) -> Selection {
        self.exclude_statuses = statuses.iter().map(|s| s.as_ref().to_owned()).collect();
        self
    }

    /// Only customers with none of these tags.
    pub fn excluding_tags<S: AsRef<str>>(mut self, tags: &[S]) -> Selection {
        self.exclude_tags = tags.iter().map(|t| t.as_ref().to_owned()).collect();
        self
    }

    /// Only customers their owner took before this instant (ms since the epoch).
    pub fn owned_before(mut self, millis: i64) -> Selection {
        self.owned_before = Some(millis);
        self
    }

    /// Only customers without a follow-up since this instant (ms since the epoch), the moment
    /// the owner took the customer counting as one.
    pub fn idle_since(mut self, millis: i64) -> Selection {
        self.idle_since = Some(millis);
        self
    }

    /// Quick search: name, code, phone, pinyin.
    pub fn text(mut self, text: impl Into<String>) -> Selection {
        self.text = Some(text.into());
        self
    }

    /// At most this many per page (1 to 200; the host's default is 50).
    pub fn limit(mut self, limit: u32) -> Selection {
        self.limit = Some(limit);
        self
    }

    /// Continues after the page that returned this cursor.
    pub fn cursor(mut self, cursor: impl Into<String>) -> Selection {
        self.cursor = Some(cursor.into());
        self
    }
}

impl AssignLimits {
    /// No limits.
    pub fn none() -> AssignLimits {
        AssignLimits { max_held: None, max_taken_since: None, cooldown_ms: None }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_builder_sets_only_what_it_is_given() {
        let q = CustomerQuery::new().text("华为").owner(7).limit(20);
        assert_eq!(q.text.as_deref(), Some("华为"));
        assert_eq!((q.owner_id, q.limit), (Some(7), Some(20)));
        assert_eq!((q.level, q.status, q.tag, q.cursor), (None, None, None, None));
    }

    #[test]
    fn a_selection_starts_open_and_narrows_by_what_it_is_given() {
        let s = Selection::unowned().departments(&[3]).levels(&["a", "b"]).idle_since(1_000);
        assert_eq!(s.ownership, Ownership::Unowned);
        assert_eq!((s.department_ids, s.levels), (vec![3], vec!["a".to_owned(), "b".to_owned()]));
        assert_eq!((s.idle_since, s.owned_before, s.limit), (Some(1_000), None, None));
        assert!(
            s.ids.is_empty() && s.owner_ids.is_empty() && s.exclude_statuses.is_empty() && s.exclude_tags.is_empty()
        );
    }
}
