//! The host verifies what it loads: signed `.tpkg` packages against its pinned marketplace key,
//! unsigned ones only in developer mode, licenses of paid plugins per organisation, and the
//! marketplace's revocation list, fetched over HTTP. Keys, certificates, tokens and lists are
//! made here with `tessera-package`, as the marketplace makes them.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tessera_host::runtime::package;
use tessera_host::runtime::trust::TrustConfig;
use tessera_package::license::{LicenseClaims, LicenseKind};
use tessera_package::{Publisher, PublisherCert, RevocationList, RevokedVersion, SecretKey, Timestamp, TrustRoot};
use tessera_tests::{
    Client, RuntimeConfig, TestDb, TestServer, both_backends, manifest_of, plugin_package, test_plugins,
};

const DAY: i64 = 86_400;

fn root_key() -> SecretKey {
    SecretKey::from_seed([7; 32])
}

fn publisher_key() -> SecretKey {
    SecretKey::from_seed([9; 32])
}

/// A production host: it trusts the test marketplace's key and runs nothing unsigned.
fn production() -> RuntimeConfig {
    RuntimeConfig {
        trust: TrustConfig { root: Some(TrustRoot::new(root_key().public_key())), ..TrustConfig::default() },
        ..test_plugins()
    }
}

fn certificate() -> anyhow::Result<PublisherCert> {
    let publisher = Publisher {
        id: "tessera-labs".into(),
        key: publisher_key().public_key(),
        plugins: vec!["*".into()],
        issued_at: Timestamp::now(),
    };
    Ok(PublisherCert::issue(&publisher, &root_key())?)
}

/// The built package of `id` with its manifest changed by `edit`, as a bare component.
fn component_of(id: &str, edit: impl Fn(&str) -> String) -> anyhow::Result<Vec<u8>> {
    let built = plugin_package(id)?;
    let manifest = edit(&manifest_of(&built)?);
    Ok(package::pack(&built, &manifest))
}

/// A component signed into a `.tpkg` by the test publisher.
fn signed(component: Vec<u8>) -> anyhow::Result<Vec<u8>> {
    let manifest = package::read(component.clone())?.manifest_text;
    Ok(tessera_package::sign(manifest, component, &publisher_key(), certificate()?)?.encode())
}

async fn upload(admin: &Client, body: Vec<u8>, content_type: &str) -> anyhow::Result<(StatusCode, Value)> {
    admin.send(admin.request(Method::POST, "/api/v1/plugins").header("content-type", content_type).body(body)).await
}

async fn start(backend: tessera_host::store::Backend, config: RuntimeConfig) -> anyhow::Result<TestServer> {
    let db = Arc::new(TestDb::new(backend).await?);
    TestServer::start_with_plugins(db, config).await
}

fn message(body: &Value) -> String {
    body["error"]["message"].as_str().unwrap_or_default().to_owned()
}

fn token(org: &str, plugin: &str, expires_in_days: Option<i64>, grace_days: u16) -> anyhow::Result<String> {
    let now = Timestamp::now();
    let claims = LicenseClaims {
        org: org.into(),
        plugin: plugin.into(),
        kind: if expires_in_days.is_some() { LicenseKind::Subscription } else { LicenseKind::OneOff },
        issued_at: now.checked_sub(jiff::SignedDuration::from_secs(60 * DAY))?,
        expires_at: expires_in_days.map(|d| now.checked_add(jiff::SignedDuration::from_secs(d * DAY))).transpose()?,
        grace_days,
    };
    Ok(tessera_package::license::issue(&claims, &root_key())?)
}

/// Polls `path` until `done` holds for its body, for at most 20 s.
async fn wait_for(client: &Client, path: &str, done: impl Fn(&Value) -> bool) -> anyhow::Result<Value> {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (_, body) = client.get(path).await?;
        if done(&body) {
            return Ok(body);
        }
        anyhow::ensure!(std::time::Instant::now() < deadline, "{path} never became what was expected: {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A throwaway marketplace: serves whatever signed revocation list the test puts in.
async fn revocation_server(list: Arc<Mutex<String>>) -> anyhow::Result<String> {
    let app = axum::Router::new().route(
        "/api/v1/revocations",
        axum::routing::get(move || {
            let list = list.clone();
            async move { list.lock().map(|l| l.clone()).unwrap_or_default() }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(format!("http://{addr}"))
}

both_backends! {
    // Bare components are refused by a production host, through the API and the plugin
    // directory alike; a signed package installs and runs; a changed one is refused.
    async fn a_production_host_runs_signed_packages_only(backend) {
        let dir = tempfile::tempdir()?;
        let probe = plugin_package("probe")?;
        std::fs::write(dir.path().join("hello-crm.wasm"), plugin_package("hello-crm")?)?;
        std::fs::write(dir.path().join("api.tpkg"), signed(plugin_package("api-0-1-0")?)?)?;
        let server = start(backend, RuntimeConfig { plugin_dir: Some(dir.path().to_owned()), ..production() }).await?;
        let admin = server.admin().await?;

        let (status, body) = upload(&admin, probe.clone(), "application/wasm").await?;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        let text = message(&body);
        assert!(text.contains("probe 1.0.0") && text.contains("unsigned") && text.contains("--developer-mode"), "{text}");

        let (_, plugins) = admin.get("/api/v1/plugins").await?;
        let ids: Vec<&str> = plugins.as_array().context("plugins")?.iter().filter_map(|p| p["id"].as_str()).collect();
        assert!(ids.contains(&"api-0-1-0"), "the signed package in the directory is installed: {ids:?}");
        assert!(!ids.contains(&"hello-crm"), "the bare component in the directory is not: {ids:?}");

        let mut tampered = signed(probe.clone())?;
        let middle = tampered.len() / 2;
        tampered[middle] ^= 0x01;
        let (status, body) = upload(&admin, tampered, "application/vnd.tessera.tpkg").await?;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert!(message(&body).contains("[bad_signature]"), "{body}");

        // Signed, but its plugin.toml is not the one inside the component.
        let manifest = format!("{}\n# changed after the build\n", package::read(probe.clone())?.manifest_text);
        let other = tessera_package::sign(manifest, probe.clone(), &publisher_key(), certificate()?)?.encode();
        let (status, body) = upload(&admin, other, "application/vnd.tessera.tpkg").await?;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert!(message(&body).contains("[manifest_mismatch]"), "{body}");

        let (status, body) = upload(&admin, signed(probe)?, "application/vnd.tessera.tpkg").await?;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let (status, body) = admin.post("/api/v1/plugins/probe/enable", &json!({ "capabilities": [] })).await?;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (status, body) = admin.get("/api/plugins/probe/whoami").await?;
        assert_eq!(status, StatusCode::OK, "the signed plugin runs: {body}");
        server.stop().await;
        Ok(())
    }

    // A plugin that requires a license: refused without one, enabled with one, running on in
    // its grace period with the admins told, stopped past it with its records kept.
    async fn a_paid_plugin_runs_only_with_a_license_of_the_organisation(backend) {
        let server = start(backend, production()).await?;
        let admin = server.admin().await?;
        let paid = component_of("probe", |m| m.replacen("[plugin]\n", "[plugin]\nlicense-required = true\n", 1))?;
        let (status, body) = upload(&admin, signed(paid)?, "application/vnd.tessera.tpkg").await?;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let enable = json!({ "capabilities": ["customers:read"] });

        let (status, body) = admin.post("/api/v1/plugins/probe/enable", &enable).await?;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert!(message(&body).contains("[no_license]"), "{body}");

        let admin_ref = &admin;
        let put = |token: String| async move { admin_ref.put("/api/v1/plugins/probe/license", &json!({ "token": token })).await };
        let (status, body) = put(token("acct-acme", "forum", None, 0)?).await?;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert!(message(&body).contains("[other_plugin]"), "{body}");
        // A signature character changed well inside the signature (not in its trailing bits).
        let mut forged = token("acct-acme", "probe", None, 0)?.into_bytes();
        let at = forged.len() - 10;
        forged[at] = if forged[at] == b'A' { b'B' } else { b'A' };
        let forged = String::from_utf8(forged)?;
        let (status, body) = put(forged).await?;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert!(message(&body).contains("[bad_signature]"), "{body}");

        let (status, body) = put(token("acct-acme", "probe", Some(30), 7)?).await?;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["state"], "valid", "{body}");
        assert_eq!(body["account_id"], "acct-acme", "{body}");
        let (status, body) = put(token("acct-other", "probe", Some(30), 7)?).await?;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert!(message(&body).contains("[other_org]"), "the first license binds the account: {body}");

        let (status, body) = admin.post("/api/v1/plugins/probe/enable", &enable).await?;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (status, item) =
            admin.post("/api/plugins/probe/records/item", &json!({ "fields": { "title": "续签合同", "status": "open" } })).await?;
        assert_eq!(status, StatusCode::OK, "{item}");

        // Expired two days ago with a week of grace: it keeps running, the admins are told.
        let (status, body) = put(token("acct-acme", "probe", Some(-2), 7)?).await?;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["state"], "grace", "{body}");
        tessera_host::runtime::licenses::sweep(&server.state.plugins).await?;
        let (_, info) = admin.get("/api/v1/plugins/probe").await?;
        assert_eq!(info["status"], "enabled", "{info}");
        let (status, _) = admin.get("/api/plugins/probe/whoami").await?;
        assert_eq!(status, StatusCode::OK, "in grace the plugin runs");
        let (_, notes) = admin.get("/api/v1/notifications").await?;
        let notes = notes.to_string();
        assert!(notes.contains("宽限期") || notes.contains("grace period"), "the admin is told: {notes}");

        // Past its grace period: a new token is refused, and the stored one stops the plugin.
        let (status, body) = put(token("acct-acme", "probe", Some(-10), 7)?).await?;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert!(message(&body).contains("[expired]"), "{body}");
        sqlx::query("UPDATE org_plugin_licenses SET token = $1 WHERE org_id = $2 AND plugin_id = 'probe'")
            .bind(token("acct-acme", "probe", Some(-10), 7)?)
            .bind(server.org_id)
            .execute(server.store().pool())
            .await?;
        tessera_host::runtime::licenses::sweep(&server.state.plugins).await?;
        let (_, info) = admin.get("/api/v1/plugins/probe").await?;
        assert_eq!(info["status"], "disabled", "{info}");
        assert!(info["status_reason"].as_str().unwrap_or_default().contains("[expired]"), "{info}");
        let (status, _) = admin.get("/api/plugins/probe/whoami").await?;
        assert_ne!(status, StatusCode::OK, "past grace the plugin does not run");
        let (status, body) = admin.post("/api/v1/plugins/probe/enable", &enable).await?;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");

        // Renewed: it runs again, with its records.
        let (status, body) = put(token("acct-acme", "probe", Some(30), 7)?).await?;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (status, body) = admin.post("/api/v1/plugins/probe/enable", &enable).await?;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (status, body) = admin.get("/api/plugins/probe/records/item").await?;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(body.to_string().contains("续签合同"), "the records were kept: {body}");
        server.stop().await;
        Ok(())
    }

    // A revocation list from the marketplace stops the revoked plugin in the organisation
    // within a poll interval, and an older list is not taken up again.
    async fn a_revoked_plugin_is_stopped_by_every_polling_host(backend) {
        let list = |seq: u64, entries: Vec<RevokedVersion>| {
            RevocationList { seq, issued_at: Timestamp::now(), entries, keys: vec![] }.sign(&root_key())
        };
        let served = Arc::new(Mutex::new(list(1, vec![])?));
        let url = revocation_server(served.clone()).await?;
        let mut config = production();
        config.trust.marketplace_url = Some(url);
        config.trust.revocation_poll = Duration::from_secs(1);
        let server = start(backend, config).await?;
        let admin = server.admin().await?;
        let (status, body) = upload(&admin, signed(plugin_package("probe")?)?, "application/vnd.tessera.tpkg").await?;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let (status, body) = admin.post("/api/v1/plugins/probe/enable", &json!({ "capabilities": [] })).await?;
        assert_eq!(status, StatusCode::OK, "{body}");

        let revoked = RevokedVersion {
            plugin: "probe".into(),
            version: "*".parse()?,
            sha256: None,
            reason: "it sends customer data to a third party".into(),
        };
        *served.lock().map_err(|_| anyhow::anyhow!("poisoned"))? = list(2, vec![revoked])?;
        let info = wait_for(&admin, "/api/v1/plugins/probe", |b| b["status"] == "disabled").await?;
        assert!(info["status_reason"].as_str().unwrap_or_default().contains("third party"), "{info}");
        let (status, body) = admin.post("/api/v1/plugins/probe/enable", &json!({ "capabilities": [] })).await?;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "a revoked plugin cannot be enabled: {body}");
        assert!(message(&body).contains("[revoked]"), "{body}");

        // An older list replayed is refused: the revocation stays.
        *served.lock().map_err(|_| anyhow::anyhow!("poisoned"))? = list(1, vec![])?;
        tokio::time::sleep(Duration::from_millis(2500)).await;
        let seq: i64 = sqlx::query_scalar("SELECT seq FROM marketplace_revocations WHERE id = 1")
            .fetch_one(server.store().pool())
            .await?;
        assert_eq!(seq, 2);
        let (status, _) = admin.post("/api/v1/plugins/probe/enable", &json!({ "capabilities": [] })).await?;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        server.stop().await;
        Ok(())
    }
}
