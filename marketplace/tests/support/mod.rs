//! What the registry's suites share: a registry served in-process on a loopback socket over a
//! database of its own (SQLite, or a fresh PostgreSQL database), an HTTP client, and plugins
//! built and signed in the test: minimal valid components written byte by byte, with their
//! `plugin.toml`, packaged with `tessera-package` as a publisher would.

#![allow(dead_code)]

use anyhow::{Context, Result, bail};
use base64::Engine as _;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tessera_marketplace::server::{self, ServeOptions};
use tessera_marketplace::web::WebConfig;
use tessera_package::{PublicKey, PublisherCert, SecretKey, Tpkg, TrustRoot};
use tessera_tests::TestDb;
use tessera_tests::tessera_host::store::Backend;

pub use tessera_marketplace::dev::publish::multipart;
pub use tessera_tests::components::{READS_CUSTOMERS, bare_component};
pub use tessera_tests::error_code;

/// The password of every account made here.
pub const PASSWORD: &str = "a long test passphrase";

/// A registry serving on 127.0.0.1, stopped when dropped.
pub struct Market {
    pub base: String,
    pub operator: String,
    pub http: reqwest::Client,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    dir: std::path::PathBuf,
    _db: TestDb,
}

impl Drop for Market {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Market {
    pub async fn start(backend: Backend) -> Result<Market> {
        let db = TestDb::new(backend).await?;
        let dir = std::env::temp_dir().join(format!("tessera-marketplace-{}", uuid::Uuid::new_v4().simple()));
        let opts = ServeOptions {
            listen: "127.0.0.1:0".parse()?,
            database_url: Some(db.url.clone()),
            data_dir: dir.clone(),
            key_file: None,
            web: WebConfig::default(),
        };
        let running = server::prepare(&opts).await?;
        let base = format!("http://{}", running.addr);
        let operator = running.first_start.clone().context("a first start makes the operator token")?.operator_token;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(running.serve(async move {
            let _ = stopped.await;
        }));
        Ok(Market { base, operator, http: reqwest::Client::new(), stop: Some(stop), dir, _db: db })
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends a request and reads its JSON body (a string when it is not JSON).
    pub async fn send(&self, req: reqwest::RequestBuilder) -> Result<(StatusCode, Value)> {
        tessera_tests::answer(req.send().await?).await
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Result<(StatusCode, Value)> {
        self.send(auth(self.http.get(self.url(path)), token)).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: &Value) -> Result<(StatusCode, Value)> {
        self.send(auth(self.http.post(self.url(path)), token).json(body)).await
    }

    pub async fn put(&self, path: &str, token: Option<&str>, body: &Value) -> Result<(StatusCode, Value)> {
        self.send(auth(self.http.put(self.url(path)), token).json(body)).await
    }

    /// The marketplace's trust root, as a host would take it from `GET /api/v1/trust`.
    pub async fn trust(&self) -> Result<TrustRoot> {
        let (status, body) = self.get("/api/v1/trust", None).await?;
        anyhow::ensure!(status == StatusCode::OK, "trust: {status} {body}");
        let keys = body["keys"].as_array().context("keys")?;
        let keys: Vec<PublicKey> = keys
            .iter()
            .map(|k| PublicKey::parse(k["public_key"].as_str().unwrap_or_default()))
            .collect::<Result<_, _>>()?;
        Ok(TrustRoot::with_keys(keys))
    }

    /// A publisher account with a key of its own registered.
    pub async fn publisher(&self, name: &str) -> Result<Publisher> {
        let (status, body) = self
            .post(
                "/api/v1/publishers",
                None,
                &json!({ "name": name, "email": format!("{name}@example.com"), "password": PASSWORD }),
            )
            .await?;
        anyhow::ensure!(status == StatusCode::CREATED, "publisher sign-up: {status} {body}");
        let token = body["token"].as_str().context("token")?.to_owned();
        let id = body["id"].as_str().context("id")?.to_owned();
        let key = tessera_package::keygen()?;
        let (status, body) = self
            .put("/api/v1/publishers/me/key", Some(&token), &json!({ "public_key": key.public_key().to_text() }))
            .await?;
        anyhow::ensure!(status == StatusCode::OK, "key: {status} {body}");
        Ok(Publisher { id, token, key })
    }

    /// An organisation account: its id and token.
    pub async fn org(&self, name: &str) -> Result<(String, String)> {
        let (status, body) = self
            .post(
                "/api/v1/orgs",
                None,
                &json!({ "name": name, "email": format!("{name}@org.example"), "password": PASSWORD }),
            )
            .await?;
        anyhow::ensure!(status == StatusCode::CREATED, "org sign-up: {status} {body}");
        Ok((body["id"].as_str().context("id")?.to_owned(), body["token"].as_str().context("token")?.to_owned()))
    }

    /// Claims a plugin id and returns the fresh certificate.
    pub async fn claim(&self, publisher: &Publisher, id: &str) -> Result<PublisherCert> {
        let (status, body) =
            self.post("/api/v1/publishers/me/plugins", Some(&publisher.token), &json!({ "id": id })).await?;
        anyhow::ensure!(status == StatusCode::CREATED, "claim {id}: {status} {body}");
        Ok(PublisherCert::parse(body["certificate"].as_str().context("certificate")?)?)
    }

    /// Uploads package bytes (multipart, with an optional changelog).
    pub async fn upload(&self, token: &str, package: &[u8], changelog: Option<&str>) -> Result<(StatusCode, Value)> {
        let mut parts: Vec<(&str, &[u8])> = vec![("package", package)];
        if let Some(text) = changelog {
            parts.push(("changelog", text.as_bytes()));
        }
        let (content_type, body) = multipart(&parts);
        self.send(
            self.http
                .post(self.url("/api/v1/packages"))
                .bearer_auth(token)
                .header("content-type", content_type)
                .body(body),
        )
        .await
    }

    /// Puts a plugin on sale.
    pub async fn list(&self, token: &str, id: &str, listing: Value) -> Result<()> {
        let (status, body) = self.put(&format!("/api/v1/plugins/{id}/listing"), Some(token), &listing).await?;
        anyhow::ensure!(status == StatusCode::OK, "listing {id}: {status} {body}");
        Ok(())
    }

    /// A page of the web catalog: its status and HTML.
    pub async fn page(&self, path: &str, accept_language: Option<&str>) -> Result<(StatusCode, String)> {
        let mut req = self.http.get(self.url(path));
        if let Some(lang) = accept_language {
            req = req.header("accept-language", lang);
        }
        let resp = req.send().await?;
        Ok((resp.status(), resp.text().await?))
    }
}

pub fn auth(req: reqwest::RequestBuilder, token: Option<&str>) -> reqwest::RequestBuilder {
    match token {
        Some(token) => req.bearer_auth(token),
        None => req,
    }
}

/// A publisher account of the tests.
pub struct Publisher {
    pub id: String,
    pub token: String,
    pub key: SecretKey,
}

/// A `plugin.toml`.
pub fn manifest(id: &str, version: &str, name_en: &str, capabilities: &[&str], extra: &str) -> String {
    let quoted: Vec<String> = capabilities.iter().map(|c| format!("{c:?}")).collect();
    format!(
        "[plugin]\nid = \"{id}\"\nname = {{ zh = \"客户小工具 {id}\", en = {name_en:?} }}\n\
         description = {{ zh = \"查看客户的小工具\", en = \"A small tool that reads customers\" }}\n\
         version = \"{version}\"\napi = \"^0.1\"\ncapabilities = [{}]\n{extra}",
        quoted.join(", ")
    )
}

/// A component importing `imports`, with `manifest` as its `tessera-manifest` section.
pub fn component(manifest: &str, imports: &[(&str, &[&str])]) -> Vec<u8> {
    tessera_tests::tessera_host::runtime::package::pack(&bare_component(imports), manifest)
}

/// A valid plugin of `id` and `version`, signed by the publisher.
pub fn package(publisher: &Publisher, cert: &PublisherCert, id: &str, version: &str) -> Result<Vec<u8>> {
    let text = manifest(id, version, "Customer tool", &["customers:read"], "");
    signed(publisher, cert, &text, component(&text, READS_CUSTOMERS))
}

/// Signs a manifest and component as `tessera-package` does.
pub fn signed(publisher: &Publisher, cert: &PublisherCert, manifest: &str, component: Vec<u8>) -> Result<Vec<u8>> {
    Ok(tessera_package::sign(manifest, component, &publisher.key, cert.clone())?.encode())
}

/// A package written by hand, signed with `key` over whatever it holds, whatever the
/// certificate says: what a forger sends, which `tessera_package::sign` refuses to write.
pub fn forged(manifest: &str, component: &[u8], key: &SecretKey, cert: &PublisherCert) -> Result<Vec<u8>> {
    use ed25519_dalek::Signer as _;
    let seed = key.to_text();
    let seed = seed.strip_prefix("tessera-secret-key-v1:").context("a key file")?;
    let seed: [u8; 32] = base64::engine::general_purpose::STANDARD
        .decode(seed)?
        .try_into()
        .map_err(|_| anyhow::anyhow!("a seed is 32 bytes"))?;
    let signature = ed25519_dalek::SigningKey::from_bytes(&seed)
        .sign(&tessera_package::package_digest(manifest, component))
        .to_bytes();
    let cert = cert.to_text();
    let mut out = b"TPKG\x01".to_vec();
    let mut section = |tag: u8, parts: &[&[u8]]| {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        out.push(tag);
        out.extend_from_slice(&(len as u32).to_le_bytes());
        parts.iter().for_each(|p| out.extend_from_slice(p));
    };
    section(1, &[manifest.as_bytes()]);
    section(2, &[component]);
    section(3, &[&[1u8], &signature, cert.as_bytes()]);
    if Tpkg::decode(&out).is_err() {
        bail!("the forged package does not even decode");
    }
    Ok(out)
}

/// Asserts an error answer's status and code, and that it says something.
pub fn expect_error(what: &str, answer: (StatusCode, Value), status: StatusCode, code: &str) {
    let (got, body) = answer;
    assert_eq!(got, status, "{what}: {body}");
    assert_eq!(error_code(&body), code, "{what}: {body}");
}
