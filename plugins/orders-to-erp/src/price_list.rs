//! Price lists (entity `price_list`) and their prices (entity `price_list_item`, one per list
//! and product, kept unique by `pair_key`), both reference data.
//!
//! A new order takes the organisation's **default price list**: the newest active list in the
//! organisation's currency whose validity (`valid_from` to `valid_to`, inclusive, either open)
//! covers the day. A line's unit price is the list's price of the product, or the product's own
//! price when the list has none (or the order has no list).

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tessera_sdk::records::{self, Query, Typed};
use tessera_sdk::{Error, Id, Result};

pub const ENTITY: &str = "price_list";
pub const ITEM: &str = "price_list_item";

/// A price list's fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriceList {
    pub name: String,
    pub currency: String,
    /// `YYYY-MM-DD`, inclusive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_from: Option<String>,
    /// `YYYY-MM-DD`, inclusive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_to: Option<String>,
    #[serde(default)]
    pub active: bool,
}

impl PriceList {
    /// Whether the list applies on `day` (`YYYY-MM-DD`, which compares as text).
    pub fn covers(&self, day: &str) -> bool {
        self.active
            && self.valid_from.as_deref().is_none_or(|from| from <= day)
            && self.valid_to.as_deref().is_none_or(|to| day <= to)
    }
}

/// One price of a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    pub price_list_id: Id,
    pub product_id: Id,
    pub price_minor: i64,
    pub pair_key: String,
}

pub type Stored = Typed<PriceList>;

/// The key that keeps one price per list and product.
pub fn pair_key(list: Id, product: Id) -> String {
    format!("{list}:{product}")
}

/// Every price list, newest first (at most 200).
pub fn all() -> Result<Vec<Stored>> {
    Ok(records::find_typed::<PriceList>(&Query::new(ENTITY).limit(200))?.0)
}

pub fn get(id: Id) -> Result<Stored> {
    records::get_typed(ENTITY, id)
}

/// The default list for a new order in `currency` on `day`.
pub fn default_for(currency: &str, day: &str) -> Result<Option<Stored>> {
    let query = Query::new(ENTITY).eq("active", true).eq("currency", currency).limit(50);
    let (lists, _) = records::find_typed::<PriceList>(&query)?;
    Ok(lists.into_iter().find(|l| l.fields.covers(day)))
}

/// The list's price of a product, if it has one.
pub fn price_of(list: Id, product: Id) -> Result<Option<i64>> {
    let query = Query::new(ITEM).eq("pair_key", pair_key(list, product)).limit(1);
    let (mut found, _) = records::find_typed::<Item>(&query)?;
    Ok(found.pop().map(|item| item.fields.price_minor))
}

/// The prices of a list (at most 500).
pub fn items(list: Id) -> Result<Vec<Typed<Item>>> {
    Ok(records::find_typed::<Item>(&Query::new(ITEM).eq("price_list_id", list).limit(500))?.0)
}

/// Sets the list's price of a product, adding it or changing the one there is.
pub fn set_price(list: Id, product: Id, price_minor: i64) -> Result<()> {
    let key = pair_key(list, product);
    let (mut found, _) = records::find_typed::<Item>(&Query::new(ITEM).eq("pair_key", key.as_str()).limit(1))?;
    match found.pop() {
        Some(item) => {
            records::update(ITEM, item.id, &json!({ "price_minor": price_minor }).to_string(), None)?;
        }
        None => {
            let item = Item { price_list_id: list, product_id: product, price_minor, pair_key: key };
            records::insert_typed(ITEM, &item, None)?;
        }
    }
    Ok(())
}

/// Removes a price from its list.
pub fn remove_item(id: Id) -> Result<Id> {
    let item = records::get_typed::<Item>(ITEM, id)?;
    records::delete(ITEM, id)?;
    Ok(item.fields.price_list_id)
}

/// The price list form's values, checked: the list, or the messages by field.
pub fn from_form(input: &Value, en: bool) -> Result<PriceList, Vec<(String, String)>> {
    let pick = |zh: &str, e: &str| if en { e.to_owned() } else { zh.to_owned() };
    let text = |name: &str| input.get(name).and_then(Value::as_str).map(str::trim).unwrap_or_default().to_owned();
    let mut errors = Vec::new();
    let name = text("name");
    if name.is_empty() || name.chars().count() > 100 {
        errors.push(("name".to_owned(), pick("名称必填，最多 100 个字符", "Required, at most 100 characters")));
    }
    let currency = text("currency");
    if !crate::config::CURRENCIES.contains(&currency.as_str()) {
        errors.push(("currency".to_owned(), pick("请选择币种", "Choose a currency")));
    }
    let date = |name: &str| Some(text(name)).filter(|d| !d.is_empty());
    let (valid_from, valid_to) = (date("valid_from"), date("valid_to"));
    for (field, value) in [("valid_from", &valid_from), ("valid_to", &valid_to)] {
        if value.as_deref().is_some_and(|d| tessera_sdk::time::parse_date(d).is_none()) {
            errors.push((field.to_owned(), pick("日期格式为 YYYY-MM-DD", "A date as YYYY-MM-DD")));
        }
    }
    let day = |d: &Option<String>| d.as_deref().and_then(tessera_sdk::time::parse_date);
    if let (Some(from), Some(to)) = (day(&valid_from), day(&valid_to))
        && from > to
    {
        errors.push(("valid_to".to_owned(), pick("失效日期不能早于生效日期", "Must not be before the start")));
    }
    if errors.is_empty() { Ok(PriceList { name, currency, valid_from, valid_to, active: true }) } else { Err(errors) }
}

/// Adds a price list; a name another list has is refused.
pub fn insert(list: &PriceList) -> Result<Stored> {
    let (found, _) = records::find_typed::<PriceList>(&Query::new(ENTITY).eq("name", list.name.as_str()).limit(1))?;
    if !found.is_empty() {
        return Err(Error::conflict(format!("another price list is named {}", list.name)));
    }
    records::insert_typed(ENTITY, list, None)?.into_typed()
}

pub fn set_active(id: Id, active: bool) -> Result<()> {
    records::update(ENTITY, id, &json!({ "active": active }).to_string(), None)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(from: Option<&str>, to: Option<&str>, active: bool) -> PriceList {
        PriceList {
            name: "2026 经销价".into(),
            currency: "CNY".into(),
            valid_from: from.map(str::to_owned),
            valid_to: to.map(str::to_owned),
            active,
        }
    }

    #[test]
    fn a_list_covers_the_days_of_its_validity_inclusive() {
        let year = list(Some("2026-01-01"), Some("2026-12-31"), true);
        assert!(year.covers("2026-01-01") && year.covers("2026-12-31") && year.covers("2026-06-15"));
        assert!(!year.covers("2025-12-31") && !year.covers("2027-01-01"));
        assert!(list(None, None, true).covers("1999-01-01"));
        assert!(list(Some("2026-03-01"), None, true).covers("2030-01-01"));
        assert!(!list(None, Some("2026-03-01"), true).covers("2026-03-02"));
        assert!(!list(None, None, false).covers("2026-06-15"), "inactive lists cover nothing");
    }

    #[test]
    fn the_form_checks_names_currencies_and_dates() {
        let ok = from_form(
            &json!({ "name": "经销价", "currency": "CNY", "valid_from": "2026-01-01", "valid_to": "" }),
            false,
        );
        assert_eq!(ok.map(|l| (l.valid_from, l.valid_to, l.active)), Ok((Some("2026-01-01".into()), None, true)));
        let errors = from_form(
            &json!({ "name": " ", "currency": "JPY", "valid_from": "2026-13-01", "valid_to": "2026-01-01" }),
            true,
        )
        .expect_err("refused");
        let fields: Vec<&str> = errors.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(fields, ["name", "currency", "valid_from"]);
        let errors = from_form(
            &json!({ "name": "a", "currency": "EUR", "valid_from": "2026-02-01", "valid_to": "2026-01-01" }),
            true,
        )
        .expect_err("refused");
        assert_eq!(errors[0].0, "valid_to");
        assert_eq!(pair_key(3, 14), "3:14");
    }
}
