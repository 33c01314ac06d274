//! `tessera-plugin publish`: the whole way from a built package to the catalog. Signs in (a
//! token, or email and password), registers the publisher's public key when the marketplace
//! does not have it, claims the plugin id, takes the certificate the claim returns, signs the
//! package with it and uploads it. Every refusal of the marketplace is shown with its code and
//! its message, which says what to do.

use std::fmt;
use std::path::PathBuf;

use anyhow::{Context, Result};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tessera_package::{PublisherCert, SecretKey};

use super::tpkg::Built;

/// How to sign in to the marketplace.
#[derive(Debug, Clone)]
pub enum Credentials {
    /// A publisher token (from sign-up or an earlier sign-in).
    Token(String),
    /// The publisher account's email address and password.
    Password { email: String, password: String },
}

/// An answer of the marketplace that is not a success: its status and its JSON error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub status: StatusCode,
    pub code: String,
    pub message: String,
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the marketplace refused ({}, {}): {}", self.status, self.code, self.message)
    }
}

impl std::error::Error for Refused {}

/// A marketplace, signed in as a publisher.
pub struct Marketplace {
    base: String,
    token: String,
    http: reqwest::Client,
}

impl Marketplace {
    /// Signs in at `base` (`https://marketplace.example`).
    pub async fn sign_in(base: &str, credentials: Credentials) -> Result<Marketplace> {
        let base = base.trim_end_matches('/').to_owned();
        let http = reqwest::Client::builder()
            .user_agent(concat!("tessera-plugin/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("cannot set up an HTTP client")?;
        let token = match credentials {
            Credentials::Token(token) => token,
            Credentials::Password { email, password } => {
                let mut market = Marketplace { base, token: String::new(), http };
                let body = market
                    .call(market.http.post(market.url("/api/v1/sessions")).json(&json!({
                        "email": email, "password": password, "kind": "publisher"
                    })))
                    .await
                    .context("cannot sign in; check the email address and password of your publisher account")?;
                market.token = body["token"].as_str().context("the sign-in answer has no token")?.to_owned();
                return Ok(market);
            }
        };
        Ok(Marketplace { base, token, http })
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The page of a plugin in the web catalog.
    pub fn catalog_url(&self, id: &str) -> String {
        self.url(&format!("/plugins/{id}"))
    }

    /// Sends a request and reads the JSON of a success; anything else is a [`Refused`].
    async fn call(&self, req: reqwest::RequestBuilder) -> Result<Value> {
        let req = if self.token.is_empty() { req } else { req.bearer_auth(&self.token) };
        let resp = req.send().await.with_context(|| {
            format!("cannot reach the marketplace at {}; check the URL and your connection", self.base)
        })?;
        let status = resp.status();
        let text = resp.text().await.context("the marketplace's answer broke off; try again")?;
        let body: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        if status.is_success() {
            return Ok(body);
        }
        let error = &body["error"];
        Err(Refused {
            status,
            code: error["code"].as_str().unwrap_or("unknown").to_owned(),
            message: error["message"].as_str().map(str::to_owned).unwrap_or_else(|| body.to_string()),
        }
        .into())
    }

    /// The current certificate, when the marketplace has a key of this publisher and it holds
    /// a plugin id.
    pub async fn certificate(&self) -> Result<Option<PublisherCert>> {
        match self.call(self.http.get(self.url("/api/v1/publishers/me/certificate"))).await {
            Ok(body) => Ok(Some(parse_certificate(&body)?)),
            Err(err) if err.downcast_ref::<Refused>().is_some_and(|r| r.status == StatusCode::CONFLICT) => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// Registers `key`'s public half as the publisher's current key.
    pub async fn register_key(&self, key: &SecretKey) -> Result<()> {
        let body = json!({ "public_key": key.public_key().to_text() });
        self.call(self.http.put(self.url("/api/v1/publishers/me/key")).json(&body)).await?;
        Ok(())
    }

    /// Claims `id` (nothing changes when the publisher holds it) and returns the certificate.
    pub async fn claim(&self, id: &str) -> Result<PublisherCert> {
        let body =
            self.call(self.http.post(self.url("/api/v1/publishers/me/plugins")).json(&json!({ "id": id }))).await?;
        parse_certificate(&body)
    }

    /// Whether the catalog shows the plugin (it does once it has a listing).
    pub async fn listed(&self, id: &str) -> Result<bool> {
        match self.call(self.http.get(self.url(&format!("/api/v1/plugins/{id}")))).await {
            Ok(_) => Ok(true),
            Err(err) if err.downcast_ref::<Refused>().is_some_and(|r| r.status == StatusCode::NOT_FOUND) => Ok(false),
            Err(err) => Err(err),
        }
    }

    /// Uploads a signed `.tpkg`, with an optional changelog.
    pub async fn upload(&self, package: &[u8], changelog: Option<&str>) -> Result<Value> {
        let mut parts: Vec<(&str, &[u8])> = vec![("package", package)];
        if let Some(text) = changelog {
            parts.push(("changelog", text.as_bytes()));
        }
        let (content_type, body) = multipart(&parts);
        self.call(self.http.post(self.url("/api/v1/packages")).header("content-type", content_type).body(body)).await
    }
}

fn parse_certificate(body: &Value) -> Result<PublisherCert> {
    let text = body["certificate"].as_str().context("the marketplace's answer has no certificate")?;
    PublisherCert::parse(text).context("the marketplace sent a certificate that does not read")
}

/// What a publish did.
#[derive(Debug, Clone)]
pub struct Published {
    pub id: String,
    pub version: String,
    /// Whether the key was registered now.
    pub registered_key: bool,
    /// The signed `.tpkg` uploaded, kept beside the built package.
    pub signed: PathBuf,
    pub catalog_url: String,
    /// Whether the catalog shows it: a plugin is shown once its publisher gives it a listing.
    pub listed: bool,
}

/// Publishes `built`, signed with `key`.
pub async fn publish(
    market: &Marketplace,
    built: &Built,
    key: &SecretKey,
    changelog: Option<&str>,
) -> Result<Published> {
    let known = market
        .certificate()
        .await?
        .is_some_and(|cert| cert.unverified_publisher().is_ok_and(|publisher| publisher.key == key.public_key()));
    if !known {
        market.register_key(key).await.context("cannot register your public key")?;
    }
    let certificate =
        market.claim(&built.id).await.with_context(|| format!("cannot claim plugin id {:?}", built.id))?;
    let signed = built.write_signed(key, certificate)?;
    let bytes = std::fs::read(&signed).with_context(|| format!("cannot read {}", signed.display()))?;
    market.upload(&bytes, changelog).await.with_context(|| format!("cannot publish {} {}", built.id, built.version))?;
    let listed = market.listed(&built.id).await?;
    Ok(Published {
        listed,
        id: built.id.clone(),
        version: built.version.clone(),
        registered_key: !known,
        signed,
        catalog_url: market.catalog_url(&built.id),
    })
}

/// A changelog given as text or as the path of a file holding it.
pub fn changelog(text_or_file: &str) -> Result<String> {
    let path = std::path::Path::new(text_or_file);
    if path.is_file() {
        return std::fs::read_to_string(path).with_context(|| format!("cannot read the changelog {}", path.display()));
    }
    Ok(text_or_file.to_owned())
}

/// A `multipart/form-data` body of the parts given: its content type and bytes. The boundary
/// is random, so no part's content can hold it by chance.
pub fn multipart(parts: &[(&str, &[u8])]) -> (String, Vec<u8>) {
    let boundary = format!("tessera-{}", uuid::Uuid::new_v4().simple());
    let mut body = Vec::new();
    for (name, bytes) in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        body.extend_from_slice(
            format!("Content-Disposition: form-data; name=\"{name}\"; filename=\"{name}\"\r\n").as_bytes(),
        );
        body.extend_from_slice(b"Content-Type: application/octet-stream\r\n\r\n");
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_shows_its_status_code_and_message() {
        let refused = Refused {
            status: StatusCode::CONFLICT,
            code: "version_exists".into(),
            message: "notes 1.0.0 is published; raise plugin.version".into(),
        };
        let text = format!("{:#}", anyhow::Error::from(refused).context("cannot publish notes 1.0.0"));
        assert!(
            text.contains("version_exists") && text.contains("raise plugin.version") && text.contains("409"),
            "{text}"
        );
    }

    #[test]
    fn a_changelog_is_a_file_or_the_text_itself() -> Result<()> {
        assert_eq!(changelog("Fixes the notes page")?, "Fixes the notes page");
        let path = std::env::temp_dir().join(format!("tessera-changelog-{}.md", uuid::Uuid::new_v4().simple()));
        std::fs::write(&path, "## 1.0.1\n- faster\n")?;
        assert_eq!(changelog(path.to_str().context("a UTF-8 path")?)?, "## 1.0.1\n- faster\n");
        std::fs::remove_file(path)?;
        Ok(())
    }

    #[test]
    fn multipart_parts_are_framed_by_the_boundary() {
        let (content_type, body) = multipart(&[("package", b"TPKG"), ("changelog", b"words")]);
        let boundary = content_type.strip_prefix("multipart/form-data; boundary=").expect("a boundary");
        let text = String::from_utf8(body).expect("text");
        assert_eq!(text.matches(&format!("--{boundary}\r\n")).count(), 2);
        assert!(text.ends_with(&format!("--{boundary}--\r\n")));
        assert!(text.contains("name=\"package\"") && text.contains("\r\n\r\nTPKG\r\n"));
    }
}
