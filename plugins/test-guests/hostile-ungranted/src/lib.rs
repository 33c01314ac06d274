//! Hostile guest: requests only `customers:read`, which a test enables it without granting,
//! and also calls `notify.push`, which it never requested. The host must answer both calls
//! with `error::denied` (never a trap); `GET /` reports what it got:
//! `{"customers": <count> | "<error variant>", "notify": <delivered> | "<error variant>"}`,
//! with status 403 when the customer query was denied and 200 otherwise.

use serde_json::{Value, json};
use tessera_sdk::customers::{self, CustomerQuery};
use tessera_sdk::http::{Request, Response};
use tessera_sdk::notify::{self, Message};
use tessera_sdk::{Caller, Error, Plugin};

struct HostileUngranted;

impl Plugin for HostileUngranted {
    fn handle_http(caller: Caller, _request: Request) -> Response {
        let customers = customers::query(&CustomerQuery::new());
        let user = caller.user_id.unwrap_or(1);
        let notify = notify::push(&[user], &Message::new("hostile-ungranted", "a notification nobody granted"));
        let status = match &customers {
            Err(Error::Denied(_)) => 403,
            _ => 200,
        };
        let customers = match customers {
            Ok(page) => json!(page.items.len()),
            Err(e) => Value::from(e.kind()),
        };
        let notify = match notify {
            Ok(delivered) => json!(delivered),
            Err(e) => Value::from(e.kind()),
        };
        Response::json(status, &json!({ "customers": customers, "notify": notify }))
    }
}

tessera_sdk::export!(HostileUngranted);
