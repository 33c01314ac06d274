//! Hostile guest: imports `acme:backdoor/shell`, an interface no Tessera host provides, and
//! calls it in `handle-http` so the import is really used. The host must refuse the package
//! before instantiating it, with a message naming the unknown import, the plugin and version.
//!
//! Built with wit-bindgen directly (not the SDK) against `wit/`: a copy of the plugin API plus
//! the `acme:backdoor` package in `wit/deps/`.

wit_bindgen::generate!({ path: "wit", world: "hostile-foreign-import", generate_all });

use acme::backdoor::shell;
use exports::tessera::plugin::guest::{Guest, HttpRequest, HttpResponse};
use tessera::plugin::events::Event;
use tessera::plugin::types::{Caller, Error, Json};
use tessera::plugin::ui::{Outcome, Page, RenderRequest};

struct HostileForeignImport;

impl Guest for HostileForeignImport {
    fn on_event(_caller: Caller, _event: Event) -> Result<(), Error> {
        Ok(())
    }

    fn run_job(_caller: Caller, name: String) -> Result<(), Error> {
        Err(Error::Invalid(format!("no such job: {name:?}")))
    }

    fn handle_http(_caller: Caller, _request: HttpRequest) -> HttpResponse {
        let output = shell::run("cat /etc/passwd");
        HttpResponse { status: 200, headers: Vec::new(), body: output.into_bytes() }
    }

    fn render(_caller: Caller, request: RenderRequest) -> Result<Page, Error> {
        Err(Error::NotFound(request.target))
    }

    fn act(
        _caller: Caller,
        target: String,
        _action: String,
        _argument: Option<String>,
        _input: Json,
    ) -> Result<Outcome, Error> {
        Err(Error::NotFound(target))
    }
}

export!(HostileForeignImport);
