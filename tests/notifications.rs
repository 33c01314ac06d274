//! Notifications: the inbox, live push over server-sent events with reconnects, preferences,
//! mail through a real SMTP server, and the scheduled reminders. On SQLite and PostgreSQL.

use std::collections::HashMap;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tessera_host::notifications::jobs;
use tessera_host::scheduler::Run;
use tessera_host::store::now_ms;
use tessera_tests::{Client, MailConfig, TestDb, TestServer, USER_PASSWORD, both_backends, error_code, fast_dispatch};
use tokio::io::{AsyncBufReadExt as _, BufReader};

/// A live notification stream, as a browser's `EventSource` reads it.
struct Stream {
    events: tokio::sync::mpsc::UnboundedReceiver<(i64, Value)>,
    task: tokio::task::JoinHandle<()>,
}

impl Stream {
    async fn open(client: &Client, last_event_id: Option<i64>) -> Result<Stream> {
        let mut req = client.request(Method::GET, "/api/v1/notifications/stream");
        if let Some(id) = last_event_id {
            req = req.header("Last-Event-ID", id.to_string());
        }
        let mut resp = req.send().await?;
        anyhow::ensure!(resp.status() == StatusCode::OK, "stream: {}", resp.status());
        let content_type = resp.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default();
        anyhow::ensure!(content_type.starts_with("text/event-stream"), "{content_type}");
        let (tx, events) = tokio::sync::mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            let mut buf = String::new();
            while let Ok(Some(chunk)) = resp.chunk().await {
                buf.push_str(&String::from_utf8_lossy(&chunk));
                while let Some(end) = buf.find("\n\n") {
                    let block: String = buf.drain(..end + 2).collect();
                    let (mut id, mut data, mut event) = (None, String::new(), String::new());
                    for line in block.lines() {
                        if let Some(v) = line.strip_prefix("id:") {
                            id = v.trim().parse::<i64>().ok();
                        } else if let Some(v) = line.strip_prefix("data:") {
                            data.push_str(v.trim_start());
                        } else if let Some(v) = line.strip_prefix("event:") {
                            event = v.trim().to_owned();
                        }
                    }
                    if let (Some(id), "notification") = (id, event.as_str()) {
                        let _ = tx.send((id, serde_json::from_str(&data).unwrap_or(Value::Null)));
                    }
                }
            }
        });
        Ok(Stream { events, task })
    }

    async fn next(&mut self) -> Result<(i64, Value)> {
        tokio::time::timeout(Duration::from_secs(20), self.events.recv())
            .await
            .context("no notification arrived on the stream")?
            .context("the stream ended")
    }

    /// Nothing more arrives for a moment.
    async fn quiet(&mut self) -> Result<()> {
        match tokio::time::timeout(Duration::from_millis(400), self.events.recv()).await {
            Err(_) => Ok(()),
            Ok(got) => anyhow::bail!("an unexpected notification: {got:?}"),
        }
    }

    fn close(self) {
        self.task.abort();
    }
}

/// An organisation with a salesperson who reads English and has an email address.
struct Org {
    server: TestServer,
    admin: Client,
    li: Client,
    li_id: i64,
}

async fn org(server: TestServer) -> Result<Org> {
    let admin = server.admin().await?;
    let role = server.role_id(&admin, "Salesperson").await?;
    let (status, body) = admin
        .post(
            "/api/v1/users",
            &json!({ "username": "li.na", "display_name": "Li Na", "password": USER_PASSWORD, "role_ids": [role],
                     "email": "li.na@example.com", "locale": "en" }),
        )
        .await?;
    anyhow::ensure!(status == StatusCode::CREATED, "{body}");
    let li_id = body["id"].as_i64().context("id")?;
    let li = server.sign_in("li.na", USER_PASSWORD).await?;
    Ok(Org { server, admin, li, li_id })
}

async fn customer(admin: &Client, name: &str) -> Result<i64> {
    let (status, body) = admin.post("/api/v1/customers", &json!({ "name": name })).await?;
    anyhow::ensure!(status == StatusCode::CREATED, "{body}");
    body["id"].as_i64().context("id")
}

async fn transfer(admin: &Client, id: i64, to: i64) -> Result<()> {
    let (status, body) = admin
        .post(
            "/api/v1/customers/transfer",
            &json!({ "customer_ids": [id], "to_user_id": to, "reason": "territory change" }),
        )
        .await?;
    anyhow::ensure!(status == StatusCode::OK, "{body}");
    Ok(())
}

async fn inbox(client: &Client, query: &str) -> Result<Value> {
    let (status, body) = client.get(&format!("/api/v1/notifications{query}")).await?;
    anyhow::ensure!(status == StatusCode::OK, "{body}");
    Ok(body)
}

/// Waits until the inbox holds `n` notifications.
async fn inbox_of(client: &Client, n: usize) -> Result<Vec<Value>> {
    for _ in 0..200 {
        let items = inbox(client, "").await?["items"].as_array().cloned().unwrap_or_default();
        if items.len() >= n {
            return Ok(items);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    anyhow::bail!("the inbox never held {n} notifications")
}

/// Python's aiosmtpd on a free port, printing each message it receives as a JSON line.
struct SmtpServer {
    child: tokio::process::Child,
    port: u16,
    lines: tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
}

impl SmtpServer {
    async fn start() -> Result<SmtpServer> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let script = r#"
import json, sys, time
from email import message_from_bytes, policy
from aiosmtpd.controller import Controller
class Handler:
    async def handle_DATA(self, server, session, envelope):
        m = message_from_bytes(envelope.content, policy=policy.default)
        print(json.dumps({"from": envelope.mail_from, "to": envelope.rcpt_tos, "subject": str(m["subject"]),
                          "header_from": str(m["from"]), "body": m.get_body(("plain",)).get_content()}), flush=True)
        return "250 Message accepted"
c = Controller(Handler(), hostname="127.0.0.1", port=int(sys.argv[1]))
c.start()
print("ready", flush=True)
while True:
    time.sleep(60)
"#;
        let mut child = tokio::process::Command::new("python3")
            .args(["-c", script, &port.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .context("python3 with aiosmtpd runs the test SMTP server (pip install aiosmtpd)")?;
        let mut lines = BufReader::new(child.stdout.take().context("stdout")?).lines();
        let ready = tokio::time::timeout(Duration::from_secs(20), lines.next_line()).await??;
        anyhow::ensure!(
            ready.as_deref() == Some("ready"),
            "the SMTP server did not start (pip install aiosmtpd): {ready:?}"
        );
        Ok(SmtpServer { child, port, lines })
    }

    async fn next(&mut self) -> Result<Value> {
        let line = tokio::time::timeout(Duration::from_secs(30), self.lines.next_line())
            .await
            .context("no mail arrived")??
            .context("the SMTP server stopped")?;
        Ok(serde_json::from_str(&line)?)
    }
}

both_backends! {
    async fn the_inbox_keeps_notifications_in_each_users_language(backend) {
        let Org { server, admin, li, li_id } = org(TestServer::start(backend).await?).await?;
        let a = customer(&admin, "北京星河科技有限公司").await?;
        transfer(&admin, a, li_id).await?;
        let items = inbox_of(&li, 1).await?;
        let n = &items[0];
        assert_eq!(n["kind"], "customer_assigned");
        assert_eq!(n["title"], "Customer assigned to you: 北京星河科技有限公司", "{n}");
        assert_eq!(n["body"], "Reason: territory change");
        assert_eq!(n["link"], format!("/customers/{a}"));
        assert_eq!(n["read_at"], Value::Null);
        assert_eq!(inbox(&li, "").await?["unread"], 1);
        // A user who reads Chinese (the default) gets the Chinese text.
        let role = server.role_id(&admin, "Salesperson").await?;
        let zhao_id = server.add_user(&admin, "zhao.lei", None, &[role]).await?;
        let zhao = server.sign_in("zhao.lei", USER_PASSWORD).await?;
        let b = customer(&admin, "上海远航贸易").await?;
        transfer(&admin, b, zhao_id).await?;
        let items = inbox_of(&zhao, 1).await?;
        assert_eq!(items[0]["title"], "客户转给了你：上海远航贸易", "{}", items[0]);
        assert_eq!(items[0]["body"], "原因：territory change");
        transfer(&admin, b, li_id).await?;
        // Read, unread, read all; paging; someone else's notification is not found.
        let items = inbox_of(&li, 2).await?;
        let id = items[1]["id"].as_i64().context("id")?;
        let (status, read) = li.post(&format!("/api/v1/notifications/{id}/read"), &json!({})).await?;
        assert_eq!(status, StatusCode::OK);
        assert!(read["read_at"].is_string());
        assert_eq!(inbox(&li, "?unread=true").await?["items"].as_array().map(Vec::len), Some(1));
        let (_, count) = li.get("/api/v1/notifications/unread-count").await?;
        assert_eq!(count["unread"], 1);
        li.post(&format!("/api/v1/notifications/{id}/unread"), &json!({})).await?;
        assert_eq!(inbox(&li, "").await?["unread"], 2);
        let page = inbox(&li, "?limit=1").await?;
        assert_eq!(page["items"].as_array().map(Vec::len), Some(1));
        let next = page["next_before_id"].as_i64().context("a next page")?;
        let page2 = inbox(&li, &format!("?limit=1&before_id={next}")).await?;
        assert_eq!(page2["items"][0]["id"].as_i64(), Some(id));
        assert_eq!(page2["next_before_id"], Value::Null);
        let (status, body) = admin.post(&format!("/api/v1/notifications/{id}/read"), &json!({})).await?;
        assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
        let (status, body) = li.get("/api/v1/notifications?limit=0").await?;
        assert_eq!((status, error_code(&body).as_str()), (StatusCode::UNPROCESSABLE_ENTITY, "invalid_input"));
        let (_, marked) = li.post("/api/v1/notifications/read-all", &json!({})).await?;
        assert_eq!(marked["marked"], 2);
        assert_eq!(inbox(&li, "").await?["unread"], 0);
        // Signed out, nothing.
        assert_eq!(server.anonymous().get("/api/v1/notifications").await?.0, StatusCode::UNAUTHORIZED);
        Ok(())
    }

    async fn live_streams_lose_nothing_across_reconnects_and_tabs(backend) {
        let Org { server: _server, admin, li, li_id } = org(TestServer::start(backend).await?).await?;
        let mut tab1 = Stream::open(&li, None).await?;
        let mut tab2 = Stream::open(&li, None).await?;
        let a = customer(&admin, "推送一号").await?;
        transfer(&admin, a, li_id).await?;
        let (first, n) = tab1.next().await?;
        assert_eq!(n["title"], "Customer assigned to you: 推送一号");
        assert_eq!(tab2.next().await?.0, first, "every tab gets it");
        tab1.quiet().await?;
        // Tab 1 goes away; two notifications come meanwhile; reconnecting with the last id
        // seen brings both, in order, and then live ones.
        tab1.close();
        let b = customer(&admin, "推送二号").await?;
        let c = customer(&admin, "推送三号").await?;
        transfer(&admin, b, li_id).await?;
        transfer(&admin, c, li_id).await?;
        let (second, _) = tab2.next().await?;
        let (third, _) = tab2.next().await?;
        let mut again = Stream::open(&li, Some(first)).await?;
        assert_eq!(again.next().await?.0, second);
        assert_eq!(again.next().await?.0, third);
        let d = customer(&admin, "推送四号").await?;
        transfer(&admin, d, li_id).await?;
        let (fourth, n) = again.next().await?;
        assert!(fourth > third && n["title"] == "Customer assigned to you: 推送四号", "{n}");
        assert_eq!(tab2.next().await?.0, fourth);
        // Another user's stream sees none of it.
        let mut admins = Stream::open(&admin, None).await?;
        let e = customer(&admin, "推送五号").await?;
        transfer(&admin, e, li_id).await?;
        assert!(again.next().await?.0 > fourth);
        admins.quiet().await?;
        // A Last-Event-ID that is not an id is refused.
        let resp = li.request(Method::GET, "/api/v1/notifications/stream").header("Last-Event-ID", "yesterday").send().await?;
        assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
        for s in [again, admins] {
            s.close();
        }
        tab2.close();
        Ok(())
    }

    async fn preferences_decide_where_notifications_go_and_mail_reaches_smtp(backend) {
        let mut smtp = SmtpServer::start().await?;
        let db = std::sync::Arc::new(TestDb::new(backend).await?);
        let mail = MailConfig {
            public_url: Some("https://crm.example.com".into()),
            idle: Duration::from_millis(20),
            ..MailConfig::new(&format!("smtp://127.0.0.1:{}", smtp.port), "Tessera CRM <crm@example.com>")
        };
        let server = TestServer::start_configured(db, Default::default(), fast_dispatch(), Some(mail)).await?;
        let Org { server, admin, li, li_id } = org(server).await?;
        let (status, prefs) = li.get("/api/v1/notifications/preferences").await?;
        assert_eq!(status, StatusCode::OK);
        let assigned = prefs.as_array().and_then(|p| p.iter().find(|p| p["kind"] == "customer_assigned")).context("kind")?;
        assert_eq!((assigned["in_app"].as_bool(), assigned["email"].as_bool()), (Some(true), Some(false)), "{prefs}");
        assert_eq!(assigned["label"], "Customers assigned to me");
        // Unknown kinds are refused and change nothing.
        let (status, body) = li.put("/api/v1/notifications/preferences", &json!([{ "kind": "customer_assigned", "in_app": true, "email": true }, { "kind": "weather", "in_app": true, "email": true }])).await?;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert!(body["error"]["message"].as_str().unwrap_or_default().contains("weather"));
        let (_, unchanged) = li.get("/api/v1/notifications/preferences").await?;
        assert_eq!(unchanged, prefs);
        // Assigned customers by email as well as in the inbox.
        let (status, saved) = li.put("/api/v1/notifications/preferences", &json!([{ "kind": "customer_assigned", "in_app": true, "email": true }])).await?;
        assert_eq!(status, StatusCode::OK, "{saved}");
        let a = customer(&admin, "邮件通知公司").await?;
        transfer(&admin, a, li_id).await?;
        let mail = smtp.next().await?;
        assert_eq!(mail["to"], json!(["li.na@example.com"]));
        assert_eq!(mail["from"], "crm@example.com");
        assert_eq!(mail["subject"], "Customer assigned to you: 邮件通知公司", "{mail}");
        let body = mail["body"].as_str().unwrap_or_default();
        assert!(body.contains("Reason: territory change") && body.contains(&format!("https://crm.example.com/customers/{a}")), "{body}");
        assert_eq!(inbox_of(&li, 1).await?.len(), 1);
        // Email only: nothing in the inbox, the mail still goes.
        li.put("/api/v1/notifications/preferences", &json!([{ "kind": "customer_assigned", "in_app": false, "email": true }])).await?;
        let b = customer(&admin, "只发邮件公司").await?;
        transfer(&admin, b, li_id).await?;
        assert_eq!(smtp.next().await?["subject"], "Customer assigned to you: 只发邮件公司");
        assert_eq!(inbox(&li, "").await?["items"].as_array().map(Vec::len), Some(1));
        // Neither: nothing at all.
        li.put("/api/v1/notifications/preferences", &json!([{ "kind": "customer_assigned", "in_app": false, "email": false }])).await?;
        let c = customer(&admin, "不通知公司").await?;
        transfer(&admin, c, li_id).await?;
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(inbox(&li, "").await?["items"].as_array().map(Vec::len), Some(1));
        let sent: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM notification_emails WHERE status = 'sent'").fetch_one(server.store().pool()).await?;
        assert_eq!(sent, 2);
        drop(smtp.child);
        Ok(())
    }

    async fn reminders_come_once_for_due_follow_ups_and_birthdays(backend) {
        let Org { server, admin, li, li_id } = org(TestServer::start(backend).await?).await?;
        let store = server.store().clone();
        let now = now_ms();
        let hour = 3_600_000;
        let due = customer(&admin, "到期跟进公司").await?;
        let later = customer(&admin, "明天跟进公司").await?;
        let unowned = customer(&admin, "无人负责公司").await?;
        for (id, owner, at) in [(due, Some(li_id), now - hour / 2), (later, Some(li_id), now + 20 * hour), (unowned, None, now - hour / 4)] {
            sqlx::query("UPDATE customers SET owner_id = $1, next_follow_up_at = $2 WHERE id = $3")
                .bind(owner).bind(at).bind(id).execute(store.pool()).await?;
        }
        let run = Run { scheduled_for: now, previous: Some(now - hour), missed: 0, attempt: 1 };
        // (The host's own scheduler may have run the job a moment before: either way the owner
        // is told once.)
        let said = jobs::follow_ups_due(store.clone(), run).await?;
        assert!(said.starts_with("1 follow-ups due, "), "{said}");
        // Run again (a node died and another took over): nobody is told twice.
        let said = jobs::follow_ups_due(store.clone(), Run { attempt: 2, ..run }).await?;
        assert_eq!(said, "1 follow-ups due, 0 owners notified");
        let items = inbox_of(&li, 1).await?;
        assert_eq!(items[0]["title"], "Follow-up due: 到期跟进公司");
        assert_eq!(items[0]["kind"], "follow_up_due");
        // Birthdays: today's (in the organisation's time zone, from 08:00) are told once.
        let tz = tessera_host::jiff::tz::TimeZone::get("Asia/Shanghai")?;
        let at = tessera_host::jiff::civil::date(2026, 11, 30).at(9, 0, 0, 0).to_zoned(tz.clone())?.timestamp().as_millisecond();
        let early = tessera_host::jiff::civil::date(2026, 11, 30).at(7, 0, 0, 0).to_zoned(tz)?.timestamp().as_millisecond();
        let (status, body) = admin.post(&format!("/api/v1/customers/{due}/contacts"), &json!({ "name": "王芳", "birthday": "1985-11-30" })).await?;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        admin.post(&format!("/api/v1/customers/{due}/contacts"), &json!({ "name": "赵磊", "birthday": "1990-12-01" })).await?;
        let before = jobs::contact_birthdays(store.clone(), Run { scheduled_for: early, previous: None, missed: 0, attempt: 1 }).await?;
        assert_eq!(before, "0 birthdays today, 0 owners notified", "too early in the day");
        let birthdays = Run { scheduled_for: at, previous: None, missed: 0, attempt: 1 };
        let said = jobs::contact_birthdays(store.clone(), birthdays).await?;
        assert!(said.starts_with("1 birthdays today, "), "{said}");
        let said = jobs::contact_birthdays(store.clone(), birthdays).await?;
        assert_eq!(said, "1 birthdays today, 0 owners notified", "told once");
        let items = inbox_of(&li, 2).await?;
        assert_eq!(items[0]["title"], "Today is the birthday of 王芳 (到期跟进公司)");
        let by_kind: HashMap<String, usize> = items.iter().fold(HashMap::new(), |mut m, n| {
            *m.entry(n["kind"].as_str().unwrap_or_default().to_owned()).or_default() += 1;
            m
        });
        assert_eq!(by_kind.get("contact_birthday"), Some(&1));
        Ok(())
    }
}
