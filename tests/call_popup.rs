//! Caller-ID popup (来电弹屏) end to end, on both backends: the bundled `call-popup` plugin
//! installed and enabled through the admin API at run time; a PBX posting call events over a
//! real socket (the documented JSON, and Asterisk's); the popup reaching the agent of the
//! ringing extension and nobody else, as a frame-able page; the call on the customer's
//! timeline and logged as a follow-up; a missed call listed; the native path from a driver
//! library the host loads, through the sample driver's socket, to the same popup; and the
//! plugin upgraded and disabled without a restart.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tessera_host::runtime::drivers::DriverConfig;
use tessera_host::runtime::{RuntimeConfig, package};
use tessera_tests::{
    Client, TestDb, TestServer, USER_PASSWORD, both_backends, manifest_of, plugin_package, test_plugins,
};
use tokio::io::AsyncWriteExt;

const CAPABILITIES: &[&str] =
    &["customers:read", "customers:write", "activities:write", "directory:read", "notify", "http:inbound"];
const TOKEN: &str = "pbx-token-for-tests-0123456789";

async fn start_with(
    backend: tessera_host::store::Backend,
    plugins: RuntimeConfig,
) -> anyhow::Result<(TestServer, Client)> {
    let db = Arc::new(TestDb::new(backend).await?);
    let server = TestServer::start_with_plugins(db, plugins).await?;
    let admin = server.admin().await?;
    admin.install_and_enable("call-popup", CAPABILITIES).await?;
    let (status, body) = admin.put("/api/v1/plugins/call-popup/settings", &json!({ "webhook_token": TOKEN })).await?;
    anyhow::ensure!(status == StatusCode::OK, "setting the token: {status} {body}");
    Ok((server, admin))
}

/// A salesperson, signed in, answering `extension`.
async fn agent(server: &TestServer, admin: &Client, username: &str, extension: &str) -> anyhow::Result<(i64, Client)> {
    let role = server.role_id(admin, "Salesperson").await?;
    let id = server.add_user(admin, username, None, &[role]).await?;
    let done =
        act(admin, "extensions", "add-extension", None, json!({ "extension": extension, "user_id": id })).await?;
    anyhow::ensure!(done["level"] == "success", "mapping {extension}: {done}");
    Ok((id, server.sign_in(username, USER_PASSWORD).await?))
}

async fn act(who: &Client, target: &str, action: &str, argument: Option<i64>, input: Value) -> anyhow::Result<Value> {
    let path = format!("/api/v1/plugins/call-popup/pages/{target}/actions/{action}");
    let body = json!({ "argument": argument.map(|a| a.to_string()), "input": input });
    let (status, answer) = who.post(&path, &body).await?;
    anyhow::ensure!(status == StatusCode::OK, "{action} on {target}: {status} {answer}");
    Ok(answer)
}

async fn customer(admin: &Client, name: &str, owner: i64, number: &str) -> anyhow::Result<i64> {
    let (status, body) = admin
        .post(
            "/api/v1/customers",
            &json!({ "name": name, "owner_id": owner, "phones": [{ "label": "手机", "number": number }] }),
        )
        .await?;
    anyhow::ensure!(status == StatusCode::CREATED, "{body}");
    body["id"].as_i64().context("customer id")
}

/// Posts a call event to the organisation's webhook, with the token.
async fn hook(server: &TestServer, format: &str, event: &Value) -> anyhow::Result<(StatusCode, Value)> {
    let hook = server.anonymous().request(reqwest::Method::POST, &format!("/hooks/call-popup/acme/{format}"));
    server.anonymous().send(hook.bearer_auth(TOKEN).json(event)).await
}

/// The user's popups, newest first, as (call record id, link).
async fn popups(who: &Client) -> anyhow::Result<Vec<(i64, String)>> {
    let (status, inbox) = who.get("/api/v1/notifications").await?;
    anyhow::ensure!(status == StatusCode::OK, "{inbox}");
    Ok(inbox["items"]
        .as_array()
        .context("items")?
        .iter()
        .filter(|n| n["kind"] == "plugin_popup")
        .filter_map(|n| {
            let link = n["link"].as_str()?.to_owned();
            let id = link.split("call=").nth(1)?.split('&').next()?.parse().ok()?;
            Some((id, link))
        })
        .collect())
}

/// Waits for the user's popup of a call, for work the host does after answering.
async fn popup_of(who: &Client, call: impl Fn(i64) -> bool) -> anyhow::Result<(i64, String)> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(found) = popups(who).await?.into_iter().find(|(id, _)| call(*id)) {
            return Ok(found);
        }
        anyhow::ensure!(Instant::now() < deadline, "no popup arrived");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn page(who: &Client, target: &str, query: &str) -> anyhow::Result<String> {
    let (status, page) = who.get(&format!("/api/v1/plugins/call-popup/pages/{target}{query}")).await?;
    anyhow::ensure!(status == StatusCode::OK, "{target}: {status} {page}");
    Ok(page.to_string())
}

/// The call record id in a webhook's answer.
fn call_id(answer: &Value) -> anyhow::Result<i64> {
    answer["call"].as_i64().with_context(|| format!("a call id in {answer}"))
}

/// The sample driver the workspace builds beside the test binaries.
fn sample_driver() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let dir = exe.parent().and_then(std::path::Path::parent).context("target directory")?;
    let library = dir.join("libtessera_fifo_caller_id.so");
    anyhow::ensure!(
        library.exists(),
        "the sample driver is not built at {}: run `cargo build -p tessera-fifo-caller-id`",
        library.display()
    );
    Ok(library)
}

both_backends! {
    // The PBX's webhook: refused without the token, then a ringing call pops up for the agent of
    // the extension only, in a page the CRM may frame; logged as a follow-up; on the timeline.
    async fn a_ringing_call_pops_up_for_its_agent_and_lands_on_the_timeline(backend) {
        let (server, admin) = start_with(backend, test_plugins()).await?;
        let (mei_id, mei) = agent(&server, &admin, "mei", "8001").await?;
        let (_, lei) = agent(&server, &admin, "lei", "8002").await?;
        let id = customer(&admin, "北京星河科技有限公司", mei_id, "138 1234 5678").await?;
        let ringing = json!({ "event": "ringing", "call_id": "pbx-1", "from": "+86 138-1234-5678", "extension": "8001" });

        let anonymous = server.anonymous();
        let (status, body) =
            anonymous.send(anonymous.request(reqwest::Method::POST, "/hooks/call-popup/acme/calls").json(&ringing)).await?;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "no token: {body}");
        let wrong = anonymous.request(reqwest::Method::POST, "/hooks/call-popup/acme/calls").bearer_auth("guess");
        assert_eq!(anonymous.send(wrong.json(&ringing)).await?.0, StatusCode::UNAUTHORIZED);
        let (status, body) = hook(&server, "calls", &json!({ "event": "ringing", "from": "138" })).await?;
        assert!(status.is_client_error() && body.to_string().contains("call_id"), "names the field: {status} {body}");
        assert!(popups(&mei).await?.is_empty());

        let (status, answer) = hook(&server, "calls", &ringing).await?;
        assert_eq!(status, StatusCode::OK, "{answer}");
        let call = call_id(&answer)?;
        let (_, link) = popup_of(&mei, |c| c == call).await?;
        assert_eq!(link, format!("/p/call-popup/call?call={call}"));
        assert!(popups(&lei).await?.is_empty(), "the agent of another extension sees nothing");
        let (status, again) = hook(&server, "calls", &ringing).await?;
        assert_eq!((status, call_id(&again)?), (StatusCode::OK, call), "the same call again is the same record");
        assert_eq!(popups(&mei).await?.len(), 1, "and pops up once");

        // The popup is the plugin's page, embedded: framed by the CRM only; the customer card.
        let html = mei.http.get(server.url(&format!("{link}&embed=1"))).send().await?;
        assert_eq!(html.status(), StatusCode::OK);
        assert_eq!(html.headers()["x-frame-options"], "SAMEORIGIN");
        assert!(html.headers()["content-security-policy"].to_str()?.contains("frame-ancestors 'self'"));
        let text = html.text().await?;
        assert!(text.contains("北京星河科技有限公司") && text.contains("data-embed"), "{text}");
        let full = mei.http.get(server.url(&link)).send().await?;
        assert_eq!(full.headers()["x-frame-options"], "DENY", "the page itself is never framed");
        let (status, _) = lei.get(&format!("/api/v1/plugins/call-popup/pages/call?call={call}")).await?;
        assert!(status.is_client_error(), "another agent cannot open the call: {status}");

        let logged = act(&mei, "call", "log-call", Some(call), json!({ "content": "客户询问报价，下周回访", "result": "" })).await?;
        assert_eq!(logged["level"], "success", "{logged}");
        let (_, activities) = mei.get(&format!("/api/v1/customers/{id}/activities")).await?;
        let first = &activities.as_array().and_then(|a| a.first()).cloned().unwrap_or_default();
        assert_eq!((first["kind"].as_str(), first["content"].as_str()), (Some("call"), Some("客户询问报价，下周回访")), "{activities}");
        let (status, timeline) = mei.get(&format!("/api/v1/customers/{id}/plugin-timeline")).await?;
        assert_eq!(status, StatusCode::OK, "{timeline}");
        assert!(timeline.to_string().contains("call-popup"), "the call is on the customer's timeline: {timeline}");

        // Asterisk: dialled, not answered, hung up: a missed call on Mei's list.
        for event in [
            json!({ "Event": "DialBegin", "Linkedid": "1733.7", "Uniqueid": "1733.7", "CallerIDNum": "13812345678", "DestExten": "8001" }),
            json!({ "Event": "DialEnd", "Linkedid": "1733.7", "DialStatus": "NOANSWER" }),
            json!({ "Event": "Hangup", "Linkedid": "1733.7", "Uniqueid": "1733.7" }),
        ] {
            let (status, body) = hook(&server, "asterisk", &event).await?;
            assert!(status.is_success(), "{event}: {status} {body}");
        }
        let missed = page(&mei, "missed", "").await?;
        assert!(missed.contains("13812345678") || missed.contains("138 1234 5678"), "{missed}");
        assert!(!page(&lei, "missed", "").await?.contains("1381234"), "not on another agent's list");
        server.stop().await;
        Ok(())
    }

    // A caller-ID box's native driver: the host loads the sample driver library, which reads
    // the line's events from its socket; the ring reaches the agent as a popup, the hang-up
    // leaves a missed call.
    async fn a_native_driver_feeds_calls_to_the_plugin(backend) {
        let dir = tempfile::tempdir()?;
        let socket = dir.path().join("caller-id.sock");
        let driver = DriverConfig {
            name: "front-desk".into(),
            library: sample_driver()?,
            config: format!("unix:{}", socket.display()),
            org: "acme".into(),
            plugin: "call-popup".into(),
            path: "/calls".into(),
        };
        let (server, admin) = start_with(backend, RuntimeConfig { drivers: vec![driver], ..test_plugins() }).await?;
        let (mei_id, mei) = agent(&server, &admin, "mei", "8001").await?;
        customer(&admin, "深圳前海物流有限公司", mei_id, "0755-2878 0808").await?;

        let mut line = tokio::net::UnixStream::connect(&socket).await.context("the driver's socket")?;
        line.write_all(b"RING drv-1 075528780808 8001\n").await?;
        let (call, _) = popup_of(&mei, |_| true).await?;
        let card = page(&mei, "call", &format!("?call={call}")).await?;
        assert!(card.contains("深圳前海物流有限公司"), "the driver's caller matched the customer: {card}");
        line.write_all(b"HANGUP drv-1\n").await?;
        line.shutdown().await?;
        let deadline = Instant::now() + Duration::from_secs(15);
        while !page(&mei, "missed", "").await?.contains("深圳前海物流有限公司") {
            anyhow::ensure!(Instant::now() < deadline, "the hang-up did not make a missed call");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        server.stop().await;
        Ok(())
    }

    // Installed, upgraded and disabled while the CRM runs; the calls stay.
    async fn call_popup_upgrades_and_disables_at_run_time(backend) {
        let (server, admin) = start_with(backend, test_plugins()).await?;
        let (mei_id, mei) = agent(&server, &admin, "mei", "8001").await?;
        customer(&admin, "上海明月贸易有限公司", mei_id, "021-6888 1234").await?;
        let ring = |id: &str| json!({ "event": "ringing", "call_id": id, "from": "02168881234", "extension": "8001" });
        let (status, answer) = hook(&server, "calls", &ring("up-1")).await?;
        assert_eq!(status, StatusCode::OK, "{answer}");

        let package = plugin_package("call-popup")?;
        let manifest = manifest_of(&package)?;
        let newer = package::repack(&package, &manifest.replacen("version = \"1.0.0\"", "version = \"1.0.1\"", 1))?;
        let (status, body) = admin.install_plugin(newer).await?;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let (status, body) = admin.post("/api/v1/plugins/call-popup/upgrade", &json!({ "version": "1.0.1" })).await?;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (status, answer) = hook(&server, "calls", &ring("up-2")).await?;
        assert_eq!(status, StatusCode::OK, "the upgraded plugin takes calls: {answer}");
        let (call, _) = popup_of(&mei, |c| Some(c) == answer["call"].as_i64()).await?;
        assert!(page(&mei, "call", &format!("?call={call}")).await?.contains("上海明月贸易有限公司"));

        let (status, body) = admin.post("/api/v1/plugins/call-popup/disable", &json!({})).await?;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (status, _) = hook(&server, "calls", &ring("up-3")).await?;
        assert_eq!(status, StatusCode::NOT_FOUND, "a disabled plugin takes no calls");
        let (status, body) =
            admin.post("/api/v1/plugins/call-popup/enable", &json!({ "capabilities": CAPABILITIES })).await?;
        assert_eq!(status, StatusCode::OK, "{body}");
        let calls = page(&mei, "calls", "").await?;
        assert!(calls.matches("上海明月贸易有限公司").count() >= 2, "both calls stay: {calls}");
        server.stop().await;
        Ok(())
    }
}
