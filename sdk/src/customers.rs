//! Customers, contacts and follow-up activities of the host's customer database.
//!
//! Reading needs the capability `customers:read`; creating and updating customers and contacts
//! `customers:write`; changing an owner `customers:transfer`; adding activities
//! `activities:write`. Calls made for a signed-in user see only what that user may see.

use serde::Serialize;
use serde::de::DeserializeOwned;

pub use crate::bindings::tessera::plugin::customers::{
    Activity, Contact, Customer, CustomerPage, CustomerQuery, Phone, PhoneMatches, add_activity, contacts, create,
    create_contact, find_by_phone, get, query, set_owner, update,
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
}
