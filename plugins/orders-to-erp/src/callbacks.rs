//! The ERP's callbacks, `POST /hooks/orders-to-erp/<org>/erp`: the ERP reports that an order was
//! shipped, invoiced or cancelled. Every request is signed per Standard Webhooks with the
//! `erp_secret` setting (`signature`).
//!
//! ```json
//! {"type": "order.shipped", "data": {"order_id": 42, "erp_reference": "ERP-7781", "tracking": "SF1234567890", "note": "…"}}
//! ```
//!
//! `data` names the order by `order_id` or by `number`; `erp_reference`, `tracking`,
//! `invoice_number` and `note` are optional. Answers, each JSON:
//!
//! | status | when |
//! |---|---|
//! | 200 `{"order_id", "number", "status", "changed": true}` | applied |
//! | 200 `{…, "changed": false}` | the order is already there or past it (a repeated callback) |
//! | 400 | the body is not JSON of this shape, or the type is unknown |
//! | 401 | the signature is missing, wrong or older than five minutes |
//! | 403 | no valid `erp_secret` is configured |
//! | 404 | no such order |
//! | 409 | the change is not allowed from the order's status |

use serde::Deserialize;
use serde_json::{Value, json};
use tessera_sdk::http::{Request, Response};
use tessera_sdk::{Error, Id, Result, log, records};

use crate::config;
use crate::history::{self, Change, Source};
use crate::order::{self, Stored};
use crate::signature::{self, Headers, Refusal};
use crate::status::{Callback, Status, erp_callback};

/// The path of the callback under `/hooks/orders-to-erp/<org>`.
pub const PATH: &str = "/erp";
/// Characters of a reference, tracking or invoice number.
const MAX_REFERENCE: usize = 200;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Body {
    #[serde(rename = "type")]
    kind: String,
    data: Data,
    /// Standard Webhooks messages carry their time; it is not needed here.
    #[serde(default)]
    #[allow(dead_code)]
    timestamp: Option<Value>,
}

#[derive(Debug, Deserialize)]
struct Data {
    #[serde(default)]
    order_id: Option<Id>,
    #[serde(default)]
    number: Option<String>,
    #[serde(default)]
    erp_reference: Option<String>,
    #[serde(default)]
    tracking: Option<String>,
    #[serde(default)]
    invoice_number: Option<String>,
    #[serde(default)]
    note: Option<String>,
}

/// A JSON error: `{"error": code, "message": …}`.
fn error(status: u16, code: &str, message: impl Into<String>) -> Response {
    Response::json(status, &json!({ "error": code, "message": message.into() }))
}

/// The status a callback type asks for.
fn target(kind: &str) -> Option<Status> {
    match kind {
        "order.shipped" => Some(Status::Shipped),
        "order.invoiced" => Some(Status::Invoiced),
        "order.cancelled" => Some(Status::Cancelled),
        _ => None,
    }
}

fn clean(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().chars().take(MAX_REFERENCE).collect::<String>()).filter(|v| !v.is_empty())
}

/// Handles a hook request.
pub fn handle(request: &Request, now_ms: i64) -> Response {
    if request.path.trim_end_matches('/') != PATH {
        return error(404, "not-found", format!("no callback at {:?}: the ERP posts to {PATH}", request.path));
    }
    if !request.method.eq_ignore_ascii_case("POST") {
        return error(405, "method-not-allowed", format!("{} is not accepted: post the callback", request.method));
    }
    let Some(secret) = config::erp_secret() else {
        return error(
            403,
            "not-configured",
            "no erp_secret is configured: an administrator must set it in the plugin's settings before the ERP can call back",
        );
    };
    let headers = Headers {
        id: request.header("webhook-id"),
        timestamp: request.header("webhook-timestamp"),
        signature: request.header("webhook-signature"),
    };
    match signature::verify(&secret, headers, &request.body, now_ms.div_euclid(1000)) {
        Ok(()) => {}
        Err(Refusal::BadSecret) => return error(403, "not-configured", Refusal::BadSecret.message()),
        Err(refusal) => return error(401, "bad-signature", refusal.message()),
    }
    let body: Body = match serde_json::from_slice(&request.body) {
        Ok(body) => body,
        Err(e) => return error(400, "bad-body", format!("the body is not a callback: {e}")),
    };
    let Some(to) = target(&body.kind) else {
        return error(
            400,
            "bad-body",
            format!("type: {:?} is not one of order.shipped, order.invoiced, order.cancelled", body.kind),
        );
    };
    let stored = match find(&body.data) {
        Ok(stored) => stored,
        Err(Error::Invalid(m)) => return error(400, "bad-body", m),
        Err(Error::NotFound(m)) => return error(404, "not-found", m),
        Err(e) => return error(e.http_status(), e.kind(), e.message()),
    };
    match apply(stored, to, body.data, now_ms) {
        Ok(answer) => Response::json(200, &answer),
        Err(Error::Conflict(m)) => error(409, "invalid-transition", m),
        Err(e) => {
            log::warn(format!("the ERP's {} callback failed: {e}", body.kind));
            error(e.http_status(), e.kind(), e.message())
        }
    }
}

/// The order a callback names.
fn find(data: &Data) -> Result<Stored> {
    match (data.order_id, data.number.as_deref().map(str::trim).filter(|n| !n.is_empty())) {
        (Some(id), _) => order::get(id).map_err(|e| match e {
            Error::NotFound(_) => Error::not_found(format!("no order {id}")),
            other => other,
        }),
        (None, Some(number)) => order::by_number(number)?.ok_or_else(|| Error::not_found(format!("no order {number}"))),
        (None, None) => Err(Error::invalid("data: name the order by order_id or number")),
    }
}

/// Applies the callback to the order, with a compare-and-set on its record version.
fn apply(mut stored: Stored, to: Status, data: Data, now_ms: i64) -> Result<Value> {
    let erp_reference = clean(data.erp_reference);
    let tracking = clean(data.tracking);
    let invoice_number = clean(data.invoice_number);
    let note = [
        clean(data.note),
        tracking.as_ref().map(|t| format!("tracking {t}")),
        invoice_number.as_ref().map(|i| format!("invoice {i}")),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" · ");
    let key = format!("order-{}-{}", stored.id, to.as_str());
    for attempt in 1..=3 {
        let from = stored.fields.status;
        let answer = |changed: bool, status: Status, o: &Stored| json!({ "order_id": o.id, "number": o.fields.number, "status": status, "changed": changed });
        match erp_callback(from, to) {
            Callback::Invalid => {
                return Err(Error::conflict(format!(
                    "{} is {}: it cannot become {}",
                    stored.fields.number_or(stored.id),
                    from.as_str(),
                    to.as_str()
                )));
            }
            Callback::AlreadyDone => return Ok(answer(false, from, &stored)),
            Callback::Apply => {}
        }
        let mut next = stored.fields.clone();
        next.status = to;
        next.erp_reference = erp_reference.clone().or(next.erp_reference);
        next.tracking = tracking.clone().or(next.tracking);
        next.invoice_number = invoice_number.clone().or(next.invoice_number);
        next.summary = next.summary_for(stored.id);
        let patch = json!({
            "status": next.status,
            "erp_reference": next.erp_reference,
            "tracking": next.tracking,
            "invoice_number": next.invoice_number,
            "summary": next.summary,
        });
        match records::update(order::ENTITY, stored.id, &patch.to_string(), Some(stored.version)) {
            Ok(record) => {
                let updated: Stored = record.into_typed()?;
                let change = Change {
                    from: Some(from),
                    to,
                    at: now_ms,
                    by: None,
                    source: Source::Erp,
                    note: Some(note.as_str()).filter(|n| !n.is_empty()),
                };
                history::record(&updated, &change, &key)?;
                return Ok(answer(true, to, &updated));
            }
            Err(Error::Conflict(_)) if attempt < 3 => stored = order::get(stored.id)?,
            Err(e) => return Err(e),
        }
    }
    Err(Error::conflict(format!("order {} kept changing; send the callback again", stored.id)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hook(method: &str, path: &str) -> Request {
        let mut request = Request::new(method, path);
        request.kind = "hook".into();
        request
    }

    fn body(response: &Response) -> Value {
        serde_json::from_slice(&response.body).unwrap_or(Value::Null)
    }

    // Only what is decided before any host call can run natively: routes and methods.

    #[test]
    fn other_paths_and_methods_are_refused_as_json() {
        let response = handle(&hook("POST", "/shipments"), 0);
        assert_eq!((response.status, body(&response)["error"].as_str()), (404, Some("not-found")));
        let response = handle(&hook("GET", "/erp/"), 0);
        assert_eq!((response.status, response.header("content-type")), (405, Some("application/json")));
    }

    #[test]
    fn callback_types_name_their_status() {
        assert_eq!(target("order.shipped"), Some(Status::Shipped));
        assert_eq!(target("order.invoiced"), Some(Status::Invoiced));
        assert_eq!(target("order.cancelled"), Some(Status::Cancelled));
        assert_eq!(target("order.approved"), None);
        assert_eq!(clean(Some("  ".into())), None);
        assert_eq!(clean(Some(" SF1 ".into())).as_deref(), Some("SF1"));
        assert_eq!(clean(Some("x".repeat(500))).map(|v| v.len()), Some(MAX_REFERENCE));
    }

    #[test]
    fn bodies_must_have_the_documented_shape() {
        let ok: Body = serde_json::from_str(r#"{"type":"order.shipped","data":{"number":"SO-1","tracking":"SF1"}}"#)
            .expect("reads");
        assert_eq!((ok.kind.as_str(), ok.data.number.as_deref()), ("order.shipped", Some("SO-1")));
        assert!(serde_json::from_str::<Body>(r#"{"type":"order.shipped"}"#).is_err());
        assert!(serde_json::from_str::<Body>(r#"{"type":"order.shipped","data":{},"extra":1}"#).is_err());
        assert!(serde_json::from_str::<Body>(r#"{"type":"order.shipped","data":{"order_id":"x"}}"#).is_err());
    }
}
