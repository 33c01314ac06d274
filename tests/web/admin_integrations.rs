//! The integration admin pages as an administrator uses them in a browser without JavaScript:
//! an outbound webhook added against a local receiver, its secret shown once, a test event
//! followed into the delivery log and sent again; approval workflows created from rows of plain
//! fields and shown in words; refused forms kept as typed; other users kept out.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use reqwest::StatusCode;
use serde_json::json;
use tessera_tests::pages::{Browser, Page};
use tessera_tests::webhooks::{Received, Receiver};
use tessera_tests::{ADMIN_PASSWORD, TestServer, USER_PASSWORD, both_backends};

/// Polls `path` until `pred` holds for the page (generously: the dispatcher shares two cores
/// with other builds).
async fn page_until(browser: &Browser, path: &str, what: &str, pred: impl Fn(&Page) -> bool) -> Result<Page> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let page = browser.get(path).await?;
        if pred(&page) {
            return Ok(page);
        }
        ensure!(Instant::now() < deadline, "waited in vain for {what} on {path}:\n{}", page.html);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Text of a page with the character references askama writes turned back into characters.
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find("&#") {
        out.push_str(&rest[..at]);
        let after = &rest[at + 2..];
        let end = after.find(';').unwrap_or(0);
        let code = &after[..end];
        let ch = match code.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok(),
            None => code.parse().ok(),
        }
        .and_then(char::from_u32);
        match ch {
            Some(c) if end > 0 => {
                out.push(c);
                rest = &after[end + 1..];
            }
            _ => {
                out.push_str("&#");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The signing secret a page shows, if it shows one.
fn secret_on(page: &Page) -> Option<String> {
    let marker = "id=\"signing-secret\">";
    let at = page.html.find(marker)? + marker.len();
    let rest = &page.html[at..];
    Some(unescape(&rest[..rest.find('<')?]))
}

/// The number right after `prefix` in a page (an id in a link or form action).
fn id_after(html: &str, prefix: &str) -> Result<i64> {
    let at = html.find(prefix).with_context(|| format!("no {prefix} in:\n{html}"))? + prefix.len();
    let digits: String = html[at..].chars().take_while(char::is_ascii_digit).collect();
    digits.parse().with_context(|| format!("no id after {prefix}"))
}

both_backends! {
    async fn an_admin_adds_a_webhook_sees_its_secret_once_and_follows_a_test_into_the_log(backend) {
        let server = TestServer::start(backend).await?;
        let admin_api = server.admin().await?;
        let (status, body) = admin_api.patch("/api/v1/me", &json!({ "locale": "en" })).await?;
        ensure!(status == StatusCode::OK, "{body}");
        let receiver = Receiver::default();
        let hook_url = receiver.start().await?;
        let admin = Browser::new(&server, "en")?;
        admin.sign_in("admin", ADMIN_PASSWORD).await?;

        let list = admin.get("/admin/webhooks").await?;
        assert_eq!(list.status, StatusCode::OK, "{}", list.html);
        assert!(list.html.contains("No endpoint yet.") && list.html.contains("value=\"*\" checked"), "{}", list.html);
        let csrf = list.csrf()?;

        // A URL that is not one is refused, with what was typed kept.
        let bad = admin
            .post("/admin/webhooks", &[("_csrf", &csrf), ("url", "ftp://example.com/hook"), ("description", "Ledger sync"),
                  ("topics", "customer.*"), ("other_topics", "deal.won")])
            .await?;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.html);
        assert!(bad.html.contains("must start with https://"), "{}", bad.html);
        assert!(bad.html.contains("value=\"ftp://example.com/hook\"") && bad.html.contains("value=\"Ledger sync\""), "{}", bad.html);
        assert!(bad.html.contains("value=\"customer.*\" checked") && !bad.html.contains("value=\"*\" checked"), "{}", bad.html);
        assert!(bad.html.contains("value=\"deal.won\""), "{}", bad.html);

        // Added: the answer shows the secret, this once.
        let made = admin
            .post("/admin/webhooks", &[("_csrf", &csrf), ("url", &hook_url), ("description", "Local receiver"), ("topics", "*")])
            .await?;
        assert_eq!(made.status, StatusCode::CREATED, "{}", made.html);
        assert!(made.html.contains("Endpoint added.") && made.html.contains("it will not be shown again"), "{}", made.html);
        let secret = secret_on(&made).context("no secret on the page after adding")?;
        assert!(secret.starts_with("whsec_"), "{secret}");
        let id = id_after(&made.html, "action=\"/admin/webhooks/")?;
        let path = format!("/admin/webhooks/{id}");
        let again = admin.get(&path).await?;
        assert_eq!(again.status, StatusCode::OK);
        assert!(secret_on(&again).is_none() && !again.html.contains("whsec_"), "the secret is gone on a reload: {}", again.html);
        assert!(again.html.contains("Nothing sent yet."), "{}", again.html);
        let list = admin.get("/admin/webhooks").await?;
        assert!(list.html.contains(&format!("href=\"{path}\"")) && list.html.contains("Local receiver"), "{}", list.html);

        // A test event reaches the receiver signed with that secret and shows in the log.
        let sent = admin.post(&format!("{path}/test"), &[("_csrf", &csrf)]).await?;
        assert_eq!(sent.status, StatusCode::SEE_OTHER, "{}", sent.html);
        let back = sent.location.context("redirect")?;
        assert_eq!(back, format!("{path}?notice=done.webhook_test_sent"));
        assert!(admin.get(&back).await?.html.contains("Test event queued"));
        let log = page_until(&admin, &path, "the delivered test", |p| p.html.contains("webhook.test") && p.html.contains(">Delivered<")).await?;
        let delivery_id = id_after(&log.html, &format!("href=\"{path}/deliveries/"))?;
        let got = receiver.got();
        let first = got.iter().find(|r| r.body.contains("webhook.test")).context("the receiver got no test")?;
        let timestamp: i64 = first.timestamp.parse()?;
        let expected = tessera_host::events::webhooks::sign(&secret, &first.id, timestamp, &first.body)?;
        assert_eq!(first.signature, expected, "signed with the secret the page showed");

        // Its page shows the request and the answer; sent again, a second attempt arrives.
        let detail_path = format!("{path}/deliveries/{delivery_id}");
        let detail = admin.get(&detail_path).await?;
        assert_eq!(detail.status, StatusCode::OK, "{}", detail.html);
        assert!(detail.html.contains("Tessera webhook test") && detail.html.contains(&first.id), "{}", detail.html);
        assert_eq!(detail.html.matches("<tr class=\"attempt\">").count(), 1, "{}", detail.html);
        assert!(detail.html.contains("<td>200</td>"), "{}", detail.html);
        assert!(detail.html.contains("<code class=\"response\">ok</code>"), "the receiver's answer: {}", detail.html);
        let redone = admin.post(&format!("{detail_path}/redeliver"), &[("_csrf", &csrf)]).await?;
        assert_eq!(redone.status, StatusCode::SEE_OTHER, "{}", redone.html);
        assert_eq!(redone.location.as_deref(), Some(format!("{detail_path}?notice=done.webhook_redelivered").as_str()));
        page_until(&admin, &detail_path, "the second attempt", |p| {
            p.html.matches("<tr class=\"attempt\">").count() == 2 && p.html.contains(">Delivered<")
        })
        .await?;
        let tests: Vec<Received> = receiver.got().into_iter().filter(|r| r.body.contains("webhook.test")).collect();
        assert_eq!(tests.len(), 2, "{tests:#?}");
        assert_eq!(tests[0].id, tests[1].id, "a redelivery keeps the webhook-id");

        // Settings: a bad URL keeps what was typed; stopping it shows on the list.
        let refused = admin
            .post(&path, &[("_csrf", &csrf), ("url", "not a url"), ("description", "Local receiver"), ("topics", "*"), ("enabled", "1")])
            .await?;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.html);
        assert!(refused.html.contains("value=\"not a url\""), "{}", refused.html);
        let saved = admin
            .post(&path, &[("_csrf", &csrf), ("url", &hook_url), ("description", "Paused"), ("topics", "contact.*")])
            .await?;
        assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.html);
        let list = admin.get("/admin/webhooks").await?;
        assert!(list.html.contains("Paused") && list.html.contains("Stopped") && list.html.contains("contact.*"), "{}", list.html);

        // A new secret is shown once too, and differs.
        let rotated = admin.post(&format!("{path}/rotate-secret"), &[("_csrf", &csrf)]).await?;
        assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.html);
        let new_secret = secret_on(&rotated).context("no secret after rotating")?;
        assert!(new_secret.starts_with("whsec_") && new_secret != secret);

        assert_eq!(admin.get("/admin/webhooks/99999999").await?.status, StatusCode::NOT_FOUND);
        assert_eq!(admin.get(&format!("{path}/deliveries/99999999")).await?.status, StatusCode::NOT_FOUND);
        assert_eq!(admin.get("/admin/webhooks/abc").await?.status, StatusCode::NOT_FOUND);
        let deleted = admin.post(&format!("{path}/delete"), &[("_csrf", &csrf)]).await?;
        assert_eq!(deleted.location.as_deref(), Some("/admin/webhooks?notice=done.webhook_deleted"));
        assert_eq!(admin.get(&path).await?.status, StatusCode::NOT_FOUND);
        server.stop().await;
        Ok(())
    }

    async fn an_admin_builds_a_workflow_from_rows_and_reads_it_in_words(backend) {
        let server = TestServer::start(backend).await?;
        let admin_api = server.admin().await?;
        let (status, body) = admin_api.patch("/api/v1/me", &json!({ "locale": "en" })).await?;
        ensure!(status == StatusCode::OK, "{body}");
        let manager_role = server.role_id(&admin_api, "Sales manager").await?;
        let admin = Browser::new(&server, "en")?;
        admin.sign_in("admin", ADMIN_PASSWORD).await?;
        let list = admin.get("/admin/workflows").await?;
        assert_eq!(list.status, StatusCode::OK, "{}", list.html);
        let form = admin.get("/admin/workflows/new").await?;
        assert!(form.html.contains("name=\"s0_name\"") && form.html.contains("name=\"s1_approvers\""), "{}", form.html);
        let csrf = form.csrf()?;

        // Words where hours belong, and no steps at all, are refused with the rows kept.
        let bad = admin
            .post("/admin/workflows", &[("_csrf", &csrf), ("name", "Big credit"), ("subject_type", "customer"),
                  ("s0_name", "Manager check"), ("s0_approvers", "manager"), ("s0_deadline", "two days")])
            .await?;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.html);
        assert!(bad.html.contains("hours are a whole number"), "{}", bad.html);
        assert!(bad.html.contains("value=\"Manager check\"") && bad.html.contains("value=\"two days\""), "{}", bad.html);
        assert!(bad.html.contains("value=\"manager\" selected"), "{}", bad.html);
        let empty = admin
            .post("/admin/workflows", &[("_csrf", &csrf), ("name", "Nothing"), ("subject_type", "customer")])
            .await?;
        assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", empty.html);
        assert!(empty.html.contains("1 to 20 steps") && empty.html.contains("value=\"Nothing\""), "{}", empty.html);

        let role = format!("role:{manager_role}");
        let made = admin
            .post("/admin/workflows", &[("_csrf", &csrf), ("name", "Big credit"), ("subject_type", "customer"),
                  ("s0_name", "Manager check"), ("s0_approvers", "manager"), ("s0_mode", "any"),
                  ("s0_field", "credit_limit"), ("s0_op", ">"), ("s0_value", "50000"),
                  ("s0_deadline", "48"), ("s0_remind", "24"), ("s0_escalate", "approver_manager"),
                  ("s2_name", "Finance"), ("s2_approvers", &role), ("s2_approvers", "head"), ("s2_mode", "all")])
            .await?;
        assert_eq!(made.status, StatusCode::SEE_OTHER, "{}", made.html);
        let link = made.location.context("redirect")?;
        assert!(link.ends_with("?notice=done.workflow_created"), "{link}");
        let id = id_after(&link, "/admin/workflows/")?;
        let page = admin.get(&link).await?;
        assert_eq!(page.status, StatusCode::OK, "{}", page.html);
        for words in ["Workflow created.", "Manager check", "The submitter&#39;s manager", "Any one of them approves",
                      "Only when credit_limit is more than 50000", "Overdue after 48 hours", "approvers reminded after 24 hours",
                      "then escalated to The approvers&#39; managers", "Finance", "Anyone with the role Sales manager",
                      "The head of the submitter&#39;s department", "All of them must approve", "Always runs"] {
            assert!(unescape(&page.html).contains(&unescape(words)), "{words}: {}", page.html);
        }
        let list = admin.get("/admin/workflows").await?;
        assert!(list.html.contains(&format!("href=\"/admin/workflows/{id}\">Big credit</a>")), "{}", list.html);
        assert!(list.html.contains("<td>2</td>"), "two steps: {}", list.html);

        // The edit form holds the steps; new steps make version 2.
        let edit = admin.get(&format!("/admin/workflows/{id}/edit")).await?;
        assert!(edit.html.contains("value=\"Manager check\"") && edit.html.contains("value=\"50000\""), "{}", edit.html);
        assert!(edit.html.contains(&format!("value=\"{role}\" selected")) && edit.html.contains("value=\"all\" selected"), "{}", edit.html);
        let saved = admin
            .post(&format!("/admin/workflows/{id}/edit"), &[("_csrf", &csrf), ("name", "Big credit"),
                  ("s0_name", "Manager only"), ("s0_approvers", "manager")])
            .await?;
        assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.html);
        let (_, def) = admin_api.get(&format!("/api/v1/workflow/definitions/{id}")).await?;
        assert_eq!(def["version"], 2, "{def}");
        assert_eq!(def["steps"].as_array().map(Vec::len), Some(1), "{def}");

        // Archived, then in use again.
        let archived = admin.post(&format!("/admin/workflows/{id}/active"), &[("_csrf", &csrf), ("active", "0")]).await?;
        assert_eq!(archived.status, StatusCode::SEE_OTHER, "{}", archived.html);
        let page = admin.get(archived.location.as_deref().context("redirect")?).await?;
        assert!(page.html.contains("Workflow archived.") && page.html.contains("Put in use"), "{}", page.html);

        // The same page in Chinese.
        let (status, body) = admin_api.patch("/api/v1/me", &json!({ "locale": "zh-CN" })).await?;
        ensure!(status == StatusCode::OK, "{body}");
        let zh = admin.get(&format!("/admin/workflows/{id}")).await?;
        assert!(zh.html.contains("<html lang=\"zh-CN\">") && zh.html.contains("提交人的直属上级") && zh.html.contains("已归档"), "{}", zh.html);

        // Other users are kept out; unknown ids are pages that do not exist.
        let sales_role = server.role_id(&admin_api, "Salesperson").await?;
        server.add_user(&admin_api, "seller", None, &[sales_role]).await?;
        let seller = Browser::new(&server, "en")?;
        let home = seller.sign_in("seller", USER_PASSWORD).await?;
        let their_csrf = home.csrf()?;
        let definition_path = format!("/admin/workflows/{id}");
        for path in ["/admin/webhooks", "/admin/workflows", "/admin/workflows/new", definition_path.as_str()] {
            assert_eq!(seller.get(path).await?.status, StatusCode::FORBIDDEN, "{path}");
        }
        let forbidden = seller
            .post("/admin/workflows", &[("_csrf", &their_csrf), ("name", "Mine"), ("subject_type", "customer"),
                  ("s0_name", "Me"), ("s0_approvers", "manager")])
            .await?;
        assert_eq!(forbidden.status, StatusCode::FORBIDDEN);
        let deleted = seller.post(&format!("/admin/workflows/{id}/delete"), &[("_csrf", &their_csrf)]).await?;
        assert_eq!(deleted.status, StatusCode::FORBIDDEN);
        assert_eq!(admin.get("/admin/workflows/99999999").await?.status, StatusCode::NOT_FOUND);
        assert_eq!(admin.get("/admin/workflows/abc/edit").await?.status, StatusCode::NOT_FOUND);

        // Never used, it is deleted outright.
        let gone = admin.post(&format!("/admin/workflows/{id}/delete"), &[("_csrf", &csrf)]).await?;
        assert_eq!(gone.location.as_deref(), Some("/admin/workflows?notice=done.workflow_deleted"));
        assert_eq!(admin.get(&format!("/admin/workflows/{id}")).await?.status, StatusCode::NOT_FOUND);
        server.stop().await;
        Ok(())
    }
}
