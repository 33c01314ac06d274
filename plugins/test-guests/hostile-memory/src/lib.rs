//! Hostile guest: `handle-http` grabs memory in 64 MiB steps, writing every page, up to 4 GiB.
//! The host must refuse to grow the guest's memory past its cap, so the allocation fails and
//! the guest traps; the host's own memory never grows past the cap, and it answers with an
//! error naming the plugin and version.

use tessera_sdk::http::{Request, Response};
use tessera_sdk::{Caller, Plugin};

const STEP: usize = 64 << 20;
const STEPS: usize = 64; // 64 × 64 MiB = 4 GiB, the whole 32-bit address space.

struct HostileMemory;

impl Plugin for HostileMemory {
    fn handle_http(_caller: Caller, _request: Request) -> Response {
        let mut hoard: Vec<Vec<u8>> = Vec::new();
        for step in 0..STEPS {
            // `resize` writes every byte, so every page is really used, not just reserved.
            let mut chunk = Vec::with_capacity(STEP);
            chunk.resize(STEP, step as u8 | 1);
            hoard.push(std::hint::black_box(chunk));
        }
        // Reached only if the host let the guest have 4 GiB.
        let total: usize = hoard.iter().map(Vec::len).sum();
        Response::json(200, &total)
    }
}

tessera_sdk::export!(HostileMemory);
