//! The inbound webhook, `/hooks/call-popup/<org>/…`, where phone systems report calls:
//!
//! - `POST /calls`: the plugin's own JSON (`formats::native`); also where the host relays native
//!   drivers (request kind `driver`, no token);
//! - `POST /asterisk`: AMI events as JSON (`formats::asterisk`);
//! - `POST /freeswitch`: event-socket events as JSON (`formats::freeswitch`).
//!
//! Every answer is JSON. A call event gets 200 with `{"call", "status", "matches", "popups"}`;
//! an event the plugin does not follow 202 (so that the sender does not retry it); a body it
//! cannot use 400 or 422 with `{"error"}` naming the field; a missing or wrong token 401; no
//! token configured 403. Nothing a sender posts can make the plugin panic.

use serde_json::json;
use tessera_sdk::http::{Request, Response};
use tessera_sdk::{Caller, Error, log};

use crate::auth::{self, Verdict};
use crate::call::Source;
use crate::config;
use crate::event::{BadInput, Parsed};
use crate::formats::{asterisk, freeswitch, native};
use crate::intake::{self, Route};
use crate::text::Text;
use tessera_sdk::time;

/// Handles a request to the plugin's routes.
pub fn handle(caller: &Caller, request: &Request) -> Response {
    let driver = request.is_driver();
    if !driver && !request.is_hook() {
        return error(404, "the plugin answers phone systems only, at /hooks/call-popup/<organisation>/calls");
    }
    let path = request.path.trim_end_matches('/');
    let parse: fn(&[u8]) -> Result<Parsed, BadInput> = match (path, driver) {
        ("/calls", false) => |body| native::parse(body, Source::Webhook),
        ("/calls", true) => |body| native::parse(body, Source::Driver),
        ("/asterisk", false) => asterisk::parse,
        ("/freeswitch", false) => freeswitch::parse,
        _ => return error(404, format!("no route {path:?}: post events to /calls, /asterisk or /freeswitch")),
    };
    if !request.method.eq_ignore_ascii_case("POST") {
        return error(405, format!("{} is not accepted here: post the event", request.method));
    }
    // A driver's report comes from the host itself and carries no token to check.
    let token = if driver { None } else { config::webhook_token() };
    match auth::check(request, token.as_deref()) {
        Verdict::Allowed => {}
        Verdict::NotConfigured => {
            return error(
                403,
                "no webhook token is configured: an administrator must set webhook_token in the settings of the \
                 call-popup plugin (插件设置 → Webhook 令牌) before the phone system can report calls",
            );
        }
        Verdict::Refused => {
            return error(
                401,
                "missing or wrong token: send the plugin's webhook_token as Authorization: Bearer <token> or as \
                 x-tessera-token: <token>",
            );
        }
    }
    let event = match parse(&request.body) {
        Ok(Parsed::Event(event)) => event,
        Ok(Parsed::Ignored(why)) => return Response::json(202, &json!({ "ignored": why })),
        Err(bad) => return error(bad.status, bad.message),
    };
    match intake::receive(Text::of(caller), &event, Route::ByExtension, time::now_ms()) {
        Ok(received) => Response::json(
            200,
            &json!({
                "call": received.call,
                "status": received.status.as_str(),
                "matches": received.matches,
                "popups": received.popups,
            }),
        ),
        Err(Error::Invalid(message)) => error(422, message),
        Err(e) => {
            log::warn(format!("{} event of call {} failed: {e}", event.kind.as_str(), event.call_id));
            error(e.http_status(), e.message())
        }
    }
}

/// A JSON error the sender can act on: `{"error": "…"}`.
fn error(status: u16, message: impl Into<String>) -> Response {
    Response::json(status, &json!({ "error": message.into() }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(response: &Response) -> serde_json::Value {
        serde_json::from_slice(&response.body).expect("a JSON body")
    }

    fn request(kind: &str, method: &str, path: &str) -> Request {
        let mut request = Request::new(method, path);
        request.kind = kind.into();
        request
    }

    // Only what is decided before any host call can run natively: routes and methods.

    #[test]
    fn signed_in_api_requests_and_unknown_paths_are_not_found() {
        let caller = Caller::new(1, Some(2), "zh-CN");
        let response = handle(&caller, &request("api", "POST", "/calls"));
        assert_eq!(response.status, 404);
        assert!(body(&response)["error"].as_str().is_some_and(|e| e.contains("/hooks/call-popup/")));
        let response = handle(&caller, &request("hook", "POST", "/sip"));
        assert_eq!((response.status, response.header("content-type")), (404, Some("application/json")));
        // A driver is relayed to the native format only.
        assert_eq!(handle(&caller, &request("driver", "POST", "/asterisk")).status, 404);
    }

    #[test]
    fn events_must_be_posted() {
        let caller = Caller::new(1, None, "zh-CN");
        let response = handle(&caller, &request("hook", "GET", "/calls/"));
        assert_eq!(response.status, 405);
        assert!(body(&response)["error"].as_str().is_some_and(|e| e.starts_with("GET")));
    }
}
