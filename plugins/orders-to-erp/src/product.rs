//! Products (entity `product`, reference data): SKU, name, unit, tax-exclusive price in minor
//! units, tax rate in basis points, whether it is sold, and the stock the ERP last reported.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tessera_sdk::records::{self, Query, Typed};
use tessera_sdk::{Error, Id, Result};

use crate::money::{self, BP};

pub const ENTITY: &str = "product";

fn yes() -> bool {
    true
}

/// A product's fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Product {
    pub sku: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    pub price_minor: i64,
    #[serde(default)]
    pub tax_rate_bp: i64,
    #[serde(default = "yes")]
    pub active: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stock: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stock_synced_at: Option<i64>,
}

pub type Stored = Typed<Product>;

/// The product with this SKU, if any.
pub fn by_sku(sku: &str) -> Result<Option<Stored>> {
    let (mut found, _) = records::find_typed::<Product>(&Query::new(ENTITY).eq("sku", sku).limit(1))?;
    Ok(found.pop())
}

/// One product.
pub fn get(id: Id) -> Result<Stored> {
    records::get_typed(ENTITY, id)
}

/// Active products by SKU, for the forms' product choices (at most `limit`).
pub fn active(limit: u32) -> Result<Vec<Stored>> {
    let query = Query::new(ENTITY).eq("active", true).order_by("sku").limit(limit);
    Ok(records::find_typed::<Product>(&query)?.0)
}

/// `SKU · name · ¥12.00`, as a product choice reads.
pub fn choice_label(product: &Product, currency: &str) -> String {
    format!("{} · {} · {}", product.sku, product.name, money::format(product.price_minor, currency))
}

/// The product form's values, checked: `(product, errors by field)`. A product that fails a
/// check is `None`, and every failing field has its message.
pub fn from_form(input: &Value, en: bool) -> (Option<Product>, Vec<(String, String)>) {
    let pick = |zh: &str, e: &str| if en { e.to_owned() } else { zh.to_owned() };
    let mut errors = Vec::new();
    let text = |name: &str| input.get(name).and_then(Value::as_str).map(str::trim).unwrap_or_default().to_owned();
    let sku = text("sku");
    if sku.is_empty() || sku.chars().count() > 64 || sku.chars().any(char::is_whitespace) {
        errors.push((
            "sku".into(),
            pick("编码必填，最多 64 个字符，不含空格", "Required, at most 64 characters, no spaces"),
        ));
    }
    let name = text("name");
    if name.is_empty() || name.chars().count() > 200 {
        errors.push(("name".into(), pick("名称必填，最多 200 个字符", "Required, at most 200 characters")));
    }
    let unit = Some(text("unit")).filter(|u| !u.is_empty());
    let price = input.get("price").map(|v| money::parse_amount(v, "price"));
    let price_minor = match price {
        Some(Ok(p)) if p >= 0 => Some(p),
        _ => {
            errors.push((
                "price".into(),
                pick(
                    "请输入不小于 0 的金额，最多两位小数，如 12.50",
                    "Enter an amount of 0 or more with at most two decimals, e.g. 12.50",
                ),
            ));
            None
        }
    };
    // The rate is entered in percent with up to two decimals: 13 → 1300 basis points.
    let rate = match input.get("tax_rate").and_then(money::decimal_text) {
        None => Some(0),
        Some(text) => money::parse_scaled(&text, 2, "tax_rate").ok().filter(|bp| (0..=BP).contains(bp)),
    };
    if rate.is_none() {
        errors
            .push(("tax_rate".into(), pick("税率为 0 到 100 的百分数，如 13", "A percentage from 0 to 100, e.g. 13")));
    }
    let active = input.get("active").and_then(Value::as_bool).unwrap_or(true);
    match (price_minor, rate, errors.is_empty()) {
        (Some(price_minor), Some(tax_rate_bp), true) => (
            Some(Product { sku, name, unit, price_minor, tax_rate_bp, active, stock: None, stock_synced_at: None }),
            errors,
        ),
        _ => (None, errors),
    }
}

/// Adds a product; a SKU another product has is refused, naming it.
pub fn insert(product: &Product) -> Result<Stored> {
    if by_sku(&product.sku)?.is_some() {
        return Err(Error::conflict(format!("another product has the SKU {}", product.sku)));
    }
    records::insert_typed(ENTITY, product, None)?.into_typed()
}

/// Changes a product's details (not its stock, which the ERP reports).
pub fn update(id: Id, product: &Product) -> Result<Stored> {
    let patch = json!({
        "sku": product.sku,
        "name": product.name,
        "unit": product.unit,
        "price_minor": product.price_minor,
        "tax_rate_bp": product.tax_rate_bp,
        "active": product.active,
    });
    records::update(ENTITY, id, &patch.to_string(), None)?.into_typed()
}

/// Sells a product again, or stops selling it.
pub fn set_active(id: Id, active: bool) -> Result<Stored> {
    records::update(ENTITY, id, &json!({ "active": active }).to_string(), None)?.into_typed()
}

/// A product as the JSON API answers it.
pub fn to_json(product: &Stored) -> Value {
    let p = &product.fields;
    json!({
        "id": product.id,
        "sku": p.sku,
        "name": p.name,
        "unit": p.unit,
        "price_minor": p.price_minor,
        "tax_rate_bp": p.tax_rate_bp,
        "active": p.active,
        "stock": p.stock,
        "stock_synced_at": p.stock_synced_at.map(tessera_sdk::time::rfc3339),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_reads_prices_and_rates_exactly() {
        let input = json!({ "sku": "A-100", "name": "办公椅", "unit": "把", "price": "1,299.90", "tax_rate": 13, "active": true });
        let (product, errors) = from_form(&input, false);
        assert!(errors.is_empty(), "{errors:?}");
        let product = product.expect("a product");
        assert_eq!((product.price_minor, product.tax_rate_bp, product.unit.as_deref()), (129_990, 1_300, Some("把")));
        let (product, _) = from_form(&json!({ "sku": "B", "name": "b", "price": 0.1, "tax_rate": "6.5" }), true);
        assert_eq!(product.map(|p| (p.price_minor, p.tax_rate_bp, p.active)), Some((10, 650, true)));
    }

    #[test]
    fn every_bad_field_is_named() {
        let input = json!({ "sku": "has space", "name": "", "price": "-1", "tax_rate": 101 });
        let (product, errors) = from_form(&input, true);
        assert_eq!(product, None);
        let fields: Vec<&str> = errors.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(fields, ["sku", "name", "price", "tax_rate"]);
        let (_, errors) = from_form(&json!({ "sku": "A", "name": "a", "price": "1.234" }), false);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].0, "price");
    }
}
