//! Test guest: built against `tessera:plugin@0.1.0`, the first released plugin API, from a
//! frozen copy of its WIT in `wit/`. Released versions only ever gain functions, so a host
//! serving a later 0.1.x must link and run it unchanged: its imports are matched to the host's
//! newer interfaces and its exports found under their 0.1.0 names.
//!
//! `GET /api/plugins/api-0-1-0/customers` answers `{"names": [...]}`, the names of the
//! customers the caller may see, through `customers.query` of 0.1.0.

wit_bindgen::generate!({ path: "wit", world: "plugin" });

use exports::tessera::plugin::guest::{Guest, HttpRequest, HttpResponse};
use tessera::plugin::customers::{self, CustomerQuery};
use tessera::plugin::events::Event;
use tessera::plugin::types::{Caller, Error, Json};
use tessera::plugin::ui::{Outcome, Page, RenderRequest};

struct FirstApi;

fn answer(status: u16, body: serde_json::Value) -> HttpResponse {
    HttpResponse {
        status,
        headers: vec![("content-type".into(), "application/json".into())],
        body: body.to_string().into_bytes(),
    }
}

impl Guest for FirstApi {
    fn on_event(_caller: Caller, _event: Event) -> Result<(), Error> {
        Ok(())
    }

    fn run_job(_caller: Caller, name: String) -> Result<(), Error> {
        Err(Error::Invalid(format!("no such job: {name:?}")))
    }

    fn handle_http(_caller: Caller, request: HttpRequest) -> HttpResponse {
        if request.path != "/customers" {
            return answer(404, serde_json::json!({ "error": format!("no route {}", request.path) }));
        }
        let query = CustomerQuery {
            text: None,
            owner_id: None,
            level: None,
            status: None,
            tag: None,
            not_followed_up_since: None,
            limit: Some(200),
            cursor: None,
        };
        match customers::query(&query) {
            Ok(page) => {
                answer(200, serde_json::json!({ "names": page.items.iter().map(|c| &c.name).collect::<Vec<_>>() }))
            }
            Err(e) => answer(500, serde_json::json!({ "error": format!("{e:?}") })),
        }
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

export!(FirstApi);
