//! Inbound HTTP: the requests the host passes to [`Plugin::handle_http`](crate::Plugin) and the
//! responses the plugin gives back, with helpers for JSON, paths, query strings and a small
//! router. Outbound HTTP is in [`client`].
//!
//! Requests to `/api/plugins/<id>/…` come from signed-in users (capability `http:inbound` is
//! not needed for them); requests to `/hooks/<id>/<org>/…` come from anyone, and the plugin
//! checks their signatures itself.
//!
//! ```
//! use tessera_sdk::http::{Request, Response, Router};
//!
//! fn handle(request: &Request) -> Response {
//!     Router::new(request)
//!         .get("/hello/{name}", |params| Ok(Response::text(200, format!("hello {}", params.get("name").unwrap_or("?")))))
//!         .finish()
//! }
//! assert_eq!(handle(&Request::new("GET", "/hello/%E4%B8%96")).body, "hello 世".as_bytes());
//! assert_eq!(handle(&Request::new("GET", "/nowhere")).status, 404);
//! ```

pub mod client;

use std::borrow::Cow;

use serde::Serialize;
use serde::de::DeserializeOwned;

pub use crate::bindings::exports::tessera::plugin::guest::{HttpRequest as Request, HttpResponse as Response};
use crate::{Error, Id, Result};

impl Request {
    /// A request with no query, headers or body, as from a signed-in user; for tests.
    pub fn new(method: impl Into<String>, path: impl Into<String>) -> Request {
        Request {
            method: method.into(),
            path: path.into(),
            query: String::new(),
            headers: Vec::new(),
            body: Vec::new(),
            kind: "api".into(),
        }
    }

    /// The request with this query string (without `?`); for tests.
    pub fn with_query(mut self, query: impl Into<String>) -> Request {
        self.query = query.into();
        self
    }

    /// The request with this body; for tests.
    pub fn with_body(mut self, body: impl Into<Vec<u8>>) -> Request {
        self.body = body.into();
        self
    }

    /// Whether the request came to `/hooks/…` (from anyone) rather than `/api/plugins/…`.
    pub fn is_hook(&self) -> bool {
        self.kind == "hook"
    }

    /// Whether the host made the request from a report of a native device driver the operator
    /// installed and routed to this plugin (since API 0.1.2). It carries no credentials: the
    /// driver is trusted, and the `x-tessera-driver` header names it.
    pub fn is_driver(&self) -> bool {
        self.kind == "driver"
    }

    /// The path's non-empty segments, still percent-encoded: `/a/b/` gives `["a", "b"]`.
    pub fn segments(&self) -> Vec<&str> {
        segments(&self.path).collect()
    }

    /// The decoded query parameters, in order.
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        self.query
            .split('&')
            .filter(|pair| !pair.is_empty())
            .map(|pair| {
                let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
                (decode(name, true).into_owned(), decode(value, true).into_owned())
            })
            .collect()
    }

    /// The first value of a query parameter, decoded; `None` when absent.
    pub fn query_param(&self, name: &str) -> Option<String> {
        self.query_pairs().into_iter().find(|(n, _)| n == name).map(|(_, value)| value)
    }

    /// A query parameter parsed as `T`; `None` when absent or empty, invalid when it does not
    /// parse.
    pub fn query_parsed<T: std::str::FromStr>(&self, name: &str) -> Result<Option<T>> {
        match self.query_param(name).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(value) => {
                value.parse().map(Some).map_err(|_| Error::invalid(format!("query parameter {name}: {value:?}")))
            }
        }
    }

    /// A header's value; names compare case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, value)| value.as_str())
    }

    /// The body as text; invalid when it is not UTF-8.
    pub fn text(&self) -> Result<&str> {
        std::str::from_utf8(&self.body).map_err(|_| Error::invalid("the body is not UTF-8 text"))
    }

    /// The body parsed as JSON into `T`; invalid when it does not fit.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_slice(&self.body).map_err(|e| Error::invalid(format!("body: {e}")))
    }
}

impl Response {
    /// A response with a JSON body. A value that cannot be serialized gives a 500.
    pub fn json<T: Serialize + ?Sized>(status: u16, value: &T) -> Response {
        match serde_json::to_vec(value) {
            Ok(body) => Response { status, headers: vec![content_type("application/json")], body },
            Err(e) => Response::error(&Error::internal(format!("cannot serialize the response: {e}"))),
        }
    }

    /// A response with a plain-text body.
    pub fn text(status: u16, body: impl Into<String>) -> Response {
        Response { status, headers: vec![content_type("text/plain; charset=utf-8")], body: body.into().into_bytes() }
    }

    /// A response without a body, e.g. `204`.
    pub fn empty(status: u16) -> Response {
        Response { status, headers: Vec::new(), body: Vec::new() }
    }

    /// The response reporting an error: its HTTP status ([`Error::http_status`]) and the body
    /// `{"error": "<variant>", "message": "…"}`.
    pub fn error(error: &Error) -> Response {
        let body = serde_json::json!({ "error": error.kind(), "message": error.message() });
        Response {
            status: error.http_status(),
            headers: vec![content_type("application/json")],
            body: body.to_string().into_bytes(),
        }
    }

    /// The response with one more header.
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Response {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// A header's value; names compare case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, value)| value.as_str())
    }
}

impl From<Error> for Response {
    fn from(error: Error) -> Response {
        Response::error(&error)
    }
}

impl From<Result<Response>> for Response {
    fn from(result: Result<Response>) -> Response {
        result.unwrap_or_else(|e| Response::error(&e))
    }
}

fn content_type(value: &str) -> (String, String) {
    ("content-type".into(), value.into())
}

fn segments(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').filter(|s| !s.is_empty())
}

/// Percent-decodes `%XX` (and `+` as a space in query strings); invalid UTF-8 is replaced.
fn decode(text: &str, plus_is_space: bool) -> Cow<'_, str> {
    if !(text.contains('%') || plus_is_space && text.contains('+')) {
        return Cow::Borrowed(text);
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match bytes[i] {
            b'%' => match (bytes.get(i + 1).copied().and_then(hex), bytes.get(i + 2).copied().and_then(hex)) {
                (Some(high), Some(low)) => {
                    // Two hex digits make one byte; the cast cannot truncate.
                    out.push((high * 16 + low) as u8);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' if plus_is_space => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

/// The values a path pattern captured: `/customers/{id}` matched against `/customers/42`
/// captures `id = "42"`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params {
    captured: Vec<(String, String)>,
}

impl Params {
    /// A captured segment, percent-decoded.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.captured.iter().find(|(n, _)| n == name).map(|(_, value)| value.as_str())
    }

    /// A captured segment parsed as `T`; invalid when it is missing or does not parse.
    pub fn parse<T: std::str::FromStr>(&self, name: &str) -> Result<T> {
        let value = self.get(name).ok_or_else(|| Error::invalid(format!("the path has no {{{name}}}")))?;
        value.parse().map_err(|_| Error::invalid(format!("{name}: {value:?} is not valid here")))
    }

    /// A captured record id.
    pub fn id(&self, name: &str) -> Result<Id> {
        self.parse(name)
    }
}

/// Matches a path against a pattern whose segments are literal or `{name}` captures:
/// `match_path("/records/{entity}/{id}", "/records/item/7")`. Empty segments are ignored, so
/// a trailing slash does not matter.
pub fn match_path(pattern: &str, path: &str) -> Option<Params> {
    let mut wanted = segments(pattern);
    let mut given = segments(path);
    let mut params = Params::default();
    loop {
        match (wanted.next(), given.next()) {
            (None, None) => return Some(params),
            (Some(want), Some(got)) => match want.strip_prefix('{').and_then(|w| w.strip_suffix('}')) {
                Some(name) => params.captured.push((name.to_owned(), decode(got, false).into_owned())),
                None if want == got => {}
                None => return None,
            },
            _ => return None,
        }
    }
}

/// Routes a request to the first matching handler; an error a handler returns becomes its
/// HTTP response ([`Response::error`]), and a request no route matches gets a JSON 404.
///
/// Handlers are closures run only when their route matches, so they can borrow the request
/// and anything else in scope.
pub struct Router<'r> {
    request: &'r Request,
    response: Option<Response>,
}

impl<'r> Router<'r> {
    /// A router for one request.
    pub fn new(request: &'r Request) -> Router<'r> {
        Router { request, response: None }
    }

    /// Handles `method` requests whose path matches `pattern` (see [`match_path`]).
    pub fn route(
        mut self,
        method: &str,
        pattern: &str,
        handler: impl FnOnce(Params) -> Result<Response>,
    ) -> Router<'r> {
        if self.response.is_none()
            && self.request.method.eq_ignore_ascii_case(method)
            && let Some(params) = match_path(pattern, &self.request.path)
        {
            self.response = Some(handler(params).into());
        }
        self
    }

    /// Handles `GET` requests matching `pattern`.
    pub fn get(self, pattern: &str, handler: impl FnOnce(Params) -> Result<Response>) -> Router<'r> {
        self.route("GET", pattern, handler)
    }

    /// Handles `POST` requests matching `pattern`.
    pub fn post(self, pattern: &str, handler: impl FnOnce(Params) -> Result<Response>) -> Router<'r> {
        self.route("POST", pattern, handler)
    }

    /// Handles `PUT` requests matching `pattern`.
    pub fn put(self, pattern: &str, handler: impl FnOnce(Params) -> Result<Response>) -> Router<'r> {
        self.route("PUT", pattern, handler)
    }

    /// Handles `PATCH` requests matching `pattern`.
    pub fn patch(self, pattern: &str, handler: impl FnOnce(Params) -> Result<Response>) -> Router<'r> {
        self.route("PATCH", pattern, handler)
    }

    /// Handles `DELETE` requests matching `pattern`.
    pub fn delete(self, pattern: &str, handler: impl FnOnce(Params) -> Result<Response>) -> Router<'r> {
        self.route("DELETE", pattern, handler)
    }

    /// The response of the route that matched, or a JSON 404.
    pub fn finish(self) -> Response {
        self.response.unwrap_or_else(|| {
            Response::error(&Error::not_found(format!("no route for {} {}", self.request.method, self.request.path)))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(response: &Response) -> serde_json::Value {
        serde_json::from_slice(&response.body).unwrap()
    }

    #[test]
    fn a_pattern_captures_decoded_segments() {
        let params = match_path("/by-phone/{number}", "/by-phone/%2B86%20138").unwrap();
        assert_eq!(params.get("number"), Some("+86 138"));
        let params = match_path("/records/{entity}/{id}", "/records/item/7/").unwrap();
        assert_eq!((params.get("entity"), params.id("id")), (Some("item"), Ok(7)));
        assert_eq!(match_path("/records/{entity}", "/records/item/7"), None);
        assert_eq!(match_path("/records/{entity}/{id}", "/records/item"), None);
        assert_eq!(match_path("/whoami", "/who"), None);
        assert_eq!(match_path("/", "/"), Some(Params::default()));
    }

    #[test]
    fn a_captured_id_that_is_not_a_number_is_invalid() {
        let err = match_path("/customers/{id}", "/customers/abc").unwrap().id("id").unwrap_err();
        assert_eq!(err.kind(), "invalid");
        assert!(err.message().contains("abc"), "{err}");
    }

    #[test]
    fn query_parameters_are_decoded() {
        let request = Request::new("GET", "/customers").with_query("text=%E5%8D%8E%E4%B8%BA+pool&limit=5&empty=&flag");
        assert_eq!(request.query_param("text").as_deref(), Some("华为 pool"));
        assert_eq!(request.query_parsed::<u32>("limit"), Ok(Some(5)));
        assert_eq!(request.query_parsed::<u32>("empty"), Ok(None));
        assert_eq!(request.query_param("flag").as_deref(), Some(""));
        assert_eq!(request.query_param("missing"), None);
        assert_eq!(request.query_parsed::<u32>("text").unwrap_err().kind(), "invalid");
        assert_eq!(decode("100%", false), "100%");
        assert_eq!(decode("%zz%4", false), "%zz%4");
    }

    #[test]
    fn a_json_body_is_read_or_refused_as_invalid() {
        let request = Request::new("POST", "/x").with_body(r#"{"title":"a"}"#);
        let value: serde_json::Value = request.json().unwrap();
        assert_eq!(value["title"], "a");
        assert_eq!(request.text(), Ok(r#"{"title":"a"}"#));
        let err = Request::new("POST", "/x").with_body("nope").json::<serde_json::Value>().unwrap_err();
        assert_eq!(err.kind(), "invalid");
        assert_eq!(Request::new("POST", "/x").with_body(vec![0xff]).text().unwrap_err().kind(), "invalid");
    }

    #[test]
    fn responses_carry_their_content_type() {
        let response = Response::json(201, &serde_json::json!({"id": 1}));
        assert_eq!((response.status, response.header("Content-Type")), (201, Some("application/json")));
        assert_eq!(body(&response)["id"], 1);
        let response = Response::text(200, "ok").with_header("x-plugin", "hello");
        assert_eq!((response.body.as_slice(), response.header("X-Plugin")), (&b"ok"[..], Some("hello")));
        assert_eq!(Response::empty(204).body.len(), 0);
    }

    #[test]
    fn an_error_becomes_its_status_and_a_json_body() {
        let response: Response = Error::conflict("version 3 is stale").into();
        assert_eq!(response.status, 409);
        assert_eq!(body(&response), serde_json::json!({"error": "conflict", "message": "version 3 is stale"}));
    }

    #[test]
    fn the_router_runs_the_first_matching_route_only() {
        let request = Request::new("post", "/customers/9/owner");
        let mut ran = Vec::new();
        let response = Router::new(&request)
            .get("/customers/{id}/owner", |_| {
                ran.push("get");
                Ok(Response::empty(200))
            })
            .post("/customers/{id}/owner", |params| Ok(Response::json(200, &params.id("id")?)))
            .post("/customers/{id}/{what}", |_| Err(Error::internal("shadowed")))
            .finish();
        assert!(ran.is_empty());
        assert_eq!((response.status, body(&response)), (200, serde_json::json!(9)));
    }

    #[test]
    fn the_router_answers_errors_and_unknown_paths_in_json() {
        let request = Request::new("DELETE", "/records/item/x");
        let response = Router::new(&request)
            .delete("/records/{entity}/{id}", |p| p.id("id").map(|_| Response::empty(204)))
            .finish();
        assert_eq!((response.status, body(&response)["error"].as_str()), (422, Some("invalid")));
        let response = Router::new(&request).get("/records/{entity}/{id}", |_| Ok(Response::empty(200))).finish();
        assert_eq!((response.status, body(&response)["error"].as_str()), (404, Some("not-found")));
    }
}
