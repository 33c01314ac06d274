//! The benchmark guest: the smallest handlers there are, so `cargo xtask bench --only plugins`
//! times the runtime rather than the plugin. `GET /noop` answers 200 with an empty body and
//! calls nothing (the cost of a fresh instance and one call); `GET /customer/{id}` makes one
//! host call, `customers.get`, and answers 200 with the customer's id as text (that cost plus
//! one host-call round trip). Anything else is a 404.

use tessera_sdk::customers;
use tessera_sdk::http::{Request, Response};
use tessera_sdk::{Caller, Plugin};

struct Bench;

impl Plugin for Bench {
    fn handle_http(_caller: Caller, request: Request) -> Response {
        // No router: matching the path by hand keeps the guest's own work out of the figures.
        if request.path == "/noop" {
            return Response::empty(200);
        }
        let Some(id) = request.path.strip_prefix("/customer/").and_then(|id| id.parse().ok()) else {
            return Response::empty(404);
        };
        match customers::get(id) {
            Ok(customer) => Response::text(200, customer.id.to_string()),
            Err(e) => Response::error(&e),
        }
    }
}

tessera_sdk::export!(Bench);
