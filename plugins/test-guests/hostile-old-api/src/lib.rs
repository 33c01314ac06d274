//! Hostile guest: built against `tessera:plugin@0.9.0` (manifest `api = "^0.9"`), a plugin API
//! this host does not serve. The host must refuse it before instantiating it, with a message
//! naming the API version the plugin needs, the versions the host serves, the plugin and its
//! version.
//!
//! Built with wit-bindgen directly (not the SDK) against `wit/`: a copy of the plugin API with
//! only the package version changed.

wit_bindgen::generate!({ path: "wit", world: "plugin" });

use exports::tessera::plugin::guest::{Guest, HttpRequest, HttpResponse};
use tessera::plugin::events::Event;
use tessera::plugin::types::{Caller, Error, Json};
use tessera::plugin::ui::{Outcome, Page, RenderRequest};

struct HostileOldApi;

impl Guest for HostileOldApi {
    fn on_event(_caller: Caller, _event: Event) -> Result<(), Error> {
        Ok(())
    }

    fn run_job(_caller: Caller, name: String) -> Result<(), Error> {
        Err(Error::Invalid(format!("no such job: {name:?}")))
    }

    fn handle_http(_caller: Caller, _request: HttpRequest) -> HttpResponse {
        HttpResponse { status: 200, headers: Vec::new(), body: b"built against plugin API 0.9".to_vec() }
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

export!(HostileOldApi);
