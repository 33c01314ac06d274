//! Outbound HTTP (capability `http:outbound`) to the hosts the manifest lists in
//! `http-allow`; any other host is refused with [`Error::Denied`].
//!
//! ```no_run
//! use tessera_sdk::http::client::{self, Request};
//!
//! # fn main() -> tessera_sdk::Result<()> {
//! let request = Request::post("https://erp.example.com/orders").json(&serde_json::json!({"id": 7}))?;
//! let response = client::send(&request)?;
//! let order: serde_json::Value = response.json()?;
//! # Ok(()) }
//! ```

use serde::Serialize;
use serde::de::DeserializeOwned;

pub use crate::bindings::tessera::plugin::http_client::{Request, Response, send};
use crate::{Error, Result};

impl Request {
    /// A request without headers or body, with the host's default timeout.
    pub fn new(method: impl Into<String>, url: impl Into<String>) -> Request {
        Request { method: method.into(), url: url.into(), headers: Vec::new(), body: Vec::new(), timeout_ms: None }
    }

    /// A `GET` request.
    pub fn get(url: impl Into<String>) -> Request {
        Request::new("GET", url)
    }

    /// A `POST` request.
    pub fn post(url: impl Into<String>) -> Request {
        Request::new("POST", url)
    }

    /// The request with one more header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Request {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The request with this body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Request {
        self.body = body.into();
        self
    }

    /// The request with a JSON body and its content type.
    pub fn json<T: Serialize + ?Sized>(self, value: &T) -> Result<Request> {
        Ok(self.header("content-type", "application/json").body(serde_json::to_vec(value)?))
    }

    /// The request with a timeout (at most 30 s; the host's default is 10 s).
    pub fn timeout_ms(mut self, timeout_ms: u32) -> Request {
        self.timeout_ms = Some(timeout_ms);
        self
    }
}

impl Response {
    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// A header's value; names compare case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, value)| value.as_str())
    }

    /// The body as text, with invalid UTF-8 replaced.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body parsed as JSON into `T`; a body that does not fit is
    /// [`Error::Unavailable`], since the remote service is at fault.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_slice(&self.body)
            .map_err(|e| Error::unavailable(format!("the response is not the JSON expected: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_json_request_has_its_content_type_and_body() {
        let request = Request::post("https://erp.example.com/orders").timeout_ms(2_000).json(&[1, 2]).unwrap();
        assert_eq!((request.method.as_str(), request.timeout_ms), ("POST", Some(2_000)));
        assert_eq!(request.headers, [("content-type".to_string(), "application/json".to_string())]);
        assert_eq!(request.body, b"[1,2]");
    }

    #[test]
    fn a_response_reads_as_text_or_json() {
        let response = Response {
            status: 200,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: b"{\"ok\":true}".to_vec(),
        };
        assert!(response.is_success());
        assert_eq!(response.header("content-type"), Some("application/json"));
        assert_eq!(response.json::<serde_json::Value>().unwrap()["ok"], true);
        let broken = Response { status: 502, headers: vec![], body: vec![b'<', 0xff] };
        assert!(!broken.is_success());
        assert_eq!(broken.text(), "<\u{fffd}");
        assert_eq!(broken.json::<serde_json::Value>().unwrap_err().kind(), "unavailable");
    }
}
