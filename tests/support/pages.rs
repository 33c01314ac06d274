//! A browser without JavaScript for the web CRM's suites: it keeps cookies, sends a language,
//! and does not follow redirects, so each step of a form can be checked.

use anyhow::{Context, Result, ensure};
use reqwest::StatusCode;
use reqwest::header::{ACCEPT_LANGUAGE, CONTENT_SECURITY_POLICY, LOCATION};

use crate::TestServer;

/// A browser with cookies that does not follow redirects, so each step can be checked.
pub struct Browser {
    pub http: reqwest::Client,
    pub base: String,
    pub lang: &'static str,
}

pub struct Page {
    pub status: StatusCode,
    pub location: Option<String>,
    pub csp: Option<String>,
    pub html: String,
}

impl Page {
    /// The value of the first hidden input named `name`.
    pub fn hidden(&self, name: &str) -> Result<String> {
        let marker = format!("name=\"{name}\" value=\"");
        let at = self.html.find(&marker).with_context(|| format!("no {name} field in:\n{}", self.html))?;
        let rest = &self.html[at + marker.len()..];
        Ok(rest[..rest.find('"').context("unterminated value")?].to_owned())
    }

    pub fn csrf(&self) -> Result<String> {
        self.hidden("_csrf")
    }
}

impl Browser {
    pub fn new(server: &TestServer, lang: &'static str) -> Result<Browser> {
        let http = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .context("client")?;
        Ok(Browser { http, base: server.base.clone(), lang })
    }

    pub async fn page(resp: reqwest::Response) -> Result<Page> {
        let status = resp.status();
        let header = |name| {
            resp.headers().get(name).and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok()).map(str::to_owned)
        };
        let location = header(LOCATION);
        let csp = header(CONTENT_SECURITY_POLICY);
        Ok(Page { status, location, csp, html: resp.text().await? })
    }

    pub async fn get(&self, path: &str) -> Result<Page> {
        let resp = self.http.get(format!("{}{path}", self.base)).header(ACCEPT_LANGUAGE, self.lang).send().await?;
        Self::page(resp).await
    }

    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> Result<Page> {
        let resp =
            self.http.post(format!("{}{path}", self.base)).header(ACCEPT_LANGUAGE, self.lang).form(form).send().await?;
        Self::page(resp).await
    }

    /// Signs in through the form and lands on `next`.
    pub async fn sign_in(&self, username: &str, password: &str) -> Result<Page> {
        let form = self.get("/sign-in").await?;
        ensure!(form.status == StatusCode::OK, "sign-in page: {}", form.status);
        let token = form.hidden("_token")?;
        let done = self
            .post("/sign-in", &[("_token", &token), ("username", username), ("password", password), ("next", "/")])
            .await?;
        ensure!(done.status == StatusCode::SEE_OTHER, "sign-in of {username}: {} {}", done.status, done.html);
        self.get(done.location.as_deref().context("redirect")?).await
    }
}
