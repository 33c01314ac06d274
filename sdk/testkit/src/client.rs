//! A JSON client of the host's API that signs in like a browser: a session cookie, and the
//! CSRF token the host asks for on every write.

use anyhow::{Context, Result};
use reqwest::{Method, RequestBuilder, StatusCode};
use serde::Serialize;
use serde_json::Value;

/// A client of the test host, signed in as one user (or anonymous). Every call answers with the
/// status and the body as JSON (`Value::Null` when empty, a JSON string when the body is not
/// JSON), whatever the status: asserting on it is the test's business.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    csrf: Option<String>,
    user_id: Option<i64>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").field("base", &self.base).field("user_id", &self.user_id).finish_non_exhaustive()
    }
}

impl Client {
    /// A client without credentials, for `base` (`http://127.0.0.1:<port>`).
    pub fn anonymous(base: &str) -> Result<Client> {
        let http = reqwest::Client::builder().cookie_store(true).build().context("cannot make an HTTP client")?;
        Ok(Client { http, base: base.trim_end_matches('/').to_owned(), csrf: None, user_id: None })
    }

    /// Signs in with a password, as the browser does; the client then holds the session.
    pub async fn sign_in(base: &str, username: &str, password: &str) -> Result<Client> {
        let mut client = Client::anonymous(base)?;
        let (status, body) = client
            .post("/api/v1/auth/sign-in", serde_json::json!({ "username": username, "password": password }))
            .await?;
        anyhow::ensure!(status == StatusCode::OK, "signing in as {username:?} failed: {status} {body}");
        client.csrf = Some(body["csrf_token"].as_str().context("the sign-in answer has no csrf_token")?.to_owned());
        client.user_id = body["user"]["id"].as_i64();
        Ok(client)
    }

    /// The signed-in user's id; none for an anonymous client.
    pub fn user_id(&self) -> Option<i64> {
        self.user_id
    }

    /// The full URL of a path of the host.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A request with the client's credentials, to finish with [`reqwest`]'s builder and pass
    /// to [`Client::send`] (for bodies that are not JSON, headers, …).
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let mut request = self.http.request(method, self.url(path));
        if let Some(csrf) = &self.csrf {
            request = request.header("x-csrf-token", csrf);
        }
        request
    }

    /// Sends a request and reads the answer as JSON.
    pub async fn send(&self, request: RequestBuilder) -> Result<(StatusCode, Value)> {
        let response = request.send().await.context("the request did not reach the test host")?;
        let status = response.status();
        let text = response.text().await.context("cannot read the answer")?;
        let body =
            if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
        Ok((status, body))
    }

    pub async fn get(&self, path: &str) -> Result<(StatusCode, Value)> {
        self.send(self.request(Method::GET, path)).await
    }

    pub async fn delete(&self, path: &str) -> Result<(StatusCode, Value)> {
        self.send(self.request(Method::DELETE, path)).await
    }

    pub async fn post(&self, path: &str, body: impl Serialize) -> Result<(StatusCode, Value)> {
        self.send(self.request(Method::POST, path).json(&body)).await
    }

    pub async fn put(&self, path: &str, body: impl Serialize) -> Result<(StatusCode, Value)> {
        self.send(self.request(Method::PUT, path).json(&body)).await
    }

    pub async fn patch(&self, path: &str, body: impl Serialize) -> Result<(StatusCode, Value)> {
        self.send(self.request(Method::PATCH, path).json(&body)).await
    }
}

/// A built-in role of every organisation, for [`TestHost::user`](crate::TestHost::user).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Everything, including administering plugins.
    Administrator,
    /// The customers of their department and its sub-departments.
    SalesManager,
    /// Their own customers only.
    Salesperson,
}

impl Role {
    /// The role's name as the host lists it (`GET /api/v1/roles`).
    pub fn name(self) -> &'static str {
        match self {
            Role::Administrator => "Administrator",
            Role::SalesManager => "Sales manager",
            Role::Salesperson => "Salesperson",
        }
    }
}
