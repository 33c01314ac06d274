//! Hostile guest: `handle-http` loops forever without calling the host. The host must stop it
//! at the call deadline (epoch interruption) and answer 503/504 naming the plugin and version,
//! while it keeps serving every other request.

use tessera_sdk::http::{Request, Response};
use tessera_sdk::{Caller, Plugin};

struct HostileLoop;

impl Plugin for HostileLoop {
    fn handle_http(_caller: Caller, _request: Request) -> Response {
        let mut spins: u64 = 0;
        loop {
            // `black_box` keeps the optimiser from proving the loop does nothing.
            spins = std::hint::black_box(spins.wrapping_add(1));
        }
    }
}

tessera_sdk::export!(HostileLoop);
