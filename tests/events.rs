//! Outbound webhooks on both backends, against a receiver on a real socket: every event of a
//! subscribed topic arrives, signed per Standard Webhooks (checked with the specification's
//! reference library), in order per record even while the first is retried; 500 and 429 are
//! retried on the schedule (honouring `Retry-After`), 410 disables the endpoint, a used-up
//! schedule leaves a dead letter that can be sent again, and administrators alone manage it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use axum::http::StatusCode;
use serde_json::{Value, json};
use tessera_host::events::DispatchConfig;
use tessera_tests::webhooks::{Received, Receiver};
use tessera_tests::{Client, TestDb, TestServer, both_backends, error_code, fast_dispatch};

fn topics_of(got: &[Received]) -> Vec<String> {
    got.iter().map(|r| r.json()["type"].as_str().unwrap_or_default().to_owned()).collect()
}

async fn endpoint(admin: &Client, body: Value) -> anyhow::Result<Value> {
    let (status, created) = admin.post("/api/v1/webhooks", &body).await?;
    anyhow::ensure!(status == StatusCode::CREATED, "endpoint {body}: {status} {created}");
    Ok(created)
}

async fn customer(client: &Client, name: &str) -> anyhow::Result<i64> {
    let (status, c) = client.post("/api/v1/customers", &json!({ "name": name })).await?;
    anyhow::ensure!(status == StatusCode::CREATED, "{status} {c}");
    c["id"].as_i64().context("id")
}

/// Waits until the delivery log of an endpoint satisfies `pred`.
async fn deliveries_until(
    admin: &Client,
    endpoint_id: i64,
    what: &str,
    pred: impl Fn(&[Value]) -> bool,
) -> anyhow::Result<Vec<Value>> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, list) = admin.get(&format!("/api/v1/webhooks/{endpoint_id}/deliveries?limit=500")).await?;
        let list = list.as_array().cloned().unwrap_or_default();
        if pred(&list) {
            return Ok(list);
        }
        anyhow::ensure!(Instant::now() < deadline, "waited in vain for {what}: {list:#?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Checks signatures with the Standard Webhooks reference library (PyPI `standardwebhooks`).
fn verify_with_reference_library(secret: &str, got: &[Received]) -> anyhow::Result<()> {
    let requests: Vec<Value> = got
        .iter()
        .map(|r| json!({ "id": r.id, "timestamp": r.timestamp, "signature": r.signature, "body": r.body }))
        .collect();
    let script = r#"
import json, sys, time
from standardwebhooks.webhooks import Webhook
secret, requests = json.loads(sys.stdin.read())
wh = Webhook(secret)
for r in requests:
    headers = {"webhook-id": r["id"], "webhook-timestamp": r["timestamp"], "webhook-signature": r["signature"]}
    wh.verify(r["body"], headers)
    try:
        wh.verify(r["body"] + " ", headers)
    except Exception:
        pass
    else:
        sys.exit("a changed body verified")
print(len(requests))
"#;
    let mut child = std::process::Command::new("python3")
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .context("python3 is needed to check signatures with the reference library")?;
    {
        use std::io::Write as _;
        let mut stdin = child.stdin.take().context("stdin")?;
        stdin.write_all(json!([secret, requests]).to_string().as_bytes())?;
    }
    let out = child.wait_with_output()?;
    anyhow::ensure!(
        out.status.success(),
        "the reference library refused a signature (pip install standardwebhooks): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    anyhow::ensure!(
        String::from_utf8_lossy(&out.stdout).trim() == got.len().to_string(),
        "not every request was checked"
    );
    Ok(())
}

both_backends! {
    async fn events_arrive_signed_in_order_and_retried_as_documented(backend) {
        let server = TestServer::start(backend).await?;
        let admin = server.admin().await?;
        let receiver = Receiver::default();
        let url = receiver.start().await?;
        let created = endpoint(&admin, json!({ "url": url, "topics": ["customer.*"], "description": "ERP" })).await?;
        let secret = created["secret"].as_str().context("secret")?.to_owned();
        assert!(secret.starts_with("whsec_"), "{created}");
        let endpoint_id = created["id"].as_i64().context("id")?;
        // The first customer's creation fails with 500, then with 429 asking for a second's
        // wait, then arrives.
        receiver.respond(|r, seen| match (r.body.contains("顺序测试一号\""), seen) {
            (true, 0) => (500, None),
            (true, 1) => (429, Some("1")),
            _ => (200, None),
        });
        let a = customer(&admin, "顺序测试一号").await?;
        let (status, _) = admin.patch(&format!("/api/v1/customers/{a}"), &json!({ "name": "顺序测试一号改名" })).await?;
        assert_eq!(status, StatusCode::OK);
        admin.post(&format!("/api/v1/customers/{a}/contacts"), &json!({ "name": "王五" })).await?;
        let b = customer(&admin, "顺序测试二号").await?;
        // a created (three attempts), a updated, b created.
        let got = receiver.wait_for("three customer events delivered", |got| got.len() >= 5).await?;
        tokio::time::sleep(Duration::from_millis(200)).await;
        let got = if receiver.got().len() == got.len() { got } else { anyhow::bail!("more requests than events: {:#?}", receiver.got()) };
        // Only the subscribed topics: no contact.created.
        assert!(topics_of(&got).iter().all(|t| t.starts_with("customer.")), "{:?}", topics_of(&got));
        // The first event was tried three times under one message id.
        let first_id = got[0].id.clone();
        assert_eq!(got.iter().filter(|r| r.id == first_id).count(), 3, "500, 429, then 200");
        let tries: Vec<_> = got.iter().filter(|r| r.id == first_id).collect();
        let waited = tries[2].at.duration_since(tries[1].at);
        assert!(waited >= Duration::from_millis(950), "Retry-After: 1 was honoured, waited {waited:?}");
        // Events of customer a arrive in order, the update after the creation although the
        // creation took three attempts; b was not held up behind a.
        let of = |id: i64| -> Vec<String> {
            let mut seen = Vec::new();
            for r in &got {
                let j = r.json();
                if j["data"]["id"].as_i64() == Some(id) && !seen.contains(&r.id) {
                    seen.push(r.id.clone());
                }
            }
            seen
        };
        let a_events = of(a);
        assert_eq!(a_events.len(), 2, "{a_events:?}");
        let a_created_last = got.iter().rposition(|r| r.id == a_events[0]).context("a created")?;
        let a_updated_first = got.iter().position(|r| r.id == a_events[1]).context("a updated")?;
        assert!(a_created_last < a_updated_first, "customer.updated went out only after customer.created arrived");
        let b_first = got.iter().position(|r| r.json()["data"]["id"].as_i64() == Some(b)).context("b")?;
        assert!(b_first < a_updated_first, "b went out while a waited for its retry");
        // Bodies follow the specification's shape; signatures verify, by our check and by the
        // reference library.
        for r in &got {
            let j = r.json();
            assert!(j["type"].is_string() && j["timestamp"].is_string() && j["data"].is_object(), "{j}");
            let ts: i64 = r.timestamp.parse()?;
            assert!((ts - tessera_host::jiff::Timestamp::now().as_second()).abs() < 60);
            let expected = tessera_host::events::webhooks::sign(&secret, &r.id, ts, &r.body)?;
            assert_eq!(r.signature, expected);
        }
        verify_with_reference_library(&secret, &got)?;
        // The delivery log tells the story.
        let list = deliveries_until(&admin, endpoint_id, "all delivered", |l| {
            l.len() == 3 && l.iter().all(|d| d["status"] == "delivered")
        })
        .await?;
        let oldest = list.last().context("deliveries")?;
        let (_, detail) = admin.get(&format!("/api/v1/webhooks/{endpoint_id}/deliveries/{}", oldest["id"])).await?;
        let statuses: Vec<i64> = detail["attempts_log"].as_array().context("log")?.iter().filter_map(|a| a["response_status"].as_i64()).collect();
        assert_eq!(statuses, vec![500, 429, 200], "{detail}");
        let answers: Vec<&str> = detail["attempts_log"].as_array().context("log")?.iter().filter_map(|a| a["response_body"].as_str()).collect();
        assert_eq!(answers, ["ok", "ok", "ok"], "the log keeps what the receiver answered: {detail}");
        assert_eq!(detail["message_id"], first_id.as_str());
        Ok(())
    }

    async fn gone_disables_dead_letters_wait_and_redelivery_sends_again(backend) {
        let db = Arc::new(TestDb::new(backend).await?);
        // A short schedule: two retries, then the dead letter.
        let dispatch = DispatchConfig { retry_delays: vec![Duration::from_millis(20); 2], ..fast_dispatch() };
        let server = TestServer::start_configured(db, Default::default(), dispatch, None).await?;
        let admin = server.admin().await?;
        let receiver = Receiver::default();
        let url = receiver.start().await?;
        let created = endpoint(&admin, json!({ "url": url })).await?;
        let endpoint_id = created["id"].as_i64().context("id")?;
        // A receiver that keeps failing: three attempts, then dead.
        receiver.respond(|_, _| (503, None));
        customer(&admin, "失败三次公司").await?;
        let list = deliveries_until(&admin, endpoint_id, "a dead letter", |l| l.iter().any(|d| d["status"] == "dead")).await?;
        let dead = list.iter().find(|d| d["status"] == "dead").context("dead")?.clone();
        assert_eq!(dead["attempts"], 3);
        assert_eq!(dead["last_status"], 503);
        let (_, dead_only) = admin.get(&format!("/api/v1/webhooks/{endpoint_id}/deliveries?status=dead")).await?;
        assert_eq!(dead_only.as_array().map(Vec::len), Some(1));
        // Fixed receiver, manual redelivery: same message id, delivered.
        receiver.respond(|_, _| (200, None));
        let before = receiver.got().len();
        let (status, again) = admin.post(&format!("/api/v1/webhooks/{endpoint_id}/deliveries/{}/redeliver", dead["id"]), &json!({})).await?;
        assert_eq!(status, StatusCode::ACCEPTED, "{again}");
        let got = receiver.wait_for("the redelivery", |g| g.len() > before).await?;
        assert_eq!(got.last().map(|r| r.id.as_str()), dead["message_id"].as_str());
        deliveries_until(&admin, endpoint_id, "delivered after redelivery", |l| l.iter().all(|d| d["status"] == "delivered")).await?;
        // A pending delivery cannot be redelivered twice at once; a delivered one can.
        let (status, body) = admin.post(&format!("/api/v1/webhooks/{endpoint_id}/deliveries/999999/redeliver"), &json!({})).await?;
        assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
        // 410 Gone: the endpoint is disabled, and what comes next waits.
        receiver.respond(|r, _| if r.body.contains("接收方已下线") { (410, None) } else { (200, None) });
        customer(&admin, "接收方已下线").await?;
        let ep = {
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                let (_, ep) = admin.get(&format!("/api/v1/webhooks/{endpoint_id}")).await?;
                if ep["enabled"] == false {
                    break ep;
                }
                anyhow::ensure!(Instant::now() < deadline, "the endpoint was not disabled: {ep}");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        };
        assert!(ep["disabled_reason"].as_str().is_some_and(|r| r.contains("410")), "{ep}");
        let sent = receiver.got().len();
        customer(&admin, "停用期间的客户").await?;
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(receiver.got().len(), sent, "nothing is sent to a disabled endpoint");
        let (status, body) = admin.post(&format!("/api/v1/webhooks/{endpoint_id}/test"), &json!({})).await?;
        assert_eq!(status, StatusCode::CONFLICT, "{body}");
        // Enabled again, the waiting event goes out.
        let (status, ep) = admin.patch(&format!("/api/v1/webhooks/{endpoint_id}"), &json!({ "enabled": true })).await?;
        assert_eq!(status, StatusCode::OK, "{ep}");
        assert_eq!(ep["disabled_reason"], Value::Null);
        receiver.wait_for("the event held while disabled", |g| g.iter().any(|r| r.body.contains("停用期间的客户"))).await?;
        // And a test event reaches it on demand.
        let (status, test) = admin.post(&format!("/api/v1/webhooks/{endpoint_id}/test"), &json!({})).await?;
        assert_eq!(status, StatusCode::ACCEPTED, "{test}");
        receiver.wait_for("the test event", |g| g.iter().any(|r| r.json()["type"] == "webhook.test")).await?;
        Ok(())
    }

    async fn only_administrators_manage_webhooks_and_bad_input_is_refused(backend) {
        let server = TestServer::start(backend).await?;
        let admin = server.admin().await?;
        let sales_role = server.role_id(&admin, "Salesperson").await?;
        server.add_user(&admin, "mei", None, &[sales_role]).await?;
        let mei = server.sign_in("mei", tessera_tests::USER_PASSWORD).await?;
        let (status, body) = mei.get("/api/v1/webhooks").await?;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        let (status, body) = mei.post("/api/v1/webhooks", &json!({ "url": "https://example.com/h" })).await?;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        for (bad, field) in [
            (json!({ "url": "ftp://example.com" }), "url"),
            (json!({ "url": "https://user:pw@example.com/" }), "url"),
            (json!({ "url": "https://example.com/", "topics": [] }), "topics"),
            (json!({ "url": "https://example.com/", "topics": ["customer created"] }), "topics"),
        ] {
            let (status, body) = admin.post("/api/v1/webhooks", &bad).await?;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {body}");
            assert_eq!(error_code(&body), "invalid_input");
            assert_eq!(body["error"]["field"], field, "{body}");
        }
        let (status, body) = admin.post("/api/v1/webhooks", &json!({ "url": "https://example.com/", "secret": "mine" })).await?;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "unknown fields are refused: {body}");
        let created = endpoint(&admin, json!({ "url": "https://example.com/hooks" })).await?;
        let id = created["id"].as_i64().context("id")?;
        let (_, listed) = admin.get("/api/v1/webhooks").await?;
        assert!(listed.as_array().is_some_and(|l| l.iter().all(|e| e.get("secret").is_none())), "secrets are not listed");
        let (status, rotated) = admin.post(&format!("/api/v1/webhooks/{id}/rotate-secret"), &json!({})).await?;
        assert_eq!(status, StatusCode::OK);
        assert_ne!(rotated["secret"], created["secret"]);
        assert_eq!(admin.get("/api/v1/webhooks/424242").await?.0, StatusCode::NOT_FOUND);
        assert_eq!(admin.get(&format!("/api/v1/webhooks/{id}/deliveries?status=lost")).await?.0, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(admin.delete(&format!("/api/v1/webhooks/{id}")).await?.0, StatusCode::NO_CONTENT);
        assert_eq!(admin.get(&format!("/api/v1/webhooks/{id}")).await?.0, StatusCode::NOT_FOUND);
        Ok(())
    }
}
