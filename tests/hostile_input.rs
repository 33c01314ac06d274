//! Bad input: well over a thousand malformed or hostile requests against every endpoint of
//! the host core. Each must get a 4xx with a JSON error naming what was wrong; none may get a
//! 5xx, and nothing of another organisation may be read or changed.

use anyhow::Context;
use reqwest::{Method, StatusCode, header};
use serde_json::{Value, json};
use tessera_tests::{TestServer, USER_PASSWORD, both_backends};

/// Every endpoint: method, path (with `{id}`), and whether it takes a JSON body.
const ENDPOINTS: &[(&str, &str, bool)] = &[
    ("POST", "/api/v1/auth/sign-out", false),
    ("GET", "/api/v1/me", false),
    ("PATCH", "/api/v1/me", true),
    ("POST", "/api/v1/me/password", true),
    ("GET", "/api/v1/me/sessions", false),
    ("DELETE", "/api/v1/me/sessions/{id}", false),
    ("GET", "/api/v1/me/tokens", false),
    ("POST", "/api/v1/me/tokens", true),
    ("DELETE", "/api/v1/me/tokens/{id}", false),
    ("GET", "/api/v1/tokens", false),
    ("DELETE", "/api/v1/tokens/{id}", false),
    ("GET", "/api/v1/users", false),
    ("POST", "/api/v1/users", true),
    ("GET", "/api/v1/users/{id}", false),
    ("PATCH", "/api/v1/users/{id}", true),
    ("PUT", "/api/v1/users/{id}/roles", true),
    ("POST", "/api/v1/users/{id}/password", true),
    ("POST", "/api/v1/users/{id}/unlock", false),
    ("GET", "/api/v1/departments", false),
    ("POST", "/api/v1/departments", true),
    ("GET", "/api/v1/departments/{id}", false),
    ("PATCH", "/api/v1/departments/{id}", true),
    ("DELETE", "/api/v1/departments/{id}", false),
    ("GET", "/api/v1/roles", false),
    ("POST", "/api/v1/roles", true),
    ("GET", "/api/v1/roles/{id}", false),
    ("PATCH", "/api/v1/roles/{id}", true),
    ("DELETE", "/api/v1/roles/{id}", false),
    ("GET", "/api/v1/permissions", false),
    ("GET", "/api/v1/sign-in-rules", false),
    ("POST", "/api/v1/sign-in-rules", true),
    ("DELETE", "/api/v1/sign-in-rules/{id}", false),
    ("GET", "/api/v1/audit-log", false),
    ("GET", "/api/v1/customers", false),
    ("POST", "/api/v1/customers", true),
    ("GET", "/api/v1/customers/{id}", false),
    ("PATCH", "/api/v1/customers/{id}", true),
    ("DELETE", "/api/v1/customers/{id}", false),
    ("GET", "/api/v1/customers/{id}/contacts", false),
    ("POST", "/api/v1/customers/{id}/contacts", true),
    ("PATCH", "/api/v1/contacts/{id}", true),
    ("DELETE", "/api/v1/contacts/{id}", false),
    ("GET", "/api/v1/customers/{id}/activities", false),
    ("POST", "/api/v1/customers/{id}/activities", true),
    ("POST", "/api/v1/option-lists/{id}", true),
    ("PUT", "/api/v1/option-lists/items/{id}", true),
    ("PUT", "/api/v1/settings/customer-code-pattern", true),
    ("GET", "/api/v1/customers/{id}/shares", false),
    ("POST", "/api/v1/customers/{id}/shares", true),
    ("POST", "/api/v1/customers/transfer", true),
    ("GET", "/api/v1/customers/{id}/transfers", false),
    ("POST", "/api/v1/customers/batch-edit", true),
    ("POST", "/api/v1/customers/duplicates", true),
    ("GET", "/api/v1/customers/{id}/duplicates", false),
    ("POST", "/api/v1/customers/{id}/merge", true),
    ("POST", "/api/v1/customer-views", true),
    ("DELETE", "/api/v1/customer-views/{id}", false),
    ("GET", "/api/v1/customer-imports/{id}", false),
    ("POST", "/api/v1/customer-imports/{id}/dry-run", true),
    ("POST", "/api/v1/customer-imports/{id}/run", true),
    ("POST", "/api/v1/custom-fields", true),
    ("GET", "/api/v1/customers/{id}/group", false),
    ("PATCH", "/api/v1/custom-fields/{id}", true),
];

/// The fields each body endpoint knows, to aim wrong types at.
fn fields(path: &str) -> &'static [&'static str] {
    match path {
        "/api/v1/me" => &["display_name", "email", "phone", "locale"],
        "/api/v1/me/password" => &["current_password", "new_password"],
        "/api/v1/me/tokens" => &["name", "expires_in_days"],
        "/api/v1/users" => &["username", "display_name", "password", "department_id", "role_ids", "locale"],
        "/api/v1/users/{id}" => &["display_name", "department_id", "manager_id", "active", "email"],
        "/api/v1/users/{id}/roles" => &["role_ids"],
        "/api/v1/users/{id}/password" => &["new_password"],
        "/api/v1/departments" | "/api/v1/departments/{id}" => &["name", "parent_id", "head_user_id"],
        "/api/v1/roles" | "/api/v1/roles/{id}" => &["name", "description", "grants"],
        "/api/v1/sign-in-rules" => &["user_id", "role_id", "ip_allow", "weekdays", "start", "end"],
        "/api/v1/customers" | "/api/v1/customers/{id}" => {
            &["name", "level", "credit_limit", "tags", "phones", "parent_id", "version"]
        }
        "/api/v1/customers/{id}/contacts" | "/api/v1/contacts/{id}" => &["name", "birthday", "reports_to_id", "phones"],
        "/api/v1/customers/{id}/activities" => &["kind", "occurred_at", "contact_id"],
        "/api/v1/option-lists/{id}" | "/api/v1/option-lists/items/{id}" => &["value", "label_zh", "position", "active"],
        "/api/v1/settings/customer-code-pattern" => &["pattern"],
        "/api/v1/customers/{id}/shares" => &["user_id", "department_id", "level"],
        "/api/v1/customers/transfer" => &["customer_ids", "from_user_id", "to_user_id", "reason"],
        "/api/v1/customers/batch-edit" => &["customer_ids", "level", "add_tags"],
        "/api/v1/customers/duplicates" => &["phones", "exclude_id"],
        "/api/v1/customers/{id}/merge" => &["from_ids"],
        "/api/v1/customer-views" => &["name", "query", "shared"],
        "/api/v1/customer-imports/{id}/dry-run" | "/api/v1/customer-imports/{id}/run" => &["mapping", "dedupe"],
        _ => &[],
    }
}

const INJECTIONS: &[&str] = &[
    "' OR '1'='1",
    "1; DROP TABLE users; --",
    "\" OR \"\"=\"",
    "admin'--",
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "${jndi:ldap://127.0.0.1/a}",
    "{{7*7}}",
    "../../../../etc/passwd",
    "%00",
    "\u{0000}nul",
    "😀💥",
    "𠜎𠜱𠝹",
    "\r\nSet-Cookie: x=y",
];

const BROKEN_JSON: &[&str] = &[
    "{",
    "{\"a\":",
    "[1, 2",
    "nul",
    "{\"name\": \"x\" \"y\": 1}",
    "{'name': 'single quotes'}",
    "{\"name\": \"unterminated}",
    "\u{feff}{}{}",
    "",
    "{\"name\": NaN}",
    "{\"name\": 0x10}",
    "{\"name\": \"\\uD800\"}",
];

const BAD_IDS: &[&str] =
    &["-1", "0", "abc", "1.5", "99999999999999999999", "%00", "1;DROP", "%27%20OR%201=1", "9223372036854775807", "1e3"];

fn wrong_values() -> Vec<Value> {
    vec![
        json!({"nested": {"deep": [1, 2, 3]}}),
        json!([1, 2, 3]),
        json!(true),
        json!(1.5),
        json!(-9_223_372_036_854_775_808i64),
        json!("x".repeat(300)),
        json!(["' OR 1=1"]),
    ]
}

struct Tally {
    sent: usize,
    failures: Vec<String>,
}

impl Tally {
    async fn expect_4xx(&mut self, what: String, req: reqwest::RequestBuilder) {
        self.sent += 1;
        match send_again_on_reset(req).await {
            Err(e) => self.failures.push(format!("{what}: transport error {e}")),
            Ok(resp) => {
                let status = resp.status();
                let body: Value = resp.json().await.unwrap_or(Value::Null);
                let message = body["error"]["message"].as_str().unwrap_or_default();
                if !status.is_client_error() {
                    self.failures.push(format!("{what}: {status} {body}"));
                } else if message.is_empty() || body["error"]["code"].as_str().is_none() {
                    self.failures.push(format!("{what}: {status} without a JSON error message: {body}"));
                }
            }
        }
    }
}

/// Sends a request; one the connection failed under is sent again, up to twice. A body over the
/// limit is refused before it is read and the server closes the connection, so a client still
/// writing the rest can see the reset before the answer: a race of TCP, not of the host, which
/// must still answer the request with a 4xx and a message.
async fn send_again_on_reset(req: reqwest::RequestBuilder) -> reqwest::Result<reqwest::Response> {
    let mut next = req;
    for _ in 0..2 {
        let again = next.try_clone();
        match (next.send().await, again) {
            (Err(e), Some(again)) if e.is_request() || e.is_body() => next = again,
            (result, _) => return result,
        }
    }
    next.send().await
}

fn method(m: &str) -> Method {
    Method::from_bytes(m.as_bytes()).unwrap_or(Method::GET)
}

both_backends! {
    async fn a_thousand_hostile_requests_get_clear_4xx_answers(backend) {
        let server = TestServer::start(backend).await?;
        let admin = server.admin().await?;
        let admin_api = server.token_client(&admin).await?;
        let sales_role = server.role_id(&admin, "Salesperson").await?;
        server.add_user(&admin, "sam", None, &[sales_role]).await?;
        let sam = server.sign_in("sam", USER_PASSWORD).await?;
        let sam_api = server.token_client(&sam).await?;
        // A second organisation whose records must stay out of reach.
        let other = tessera_host::org::create(server.store(), &server.state.hasher, &tessera_host::org::NewOrg {
            slug: "other".into(), name: "Other".into(), time_zone: "Asia/Shanghai".into(), admin_password: "other admin passphrase".into(),
        }).await?;
        let other_admin = server.anonymous();
        let (_, signed) = other_admin.post("/api/v1/auth/sign-in", &json!({ "org": "other", "username": "admin", "password": "other admin passphrase" })).await?;
        let other_admin = other_admin.with_csrf(signed["csrf_token"].as_str().context("csrf")?.to_owned());
        let (_, other_dept) = other_admin.post("/api/v1/departments", &json!({ "name": "Theirs" })).await?;
        let (_, other_role) = other_admin.post("/api/v1/roles", &json!({ "name": "Theirs" })).await?;
        let (_, other_token) = other_admin.post("/api/v1/me/tokens", &json!({ "name": "theirs" })).await?;
        let (_, other_rule) = other_admin.post("/api/v1/sign-in-rules", &json!({ "user_id": other.admin_user_id, "ip_allow": ["127.0.0.0/8"] })).await?;
        let (_, other_sessions) = other_admin.get("/api/v1/me/sessions").await?;
        let other_ids = [
            ("/users/", other.admin_user_id),
            ("/departments/", other_dept["id"].as_i64().context("dept")?),
            ("/roles/", other_role["id"].as_i64().context("role")?),
            ("/tokens/", other_token["id"].as_i64().context("token")?),
            ("/sign-in-rules/", other_rule["id"].as_i64().context("rule")?),
            ("/sessions/", other_sessions[0]["id"].as_i64().context("session")?),
        ];
        let store = server.store();
        let count = |sql: &'static str| async move { sqlx::query_scalar::<_, i64>(sql).bind(other.org.id).fetch_one(store.pool()).await };
        let before = (count("SELECT COUNT(*) FROM users WHERE org_id = $1").await?, count("SELECT COUNT(*) FROM departments WHERE org_id = $1").await?,
                      count("SELECT COUNT(*) FROM roles WHERE org_id = $1").await?, count("SELECT COUNT(*) FROM api_tokens WHERE org_id = $1 AND revoked_at IS NULL").await?,
                      count("SELECT COUNT(*) FROM sign_in_rules WHERE org_id = $1").await?, count("SELECT COUNT(*) FROM sessions WHERE org_id = $1").await?);

        let mut tally = Tally { sent: 0, failures: Vec::new() };
        let http = reqwest::Client::new();
        let url = |p: &str| server.url(p);
        let with_id = |p: &str, id: &str| p.replace("{id}", id);

        // 1. Missing, forged and malformed credentials on every endpoint.
        let (_, me) = admin.get("/api/v1/me").await?;
        let real_csrf = me["csrf_token"].as_str().unwrap_or_default().to_owned();
        for (m, p, _) in ENDPOINTS {
            let path = with_id(p, "1");
            let forged: [(&str, Option<(&str, String)>); 8] = [
                ("none", None),
                ("forged bearer", Some(("authorization", "Bearer tsr_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".into()))),
                ("bearer without tsr", Some(("authorization", "Bearer abc.def.ghi".into()))),
                ("empty bearer", Some(("authorization", "Bearer ".into()))),
                ("basic auth", Some(("authorization", "Basic YWRtaW46YWRtaW4=".into()))),
                ("forged cookie", Some(("cookie", "tessera_session=forgedforgedforgedforgedforgedforgedforged".into()))),
                ("sql in cookie", Some(("cookie", "tessera_session=' OR '1'='1".into()))),
                ("huge bearer", Some(("authorization", format!("Bearer tsr_{}", "A".repeat(5000))))),
            ];
            for (label, hdr) in forged {
                let mut req = http.request(method(m), url(&path)).header(header::CONTENT_TYPE, "application/json").body("{}");
                if let Some((k, v)) = hdr {
                    req = req.header(k, v);
                }
                tally.expect_4xx(format!("{m} {path} with {label}"), req).await;
            }
            if *m != "GET" {
                // A real session cookie but a missing or wrong CSRF token.
                let no_csrf = admin.without_csrf();
                tally.expect_4xx(format!("{m} {path} without CSRF"), no_csrf.request(method(m), &path).json(&json!({}))).await;
                let wrong = admin.without_csrf().with_csrf(format!("{}x", real_csrf));
                tally.expect_4xx(format!("{m} {path} with a wrong CSRF token"), wrong.request(method(m), &path).json(&json!({}))).await;
            }
        }

        // 2. Malformed bodies, with valid credentials.
        for (m, p, _) in ENDPOINTS.iter().filter(|e| e.2) {
            let path = with_id(p, "1");
            for broken in BROKEN_JSON {
                tally.expect_4xx(format!("{m} {path} broken JSON {broken:?}"),
                    admin_api.request(method(m), &path).header(header::CONTENT_TYPE, "application/json").body(*broken)).await;
            }
            tally.expect_4xx(format!("{m} {path} text/plain"), admin_api.request(method(m), &path).header(header::CONTENT_TYPE, "text/plain").body("{}")).await;
            tally.expect_4xx(format!("{m} {path} no content type"), admin_api.request(method(m), &path).body("{}")).await;
            tally.expect_4xx(format!("{m} {path} binary"), admin_api.request(method(m), &path).header(header::CONTENT_TYPE, "application/json").body(vec![0xff, 0xfe, 0x00, 0x81])).await;
            tally.expect_4xx(format!("{m} {path} 2 MB body"), admin_api.request(method(m), &path).header(header::CONTENT_TYPE, "application/json")
                .body(format!("{{\"name\": \"{}\"}}", "x".repeat(2 * 1024 * 1024)))).await;
            tally.expect_4xx(format!("{m} {path} deep nesting"), admin_api.request(method(m), &path).header(header::CONTENT_TYPE, "application/json")
                .body(format!("{}{}", "[".repeat(20_000), "]".repeat(20_000)))).await;
            tally.expect_4xx(format!("{m} {path} unknown field"), admin_api.request(method(m), &path).json(&json!({ "is_admin": true, "org_id": other.org.id }))).await;
            tally.expect_4xx(format!("{m} {path} array body"), admin_api.request(method(m), &path).json(&json!([{ "name": "x" }]))).await;
            for field in fields(p) {
                for wrong in wrong_values() {
                    // Strings are fine for string fields; aim only the kinds that must not fit.
                    let is_text = ["display_name", "email", "phone", "name", "description", "current_password", "new_password", "password", "username", "start", "end", "value", "label_zh"].contains(field);
                    let valid_list = (*field == "role_ids" || *field == "weekdays") && wrong.as_array().is_some_and(|a| a.iter().all(Value::is_i64));
                    if (is_text && wrong.is_string()) || (*field == "active" && wrong.is_boolean()) || valid_list {
                        continue;
                    }
                    tally.expect_4xx(format!("{m} {path} {field} = {wrong}"), admin_api.request(method(m), &path).json(&json!({ *field: wrong }))).await;
                }
            }
        }

        // 3. Bad ids in paths, and ids of another organisation.
        for (m, p, _) in ENDPOINTS.iter().filter(|e| e.1.contains("{id}")) {
            for bad in BAD_IDS {
                let path = with_id(p, bad);
                tally.expect_4xx(format!("{m} {path}"), admin_api.request(method(m), &path).json(&json!({}))).await;
            }
            for (segment, id) in other_ids {
                if p.contains(segment) {
                    let path = with_id(p, &id.to_string());
                    let body = if p.ends_with("/roles") { json!({ "role_ids": [] }) }
                        else if p.ends_with("/password") { json!({ "new_password": "taken over by acme" }) }
                        else if *m == "PATCH" { json!({ "name": "taken", "display_name": "taken" }) }
                        else { json!({}) };
                    let body = if p.starts_with("/api/v1/roles/") && *m == "PATCH" { json!({ "name": "taken" }) }
                        else if p.starts_with("/api/v1/users/{id}") && *m == "PATCH" { json!({ "display_name": "taken" }) }
                        else if p.starts_with("/api/v1/departments/") && *m == "PATCH" { json!({ "name": "taken" }) }
                        else { body };
                    tally.expect_4xx(format!("{m} {path} (another organisation's)"), admin_api.request(method(m), &path).json(&body)).await;
                }
            }
        }
        // References to another organisation's rows inside bodies.
        let theirs_dept = other_ids[1].1;
        let theirs_role = other_ids[2].1;
        for body in [
            json!({ "username": "spy", "display_name": "spy", "password": USER_PASSWORD, "department_id": theirs_dept }),
            json!({ "username": "spy", "display_name": "spy", "password": USER_PASSWORD, "role_ids": [theirs_role] }),
            json!({ "username": "spy", "display_name": "spy", "password": USER_PASSWORD, "manager_id": other.admin_user_id }),
        ] {
            tally.expect_4xx(format!("POST /api/v1/users {body}"), admin_api.request(Method::POST, "/api/v1/users").json(&body)).await;
        }
        tally.expect_4xx("POST /api/v1/departments with their parent".into(), admin_api.request(Method::POST, "/api/v1/departments").json(&json!({ "name": "x", "parent_id": theirs_dept }))).await;
        tally.expect_4xx("POST /api/v1/sign-in-rules on their user".into(), admin_api.request(Method::POST, "/api/v1/sign-in-rules").json(&json!({ "user_id": other.admin_user_id }))).await;

        // 4. Injection strings where the value must be refused, and in query strings.
        for inj in INJECTIONS {
            for (path, body) in [
                ("/api/v1/users", json!({ "username": inj, "display_name": "x", "password": USER_PASSWORD })),
                ("/api/v1/users", json!({ "username": "okname", "display_name": "x", "password": USER_PASSWORD, "email": inj })),
                ("/api/v1/users", json!({ "username": "okname", "display_name": "x", "password": USER_PASSWORD, "locale": inj })),
                ("/api/v1/roles", json!({ "name": "r", "grants": [{ "module": inj, "action": "read", "scope": "all" }] })),
                ("/api/v1/roles", json!({ "name": "r", "grants": [{ "module": "customers", "action": inj, "scope": "all" }] })),
                ("/api/v1/sign-in-rules", json!({ "user_id": 1, "ip_allow": [inj] })),
                ("/api/v1/sign-in-rules", json!({ "user_id": 1, "start": inj, "end": "10:00" })),
            ] {
                tally.expect_4xx(format!("POST {path} {body}"), admin_api.request(Method::POST, path).json(&body)).await;
            }
            tally.expect_4xx(format!("PATCH /api/v1/me locale {inj:?}"), admin_api.request(Method::PATCH, "/api/v1/me").json(&json!({ "locale": inj }))).await;
            let enc: String = inj.bytes().map(|b| format!("%{b:02X}")).collect();
            for q in [format!("/api/v1/analysis/customers/new?from={enc}&to=2026-01-01"), format!("/api/v1/analysis/customers/composition?by={enc}"),
                  format!("/api/v1/customers?sort={enc}"), format!("/api/v1/customers?follow_up_before={enc}"), format!("/api/v1/customers?cursor={enc}"), format!("/api/v1/contacts?birthday_month={enc}"), format!("/api/v1/contacts?limit={enc}"),
                  format!("/api/v1/users?limit={enc}"), format!("/api/v1/users?after_id={enc}"), format!("/api/v1/audit-log?before_id={enc}"),
                      format!("/api/v1/tokens?user_id={enc}"), format!("/api/v1/users?{enc}=1"), format!("/api/v1/users?active={enc}")] {
                tally.expect_4xx(format!("GET {q}"), admin_api.request(Method::GET, &q)).await;
            }
        }
        for q in ["/api/v1/users?limit=0", "/api/v1/users?limit=100000", "/api/v1/audit-log?limit=-5", "/api/v1/audit-log?limit=501", "/api/v1/users?department_id=1&department_id=2"] {
            tally.expect_4xx(format!("GET {q}"), admin_api.request(Method::GET, q)).await;
        }

        // 5. A salesperson at the administration endpoints.
        for (m, p, _) in ENDPOINTS.iter().filter(|e| {
            ["/api/v1/tokens", "/api/v1/audit-log", "/api/v1/sign-in-rules"].iter().any(|a| e.1.starts_with(a))
                || (e.0 != "GET" && ["/api/v1/users", "/api/v1/departments", "/api/v1/roles"].iter().any(|a| e.1.starts_with(a)))
        }) {
            let path = with_id(p, "1");
            tally.expect_4xx(format!("salesperson {m} {path}"), sam_api.request(method(m), &path).json(&json!({ "name": "mine", "role_ids": [1], "new_password": "a password of mine" }))).await;
        }

        // 6. Unknown endpoints and methods.
        for (m, p) in [("GET", "/api/v1/nothing"), ("GET", "/api/v2/me"), ("PUT", "/api/v1/me"), ("DELETE", "/api/v1/users"), ("POST", "/api/v1/permissions"),
                       ("TRACE", "/api/v1/me"), ("GET", "/api/v1/users/1/../../etc/passwd"), ("GET", "/api/v1/%2e%2e/%2e%2e/api/v2/me")] {
            tally.expect_4xx(format!("{m} {p}"), admin_api.request(method(m), p)).await;
        }

        // 7. Sign-in itself, last: usernames and organisations that do not exist, and broken bodies.
        for inj in INJECTIONS {
            for body in [json!({ "username": inj, "password": "whatever whatever" }), json!({ "org": inj, "username": "admin", "password": "whatever whatever" }),
                         json!({ "username": "admin", "password": inj }), json!({ "username": ["admin"], "password": inj })] {
                tally.expect_4xx(format!("sign-in {body}"), http.post(url("/api/v1/auth/sign-in")).json(&body)).await;
            }
        }
        for broken in BROKEN_JSON {
            tally.expect_4xx(format!("sign-in broken {broken:?}"), http.post(url("/api/v1/auth/sign-in")).header(header::CONTENT_TYPE, "application/json").body(*broken)).await;
        }
        tally.expect_4xx("sign-in huge password".into(), http.post(url("/api/v1/auth/sign-in")).json(&json!({ "username": "admin", "password": "p".repeat(100_000) }))).await;

        println!("{} hostile requests sent, {} answered wrongly", tally.sent, tally.failures.len());
        assert!(tally.sent >= 1000, "only {} requests", tally.sent);
        assert!(tally.failures.is_empty(), "{} of {} requests were answered wrongly:\n{}", tally.failures.len(), tally.sent, tally.failures.iter().take(30).cloned().collect::<Vec<_>>().join("\n"));

        // The host is still up and the other organisation is untouched.
        assert_eq!(http.get(url("/healthz")).send().await?.status(), StatusCode::OK);
        let after = (count("SELECT COUNT(*) FROM users WHERE org_id = $1").await?, count("SELECT COUNT(*) FROM departments WHERE org_id = $1").await?,
                     count("SELECT COUNT(*) FROM roles WHERE org_id = $1").await?, count("SELECT COUNT(*) FROM api_tokens WHERE org_id = $1 AND revoked_at IS NULL").await?,
                     count("SELECT COUNT(*) FROM sign_in_rules WHERE org_id = $1").await?, count("SELECT COUNT(*) FROM sessions WHERE org_id = $1").await?);
        assert_eq!(before, after, "another organisation's rows changed");
        let names: Vec<String> = sqlx::query_scalar("SELECT name FROM departments WHERE org_id = $1").bind(other.org.id).fetch_all(store.pool()).await?;
        assert_eq!(names, vec!["Theirs".to_owned()]);
        Ok(())
    }
}
