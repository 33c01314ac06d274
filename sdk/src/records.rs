//! The plugin's own records, of the entities its manifest declares (`[[entities]]`).
//!
//! A record's fields travel as a JSON object; the helpers here read and write them as a type
//! of the plugin's own (`#[derive(Serialize, Deserialize)]`), and [`Query`] builds searches:
//!
//! ```no_run
//! use serde::{Deserialize, Serialize};
//! use tessera_sdk::records::{self, Query};
//!
//! #[derive(Serialize, Deserialize)]
//! struct Claim { reason: String, status: String }
//!
//! # fn main() -> tessera_sdk::Result<()> {
//! let claim = Claim { reason: "follow up".into(), status: "open".into() };
//! let record = records::insert_typed("claim", &claim, Some(42))?;
//! let again = records::get_typed::<Claim>("claim", record.id)?;
//! let (open, _next) = records::find_typed::<Claim>(&Query::new("claim").eq("status", "open").limit(20))?;
//! # Ok(()) }
//! ```
//!
//! No capability is needed: a plugin always reaches its own records, narrowed to what the
//! signed-in user may see when it acts for one.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};

pub use crate::bindings::tessera::plugin::records::{
    Condition, Op, Page, Query, Record, delete, find, get, insert, link, update,
};
use crate::{Id, Result, from_json, to_json};

/// Reads `null` as the type's default, for a field added to an entity after records were
/// written (the host answers every declared field, `null` where a record has no value):
/// `#[serde(default, deserialize_with = "records::or_default")] pub logged: bool`.
pub fn or_default<'de, D, T>(deserializer: D) -> std::result::Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// A record whose fields were read into `T`.
#[derive(Debug, Clone, PartialEq)]
pub struct Typed<T> {
    pub id: Id,
    /// The customer this record belongs to, if any.
    pub customer_id: Option<Id>,
    /// The user who owns the record.
    pub owner_id: Option<Id>,
    /// Milliseconds since the Unix epoch.
    pub created_at: i64,
    pub updated_at: i64,
    /// Pass to [`update_typed`] to detect concurrent edits.
    pub version: i64,
    pub fields: T,
}

impl Record {
    /// The fields as a JSON value.
    pub fn fields_value(&self) -> Result<serde_json::Value> {
        from_json(&self.entity, &self.fields)
    }

    /// The fields, read into `T`.
    pub fn fields_as<T: DeserializeOwned>(&self) -> Result<T> {
        from_json(&self.entity, &self.fields)
    }

    /// One field's value, or `None` when it is absent or the fields are not an object.
    pub fn field(&self, name: &str) -> Option<serde_json::Value> {
        match self.fields_value() {
            Ok(serde_json::Value::Object(mut fields)) => fields.remove(name),
            _ => None,
        }
    }

    /// The record with its fields read into `T`.
    pub fn into_typed<T: DeserializeOwned>(self) -> Result<Typed<T>> {
        Ok(Typed {
            fields: self.fields_as()?,
            id: self.id,
            customer_id: self.customer_id,
            owner_id: self.owner_id,
            created_at: self.created_at,
            updated_at: self.updated_at,
            version: self.version,
        })
    }
}

/// Creates a record of `entity` from a value serialized as its fields.
pub fn insert_typed<T: Serialize + ?Sized>(entity: &str, fields: &T, customer_id: Option<Id>) -> Result<Record> {
    insert(entity, &to_json(fields)?, customer_id)
}

/// One record of `entity`, its fields read into `T`.
pub fn get_typed<T: DeserializeOwned>(entity: &str, id: Id) -> Result<Typed<T>> {
    get(entity, id)?.into_typed()
}

/// Changes the fields of a record that `fields` serializes to (fields it leaves out stay).
/// With `expected_version`, the update fails with a conflict if someone changed the record
/// since it was read.
pub fn update_typed<T: Serialize + ?Sized>(
    entity: &str,
    id: Id,
    fields: &T,
    expected_version: Option<i64>,
) -> Result<Record> {
    update(entity, id, &to_json(fields)?, expected_version)
}

/// One page of records matching a query, read into `T`, with the cursor of the next page.
pub fn find_typed<T: DeserializeOwned>(query: &Query) -> Result<(Vec<Typed<T>>, Option<String>)> {
    let page = find(query)?;
    let items = page.items.into_iter().map(Record::into_typed).collect::<Result<_>>()?;
    Ok((items, page.next))
}

/// Every record matching a query, following the cursors page by page. Each page is a host
/// call, and the host limits calls per invocation: use it for sets known to be small.
pub fn find_all(query: &Query) -> Result<Vec<Record>> {
    let mut query = query.clone();
    let mut all = Vec::new();
    loop {
        let page = find(&query)?;
        all.extend(page.items);
        match page.next {
            Some(next) => query.cursor = Some(next),
            None => return Ok(all),
        }
    }
}

/// A builder over the query's fields:
/// `Query::new("claim").eq("status", "open").text("华为").limit(20)`.
impl Query {
    /// Every record of an entity, newest first.
    pub fn new(entity: impl Into<String>) -> Query {
        Query {
            entity: entity.into(),
            where_: Vec::new(),
            text: None,
            customer_id: None,
            order_by: None,
            descending: false,
            limit: None,
            cursor: None,
        }
    }

    /// Adds a condition; every condition must hold. `value` is anything `serde_json` turns
    /// into a value: `"text"`, `42`, `true`, `serde_json::Value::Null`.
    pub fn filter(mut self, field: impl Into<String>, op: Op, value: impl Into<serde_json::Value>) -> Query {
        self.where_.push(Condition { field: field.into(), op, value: value.into().to_string() });
        self
    }

    /// `field = value`.
    pub fn eq(self, field: impl Into<String>, value: impl Into<serde_json::Value>) -> Query {
        self.filter(field, Op::Eq, value)
    }

    /// `field <> value`.
    pub fn ne(self, field: impl Into<String>, value: impl Into<serde_json::Value>) -> Query {
        self.filter(field, Op::Ne, value)
    }

    /// `field < value`.
    pub fn lt(self, field: impl Into<String>, value: impl Into<serde_json::Value>) -> Query {
        self.filter(field, Op::Lt, value)
    }

    /// `field <= value`.
    pub fn le(self, field: impl Into<String>, value: impl Into<serde_json::Value>) -> Query {
        self.filter(field, Op::Le, value)
    }

    /// `field > value`.
    pub fn gt(self, field: impl Into<String>, value: impl Into<serde_json::Value>) -> Query {
        self.filter(field, Op::Gt, value)
    }

    /// `field >= value`.
    pub fn ge(self, field: impl Into<String>, value: impl Into<serde_json::Value>) -> Query {
        self.filter(field, Op::Ge, value)
    }

    /// The text field contains `value`.
    pub fn contains(self, field: impl Into<String>, value: impl Into<String>) -> Query {
        self.filter(field, Op::Contains, value.into())
    }

    /// The text field starts with `value`.
    pub fn starts_with(self, field: impl Into<String>, value: impl Into<String>) -> Query {
        self.filter(field, Op::StartsWith, value.into())
    }

    /// Searches the entity's searchable fields.
    pub fn text(mut self, text: impl Into<String>) -> Query {
        self.text = Some(text.into());
        self
    }

    /// Only records of this customer.
    pub fn customer(mut self, customer_id: Id) -> Query {
        self.customer_id = Some(customer_id);
        self
    }

    /// Sorts by this field, ascending unless [`Query::descending`] follows.
    pub fn order_by(mut self, field: impl Into<String>) -> Query {
        self.order_by = Some(field.into());
        self
    }

    /// Sorts in descending order when `descending` is true.
    pub fn descending(mut self, descending: bool) -> Query {
        self.descending = descending;
        self
    }

    /// At most this many (1 to 500; the host's default is 50).
    pub fn limit(mut self, limit: u32) -> Query {
        self.limit = Some(limit);
        self
    }

    /// Continues after the page that returned this cursor.
    pub fn cursor(mut self, cursor: impl Into<String>) -> Query {
        self.cursor = Some(cursor.into());
        self
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[test]
    fn the_query_builder_writes_conditions_as_json() {
        let q = Query::new("claim").eq("status", "open").gt("amount", 100).contains("title", "王").text("x").limit(20);
        assert_eq!(q.entity, "claim");
        let conditions: Vec<(&str, Op, &str)> =
            q.where_.iter().map(|c| (c.field.as_str(), c.op, c.value.as_str())).collect();
        assert_eq!(
            conditions,
            [("status", Op::Eq, "\"open\""), ("amount", Op::Gt, "100"), ("title", Op::Contains, "\"王\"")]
        );
        assert_eq!((q.text.as_deref(), q.limit, q.customer_id, q.descending), (Some("x"), Some(20), None, false));
    }

    #[test]
    fn the_query_builder_orders_and_pages() {
        let q = Query::new("claim").customer(9).order_by("amount").descending(true).cursor("c2");
        assert_eq!((q.customer_id, q.order_by.as_deref(), q.descending), (Some(9), Some("amount"), true));
        assert_eq!(q.cursor.as_deref(), Some("c2"));
        assert!(Query::new("claim").eq("closed_at", serde_json::Value::Null).where_[0].value == "null");
    }

    #[derive(Debug, PartialEq, Deserialize)]
    struct Claim {
        reason: String,
        #[serde(default)]
        amount: Option<f64>,
    }

    fn record(fields: &str) -> Record {
        Record {
            id: 3,
            entity: "claim".into(),
            fields: fields.into(),
            customer_id: Some(42),
            owner_id: None,
            created_at: 1,
            updated_at: 2,
            version: 5,
        }
    }

    #[test]
    fn a_record_reads_into_a_type_of_the_plugin() {
        let typed = record(r#"{"reason":"call back","amount":12.5}"#).into_typed::<Claim>().unwrap();
        assert_eq!(typed.fields, Claim { reason: "call back".into(), amount: Some(12.5) });
        assert_eq!((typed.id, typed.customer_id, typed.version), (3, Some(42), 5));
        assert_eq!(record(r#"{"reason":"x"}"#).field("reason"), Some("x".into()));
        assert_eq!(record(r#"{"reason":"x"}"#).field("amount"), None);
    }

    #[test]
    fn fields_of_the_wrong_shape_are_invalid_and_name_the_entity() {
        let err = record(r#"{"amount":1}"#).fields_as::<Claim>().unwrap_err();
        assert_eq!(err.kind(), "invalid");
        assert!(err.message().starts_with("claim: missing field `reason`"), "{err}");
    }
}
