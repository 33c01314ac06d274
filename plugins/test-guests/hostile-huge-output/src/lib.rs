//! Hostile guest: `handle-http` answers with a 100 MB body. The host must refuse it (the
//! memory cap, and the 10 MiB limit on response bodies) with an error naming the plugin and
//! version, never passing the body on or buffering it whole outside the guest's memory.

use tessera_sdk::http::{Request, Response};
use tessera_sdk::{Caller, Plugin};

const BODY: usize = 100 * 1000 * 1000;

struct HostileHugeOutput;

impl Plugin for HostileHugeOutput {
    fn handle_http(_caller: Caller, _request: Request) -> Response {
        Response { status: 200, headers: vec![("content-type".into(), "text/plain".into())], body: vec![b'x'; BODY] }
    }
}

tessera_sdk::export!(HostileHugeOutput);
