//! Hostile guest: `handle-http` recurses without end. Each frame lives on the wasm call stack
//! (no locals in linear memory) and does work after the recursive call, so the optimiser can
//! neither remove the recursion nor turn it into a loop. The host must trap the call-stack
//! overflow and answer with an error naming the plugin and version.

use tessera_sdk::http::{Request, Response};
use tessera_sdk::{Caller, Plugin};

struct HostileRecursion;

/// Never reaches `end`, which comes from the request so the compiler cannot know it; the
/// multiplication after the call keeps the call out of tail position.
#[inline(never)]
fn descend(depth: u64, end: u64) -> u64 {
    if depth == end {
        return depth;
    }
    descend(depth + 1, end).wrapping_mul(31).wrapping_add(depth)
}

impl Plugin for HostileRecursion {
    fn handle_http(_caller: Caller, request: Request) -> Response {
        // Unreachable by counting up from 0 in any time the host allows.
        let end = u64::MAX - request.path.len() as u64;
        Response::json(200, &descend(0, end))
    }
}

tessera_sdk::export!(HostileRecursion);
