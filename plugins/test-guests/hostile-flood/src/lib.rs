//! Hostile guest: `handle-http` calls the host 100 million times (`settings.get` in a loop).
//! The host must cut it off when its host-call budget is spent (`settings.get` cannot return
//! an error, so with a trap) or at the call deadline, and answer with an error naming the
//! plugin and version.

use tessera_sdk::http::{Request, Response};
use tessera_sdk::{Caller, Plugin, settings};

const CALLS: u64 = 100_000_000;

struct HostileFlood;

impl Plugin for HostileFlood {
    fn handle_http(_caller: Caller, _request: Request) -> Response {
        let mut answered: u64 = 0;
        for _ in 0..CALLS {
            if settings::get("greeting").is_some() {
                answered += 1;
            }
        }
        // Reached only if the host let every call through.
        Response::json(200, &tessera_sdk::serde_json::json!({ "calls": CALLS, "answered": answered }))
    }
}

tessera_sdk::export!(HostileFlood);
