//! Hostile guest: `handle-http` panics (on wasm32 a panic aborts, which traps). The host must
//! turn the trap into an error naming the plugin and version, count it toward the circuit
//! breaker, and keep serving.

use tessera_sdk::http::{Request, Response};
use tessera_sdk::{Caller, Plugin};

struct HostilePanic;

impl Plugin for HostilePanic {
    fn handle_http(_caller: Caller, request: Request) -> Response {
        panic!("hostile-panic: deliberate panic while handling {} {}", request.method, request.path)
    }
}

tessera_sdk::export!(HostilePanic);
