//! The JSON API for integrations, under `/api/plugins/orders-to-erp/…`, answered on behalf of the
//! signed-in user (or personal API token): it sees and does no more than the user may.
//!
//! | method | path | what |
//! |---|---|---|
//! | POST | `/orders` | `{customer_id, lines: [{sku, quantity, discount_bp?}], discount_minor?, notes?, price_list_id?, submit?}` → 201 the order with its lines; with an `Idempotency-Key` header, a repeat → 200 the same order |
//! | GET | `/orders` | `?status=&customer_id=&limit=&cursor=` → `{items, next_cursor}` |
//! | GET | `/orders/{id}` | the order with its lines and status history |
//! | POST | `/orders/{id}/submit` | submits a draft for approval → the order |
//! | GET | `/products` | `?active=&limit=&cursor=` → `{items, next_cursor}` |
//!
//! Errors are `{"error": "<kind>", "message": "…"}`: 400 for a body that is not a JSON object,
//! 422 for a field that fails (the message names it: `lines[2].quantity: …`, an unknown SKU, a
//! customer that does not exist, amounts too large), 404 for an unknown order, 409 for an order
//! in the wrong status. When `submit` is true and the order cannot be submitted (its approval
//! step has nobody to ask), the draft stays: the error answer carries it as `order`. Creating an
//! order takes about ten host calls and no more than one per line and product beyond that, so
//! that bulk loads stay fast.
//!
//! `POST /orders` takes an `Idempotency-Key` header (1–100 visible ASCII characters), so that an
//! integration may send a request again when it got no answer: a repeat answers 200 with the
//! order the first request created (header `idempotent-replayed: true`) and places no other, and
//! when the first asked to submit and was stopped before it did, the repeat submits.

use std::collections::HashMap;

use serde_json::{Map, Value, json};
use tessera_sdk::http::{Request, Response, Router};
use tessera_sdk::records::{self, Query};
use tessera_sdk::{Caller, Error, Id, Result};

use crate::config::{self, Clock};
use crate::history;
use crate::money;
use crate::order::{self, Draft, NewLine};
use crate::price_list;
use crate::product::{self, Product};
use crate::status::Status;

/// Fields `POST /orders` takes.
const ORDER_FIELDS: [&str; 7] =
    ["customer_id", "lines", "discount_minor", "notes", "price_list_id", "submit", "currency"];
const LINE_FIELDS: [&str; 3] = ["sku", "quantity", "discount_bp"];

/// Routes a signed-in user's request.
pub fn handle(caller: &Caller, request: &Request, now: i64) -> Response {
    Router::new(request)
        .post("/orders", |_| create(caller, request, now))
        .get("/orders", |_| list(request))
        .get("/orders/{id}", |params| show(params.id("id")?))
        .post("/orders/{id}/submit", |params| {
            let id = params.id("id")?;
            order::submit(id, caller.user_id, now)?;
            show(id).map(|r| with_status(r, 200))
        })
        .get("/products", |_| products(request))
        .finish()
}

fn with_status(mut response: Response, status: u16) -> Response {
    response.status = status;
    response
}

fn bad_request(message: impl Into<String>) -> Response {
    Response::json(400, &json!({ "error": "bad-request", "message": message.into() }))
}

/// An order as `POST /orders` asks for it, checked without host calls.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderRequest {
    pub customer_id: Id,
    pub lines: Vec<LineRequest>,
    pub discount_minor: i64,
    pub notes: Option<String>,
    pub price_list_id: Option<Id>,
    pub submit: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LineRequest {
    pub sku: String,
    pub quantity_milli: i64,
    pub discount_bp: i64,
}

fn unknown_fields(object: &Map<String, Value>, known: &[&str], at: &str) -> Result<()> {
    match object.keys().find(|k| !known.contains(&k.as_str())) {
        Some(key) => Err(Error::invalid(format!("{at}{key}: unknown field; the fields are {}", known.join(", ")))),
        None => Ok(()),
    }
}

fn optional_id(object: &Map<String, Value>, name: &str) -> Result<Option<Id>> {
    match object.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_i64()
            .filter(|id| *id > 0)
            .map(Some)
            .ok_or_else(|| Error::invalid(format!("{name}: must be a record id"))),
    }
}

/// Reads the body of `POST /orders`; the message of a failure names the field.
pub fn read_request(body: &Value) -> Result<OrderRequest> {
    let object = body.as_object().ok_or_else(|| Error::invalid("the body must be a JSON object"))?;
    unknown_fields(object, &ORDER_FIELDS, "")?;
    let customer_id = optional_id(object, "customer_id")?
        .ok_or_else(|| Error::invalid("customer_id: required, the id of the customer the order is for"))?;
    let lines = match object.get("lines") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(lines)) if lines.len() > order::MAX_LINES => {
            return Err(Error::invalid(format!("lines: at most {} lines per order", order::MAX_LINES)));
        }
        Some(Value::Array(lines)) => {
            lines.iter().enumerate().map(|(i, line)| read_line(i, line)).collect::<Result<_>>()?
        }
        Some(_) => return Err(Error::invalid("lines: must be an array of {sku, quantity, discount_bp?}")),
    };
    let discount_minor = match object.get("discount_minor") {
        None | Some(Value::Null) => 0,
        Some(v) => v
            .as_i64()
            .filter(|d| *d >= 0)
            .ok_or_else(|| Error::invalid("discount_minor: must be a whole number of minor units, 0 or more"))?,
    };
    let notes = match object.get("notes") {
        None | Some(Value::Null) => None,
        Some(Value::String(n)) => Some(n.trim().to_owned()).filter(|n| !n.is_empty()),
        Some(_) => return Err(Error::invalid("notes: must be text")),
    };
    if notes.as_ref().is_some_and(|n| n.chars().count() > order::MAX_NOTES) {
        return Err(Error::invalid(format!("notes: at most {} characters", order::MAX_NOTES)));
    }
    let submit = match object.get("submit") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(Error::invalid("submit: must be true or false")),
    };
    if object.get("currency").is_some_and(|c| !c.is_null()) {
        return Err(Error::invalid(
            "currency: comes from the price list or the plugin's currency setting; leave it out",
        ));
    }
    Ok(OrderRequest {
        customer_id,
        lines,
        discount_minor,
        notes,
        price_list_id: optional_id(object, "price_list_id")?,
        submit,
    })
}

fn read_line(i: usize, line: &Value) -> Result<LineRequest> {
    let at = format!("lines[{i}].");
    let object = line
        .as_object()
        .ok_or_else(|| Error::invalid(format!("lines[{i}]: must be an object {{sku, quantity, discount_bp?}}")))?;
    unknown_fields(object, &LINE_FIELDS, &at)?;
    let sku = object
        .get("sku")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| Error::invalid(format!("{at}sku: required")))?
        .to_owned();
    let quantity = object.get("quantity").ok_or_else(|| Error::invalid(format!("{at}quantity: required")))?;
    let quantity_milli = money::parse_quantity(quantity, &format!("{at}quantity"))?;
    let discount_bp = match object.get("discount_bp") {
        None | Some(Value::Null) => 0,
        Some(v) => v.as_i64().filter(|d| (0..=money::BP).contains(d)).ok_or_else(|| {
            Error::invalid(format!("{at}discount_bp: must be a whole number from 0 to 10000 (100 %)"))
        })?,
    };
    Ok(LineRequest { sku, quantity_milli, discount_bp })
}

/// The longest `Idempotency-Key`.
const MAX_REQUEST_KEY: usize = 100;

/// The request's `Idempotency-Key`, if it has one.
fn request_key(request: &Request) -> std::result::Result<Option<String>, Response> {
    let Some(key) = request.header("idempotency-key") else { return Ok(None) };
    let key = key.trim();
    if key.is_empty() || key.len() > MAX_REQUEST_KEY || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(bad_request(format!(
            "Idempotency-Key: 1 to {MAX_REQUEST_KEY} visible ASCII characters, not {key:?}"
        )));
    }
    Ok(Some(key.to_owned()))
}

/// The answer to a repeated request: the order the first one created, submitted now if the
/// first asked to and was stopped before it did.
fn replay(caller: &Caller, existing: order::Stored, submit: bool, now: i64) -> Result<Response> {
    let fields = &existing.fields;
    if submit && fields.status == Status::Draft && fields.approval_id.is_none() {
        order::submit(existing.id, caller.user_id, now)?;
    }
    Ok(show(existing.id)?.with_header("idempotent-replayed", "true"))
}

/// `POST /orders`.
fn create(caller: &Caller, request: &Request, now: i64) -> Result<Response> {
    let body: Value = match serde_json::from_slice(&request.body) {
        Ok(body) => body,
        Err(e) => return Ok(bad_request(format!("the body is not JSON: {e}"))),
    };
    if !body.is_object() {
        return Ok(bad_request("the body must be a JSON object"));
    }
    let key = match request_key(request) {
        Ok(key) => key,
        Err(answer) => return Ok(answer),
    };
    let wanted = read_request(&body)?;
    if let Some(key) = &key
        && let Some(existing) = order::by_request_key(key)?
    {
        return replay(caller, existing, wanted.submit, now);
    }
    let customer = match order::customer(wanted.customer_id) {
        Ok(c) => c,
        Err(Error::NotFound(_)) => {
            return Err(Error::invalid(format!("customer_id: no customer {} that you may see", wanted.customer_id)));
        }
        Err(e) => return Err(e),
    };
    let clock = Clock::load();
    let (price_list_id, currency) = choose_price_list(wanted.price_list_id, &clock, now)?;
    let lines = resolve_lines(&wanted.lines, price_list_id)?;
    let draft = Draft {
        customer,
        currency,
        price_list_id,
        lines,
        discount_minor: wanted.discount_minor,
        notes: wanted.notes,
        request_key: key.clone(),
    };
    let (mut stored, lines) = match order::create(draft, &clock, caller.user_id, now) {
        Ok(created) => created,
        // A repeat of this request, sent at the same time, created the order first.
        Err(Error::Conflict(e)) => match key.as_deref().map(order::by_request_key).transpose()?.flatten() {
            Some(existing) => return replay(caller, existing, wanted.submit, now),
            None => return Err(Error::Conflict(e)),
        },
        Err(e) => return Err(e),
    };
    if wanted.submit {
        match order::submit(stored.id, caller.user_id, now) {
            Ok(submitted) => stored = submitted,
            Err(e) => {
                // The draft exists: say why it was not submitted, and give it back so that it can
                // be submitted later with `POST /orders/{id}/submit`.
                let mut draft = order::order_json(&stored);
                draft["lines"] = lines.iter().map(order::line_json).collect();
                let body = json!({ "error": e.kind(), "message": e.message(), "order": draft });
                return Ok(Response::json(e.http_status(), &body));
            }
        }
    }
    let mut answer = order::order_json(&stored);
    answer["lines"] = lines.iter().map(order::line_json).collect();
    Ok(Response::json(201, &answer))
}

/// The order's price list (the one asked for, which must be active, or the default) and its
/// currency.
pub fn choose_price_list(asked: Option<Id>, clock: &Clock, now: i64) -> Result<(Option<Id>, String)> {
    match asked {
        Some(id) => {
            let list = price_list::get(id).map_err(|e| match e {
                Error::NotFound(_) => Error::invalid(format!("price_list_id: no price list {id}")),
                other => other,
            })?;
            if !list.fields.active {
                return Err(Error::invalid(format!(
                    "price_list_id: the price list {} is not active",
                    list.fields.name
                )));
            }
            Ok((Some(id), list.fields.currency))
        }
        None => {
            let currency = config::currency();
            let list = price_list::default_for(&currency, &clock.date(now))?;
            Ok((list.map(|l| l.id), currency))
        }
    }
}

/// The products and prices of the requested lines: one lookup per distinct SKU, and one per
/// distinct product for the list's price.
fn resolve_lines(lines: &[LineRequest], price_list_id: Option<Id>) -> Result<Vec<NewLine>> {
    let mut products: HashMap<String, (Id, Product)> = HashMap::new();
    let mut prices: HashMap<Id, i64> = HashMap::new();
    let mut out = Vec::with_capacity(lines.len());
    for (i, line) in lines.iter().enumerate() {
        if !products.contains_key(&line.sku) {
            let found = product::by_sku(&line.sku)?
                .ok_or_else(|| Error::invalid(format!("lines[{i}].sku: no product has the SKU {:?}", line.sku)))?;
            if !found.fields.active {
                return Err(Error::invalid(format!("lines[{i}].sku: {} is not sold any more (inactive)", line.sku)));
            }
            products.insert(line.sku.clone(), (found.id, found.fields));
        }
        let Some((product_id, p)) = products.get(&line.sku) else { continue };
        let price = match (price_list_id, prices.get(product_id)) {
            (_, Some(price)) => *price,
            (Some(list), None) => {
                let price = price_list::price_of(list, *product_id)?.unwrap_or(p.price_minor);
                prices.insert(*product_id, price);
                price
            }
            (None, None) => p.price_minor,
        };
        out.push(NewLine {
            product_id: *product_id,
            sku: p.sku.clone(),
            name: p.name.clone(),
            unit: p.unit.clone(),
            quantity_milli: line.quantity_milli,
            unit_price_minor: price,
            discount_bp: line.discount_bp,
            tax_rate_bp: p.tax_rate_bp,
        });
    }
    Ok(out)
}

/// `GET /orders/{id}`: the order, its lines and its history.
fn show(id: Id) -> Result<Response> {
    let stored = order::get(id)?;
    let mut answer = order::order_json(&stored);
    answer["lines"] = order::lines(id)?.iter().map(order::line_json).collect();
    answer["history"] = history::of_order(id)?.iter().map(history::to_json).collect();
    Ok(Response::json(200, &answer))
}

fn limit_of(request: &Request) -> Result<u32> {
    Ok(request.query_parsed::<u32>("limit")?.unwrap_or(50).clamp(1, 500))
}

/// `GET /orders`.
fn list(request: &Request) -> Result<Response> {
    let mut query = Query::new(order::ENTITY).limit(limit_of(request)?);
    if let Some(status) = request.query_param("status").filter(|s| !s.is_empty()) {
        let status =
            Status::parse(&status).ok_or_else(|| Error::invalid(format!("status: {status:?} is not a status")))?;
        query = query.eq("status", status.as_str());
    }
    if let Some(customer) = request.query_parsed::<Id>("customer_id")? {
        query = query.customer(customer);
    }
    if let Some(cursor) = request.query_param("cursor").filter(|c| !c.is_empty()) {
        query = query.cursor(cursor);
    }
    let (orders, next) = records::find_typed::<order::Order>(&query)?;
    let items: Vec<Value> = orders.iter().map(order::order_json).collect();
    Ok(Response::json(200, &json!({ "items": items, "next_cursor": next })))
}

/// `GET /products`.
fn products(request: &Request) -> Result<Response> {
    let mut query = Query::new(product::ENTITY).order_by("sku").limit(limit_of(request)?);
    if let Some(active) = request.query_parsed::<bool>("active")? {
        query = query.eq("active", active);
    }
    if let Some(cursor) = request.query_param("cursor").filter(|c| !c.is_empty()) {
        query = query.cursor(cursor);
    }
    let (found, next) = records::find_typed::<Product>(&query)?;
    let items: Vec<Value> = found.iter().map(product::to_json).collect();
    Ok(Response::json(200, &json!({ "items": items, "next_cursor": next })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(body: Value) -> String {
        read_request(&body).expect_err("refused").message().to_owned()
    }

    #[test]
    fn a_full_request_reads() {
        let body = json!({
            "customer_id": 7,
            "lines": [{ "sku": " A-100 ", "quantity": 2.5, "discount_bp": 500 }, { "sku": "B", "quantity": "3" }],
            "discount_minor": 1000,
            "notes": " 月底前发货 ",
            "submit": true,
        });
        let r = read_request(&body).expect("reads");
        assert_eq!((r.customer_id, r.discount_minor, r.submit, r.price_list_id), (7, 1_000, true, None));
        assert_eq!(r.notes.as_deref(), Some("月底前发货"));
        assert_eq!(
            r.lines,
            [
                LineRequest { sku: "A-100".into(), quantity_milli: 2_500, discount_bp: 500 },
                LineRequest { sku: "B".into(), quantity_milli: 3_000, discount_bp: 0 },
            ]
        );
        let minimal = read_request(&json!({ "customer_id": 1 })).expect("reads");
        assert!(minimal.lines.is_empty() && !minimal.submit);
    }

    #[test]
    fn each_bad_field_is_named() {
        assert_eq!(err(json!({})), "customer_id: required, the id of the customer the order is for");
        assert_eq!(err(json!({ "customer_id": "7" })), "customer_id: must be a record id");
        assert_eq!(
            err(json!({ "customer_id": 7, "lines": {} })),
            "lines: must be an array of {sku, quantity, discount_bp?}"
        );
        assert_eq!(err(json!({ "customer_id": 7, "lines": [{ "quantity": 1 }] })), "lines[0].sku: required");
        assert_eq!(err(json!({ "customer_id": 7, "lines": [{ "sku": "A" }] })), "lines[0].quantity: required");
        assert_eq!(
            err(json!({ "customer_id": 7, "lines": [{ "sku": "A", "quantity": 1 }, { "sku": "A", "quantity": 0 }] })),
            "lines[1].quantity: the quantity must be greater than 0, not 0"
        );
        assert_eq!(
            err(json!({ "customer_id": 7, "lines": [{ "sku": "A", "quantity": -2 }] })),
            "lines[0].quantity: the quantity must be greater than 0, not -2"
        );
        assert!(
            err(json!({ "customer_id": 7, "lines": [{ "sku": "A", "quantity": 1, "discount_bp": 10001 }] }))
                .starts_with("lines[0].discount_bp:")
        );
        assert!(
            err(json!({ "customer_id": 7, "lines": [{ "sku": "A", "quantity": 1, "price": 1 }] }))
                .starts_with("lines[0].price: unknown field")
        );
        assert!(err(json!({ "customer_id": 7, "discount_minor": -1 })).starts_with("discount_minor:"));
        assert!(err(json!({ "customer_id": 7, "discount_minor": 1.5 })).starts_with("discount_minor:"));
        assert!(err(json!({ "customer_id": 7, "submit": "yes" })).starts_with("submit:"));
        assert!(err(json!({ "customer_id": 7, "total": 1 })).starts_with("total: unknown field"));
        assert!(err(json!({ "customer_id": 7, "currency": "USD" })).starts_with("currency:"));
        assert!(err(json!({ "customer_id": 7, "notes": "x".repeat(2_001) })).starts_with("notes:"));
        let too_many: Vec<Value> = (0..201).map(|_| json!({ "sku": "A", "quantity": 1 })).collect();
        assert!(err(json!({ "customer_id": 7, "lines": too_many })).starts_with("lines: at most 200"));
        assert_eq!(err(json!([])), "the body must be a JSON object");
    }

    #[test]
    fn a_quantity_too_large_for_64_bits_is_refused() {
        let message = err(json!({ "customer_id": 7, "lines": [{ "sku": "A", "quantity": "99999999999999999999" }] }));
        assert!(message.starts_with("lines[0].quantity") && message.contains("too large"), "{message}");
    }
}
