//! Sign-in, sessions, API tokens, CSRF, throttling, restrictions, the audit log and the
//! administration API, over real HTTP on both backends.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use reqwest::{Method, StatusCode, header};
use serde_json::{Value, json};
use tessera_host::auth::SessionPolicy;
use tessera_host::store::Backend;
use tessera_host::web::WebConfig;
use tessera_tests::{ADMIN_PASSWORD, Client, TestServer, USER_PASSWORD, both_backends, error_code};

fn set_cookie(resp: &reqwest::Response) -> String {
    resp.headers().get(header::SET_COOKIE).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
}

fn cookie_pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap_or_default().to_owned()
}

async fn raw_sign_in(
    server: &TestServer,
    username: &str,
    password: &str,
    cookie: Option<&str>,
) -> anyhow::Result<reqwest::Response> {
    let mut req = reqwest::Client::new()
        .post(server.url("/api/v1/auth/sign-in"))
        .json(&json!({ "username": username, "password": password }));
    if let Some(c) = cookie {
        req = req.header(header::COOKIE, c);
    }
    Ok(req.send().await?)
}

async fn me_with_cookie(server: &TestServer, cookie: &str) -> anyhow::Result<StatusCode> {
    Ok(reqwest::Client::new().get(server.url("/api/v1/me")).header(header::COOKIE, cookie).send().await?.status())
}

async fn audit_actions(admin: &Client, query: &str) -> anyhow::Result<Vec<Value>> {
    let (status, body) = admin.get(&format!("/api/v1/audit-log?{query}")).await?;
    anyhow::ensure!(status == StatusCode::OK, "audit log: {status} {body}");
    Ok(body.as_array().cloned().unwrap_or_default())
}

both_backends! {
    async fn sign_in_sets_a_hardened_cookie_and_rotates_the_session(backend) {
        let server = TestServer::start(backend).await?;
        let first = raw_sign_in(&server, "admin", ADMIN_PASSWORD, None).await?;
        assert_eq!(first.status(), StatusCode::OK);
        let sc = set_cookie(&first);
        for attr in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age="] {
            assert!(sc.contains(attr), "cookie lacks {attr}: {sc}");
        }
        assert!(!sc.contains("Secure"), "no Secure flag over plain HTTP: {sc}");
        let old = cookie_pair(&sc);
        assert_eq!(me_with_cookie(&server, &old).await?, StatusCode::OK);
        // Signing in again while holding the old cookie ends the old session: the id rotates.
        let second = raw_sign_in(&server, "admin", ADMIN_PASSWORD, Some(&old)).await?;
        let new = cookie_pair(&set_cookie(&second));
        assert_ne!(old, new);
        assert_eq!(me_with_cookie(&server, &old).await?, StatusCode::UNAUTHORIZED);
        assert_eq!(me_with_cookie(&server, &new).await?, StatusCode::OK);
        // The secret is not stored, only its hash.
        let secret = new.split_once('=').map(|(_, v)| v.to_owned()).unwrap_or_default();
        let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sessions WHERE token_hash = $1")
            .bind(&secret).fetch_one(server.store().pool()).await?;
        assert_eq!(stored, 0);
        Ok(())
    }

    async fn sign_out_ends_the_session_on_the_server(backend) {
        let server = TestServer::start(backend).await?;
        let resp = raw_sign_in(&server, "admin", ADMIN_PASSWORD, None).await?;
        let cookie = cookie_pair(&set_cookie(&resp));
        let csrf = resp.json::<Value>().await?["csrf_token"].as_str().unwrap_or_default().to_owned();
        let out = reqwest::Client::new().post(server.url("/api/v1/auth/sign-out"))
            .header(header::COOKIE, &cookie).header("x-csrf-token", csrf).send().await?;
        assert_eq!(out.status(), StatusCode::NO_CONTENT);
        assert!(set_cookie(&out).contains("Max-Age=0"));
        // A copy of the cookie kept by an attacker is worthless now.
        assert_eq!(me_with_cookie(&server, &cookie).await?, StatusCode::UNAUTHORIZED);
        Ok(())
    }

    async fn users_list_and_end_their_own_sessions(backend) {
        let server = TestServer::start(backend).await?;
        let laptop = server.admin().await?;
        let phone = server.admin().await?;
        let (_, sessions) = laptop.get("/api/v1/me/sessions").await?;
        let sessions = sessions.as_array().cloned().unwrap_or_default();
        assert_eq!(sessions.len(), 2);
        assert_eq!(sessions.iter().filter(|s| s["current"] == true).count(), 1);
        let other = sessions.iter().find(|s| s["current"] == false).and_then(|s| s["id"].as_i64()).context("other")?;
        assert_eq!(laptop.delete(&format!("/api/v1/me/sessions/{other}")).await?.0, StatusCode::NO_CONTENT);
        assert_eq!(phone.get("/api/v1/me").await?.0, StatusCode::UNAUTHORIZED);
        assert_eq!(laptop.get("/api/v1/me").await?.0, StatusCode::OK);
        // Another user's session cannot be ended through one's own list.
        server.add_user(&laptop, "bob", None, &[]).await?;
        let bob = server.sign_in("bob", USER_PASSWORD).await?;
        let (_, bob_sessions) = bob.get("/api/v1/me/sessions").await?;
        let bob_session = bob_sessions[0]["id"].as_i64().context("bob session")?;
        assert_eq!(laptop.delete(&format!("/api/v1/me/sessions/{bob_session}")).await?.0, StatusCode::NOT_FOUND);
        assert_eq!(bob.get("/api/v1/me").await?.0, StatusCode::OK);
        Ok(())
    }

    async fn api_tokens_authenticate_expire_and_revoke(backend) {
        let server = TestServer::start(backend).await?;
        let admin = server.admin().await?;
        let (status, made) = admin.post("/api/v1/me/tokens", &json!({ "name": "ERP sync", "expires_in_days": 30 })).await?;
        assert_eq!(status, StatusCode::CREATED);
        let token = made["token"].as_str().context("token")?.to_owned();
        assert!(token.starts_with("tsr_"));
        let api = Client::new(&server.base, Some(token.clone()));
        let (status, me) = api.get("/api/v1/me").await?;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(me["username"], "admin");
        assert!(me.get("csrf_token").is_none(), "token callers get no CSRF token");
        // Bearer writes need no CSRF token: the browser never sends bearer tokens by itself.
        assert_eq!(api.post("/api/v1/departments", &json!({ "name": "Ops" })).await?.0, StatusCode::CREATED);
        // Listed without the secret; stored as a hash.
        let (_, list) = admin.get("/api/v1/me/tokens").await?;
        assert!(!list.to_string().contains(&token));
        let raw: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM api_tokens WHERE token_hash = $1 OR token_prefix = $1")
            .bind(&token).fetch_one(server.store().pool()).await?;
        assert_eq!(raw, 0);
        // Expired.
        sqlx::query("UPDATE api_tokens SET expires_at = 1").execute(server.store().pool()).await?;
        // Written behind the host's back, so tell its memory of tokens, as its own writes do.
        server.store().auth_changed();
        let (status, body) = api.get("/api/v1/me").await?;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(body.to_string().contains("expired"));
        // Revoked by its owner, then by an administrator.
        let second = server.token_client(&admin).await?;
        let (_, list) = admin.get("/api/v1/me/tokens").await?;
        let id = list[0]["id"].as_i64().context("id")?;
        assert_eq!(admin.delete(&format!("/api/v1/me/tokens/{id}")).await?.0, StatusCode::NO_CONTENT);
        let (status, body) = second.get("/api/v1/me").await?;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(body.to_string().contains("revoked"));
        server.add_user(&admin, "carol", None, &[]).await?;
        let carol = server.sign_in("carol", USER_PASSWORD).await?;
        let carol_api = server.token_client(&carol).await?;
        let (_, all) = admin.get("/api/v1/tokens").await?;
        let carol_token = all.as_array().and_then(|a| a.iter().find(|t| t["revoked_at"].is_null() && t["name"] == "test")).and_then(|t| t["id"].as_i64()).context("carol token")?;
        assert_eq!(carol.delete(&format!("/api/v1/tokens/{carol_token}")).await?.0, StatusCode::FORBIDDEN, "only admins revoke others' tokens");
        assert_eq!(admin.delete(&format!("/api/v1/tokens/{carol_token}")).await?.0, StatusCode::NO_CONTENT);
        assert_eq!(carol_api.get("/api/v1/me").await?.0, StatusCode::UNAUTHORIZED);
        // Bad requests for tokens.
        assert_eq!(admin.post("/api/v1/me/tokens", &json!({ "name": "x", "expires_in_days": 0 })).await?.0, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(admin.post("/api/v1/me/tokens", &json!({ "name": "" })).await?.0, StatusCode::UNPROCESSABLE_ENTITY);
        Ok(())
    }

    async fn cookie_writes_need_the_csrf_token(backend) {
        let server = TestServer::start(backend).await?;
        let admin = server.admin().await?;
        let no_csrf = admin.without_csrf();
        assert_eq!(no_csrf.get("/api/v1/me").await?.0, StatusCode::OK, "reads need no token");
        let (status, body) = no_csrf.post("/api/v1/departments", &json!({ "name": "X" })).await?;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(error_code(&body), "csrf");
        let forged = no_csrf.with_csrf("forged-token-value-forged-token-value-abcd".into());
        assert_eq!(forged.post("/api/v1/departments", &json!({ "name": "X" })).await?.0, StatusCode::FORBIDDEN);
        assert_eq!(forged.delete("/api/v1/me/sessions/1").await?.0, StatusCode::FORBIDDEN);
        assert_eq!(admin.post("/api/v1/departments", &json!({ "name": "X" })).await?.0, StatusCode::CREATED);
        let (_, departments) = admin.get("/api/v1/departments").await?;
        assert_eq!(departments.as_array().map(Vec::len), Some(1), "refused writes changed nothing");
        Ok(())
    }

    async fn password_policy_change_and_reset(backend) {
        let server = TestServer::start(backend).await?;
        let admin = server.admin().await?;
        let short = admin.post("/api/v1/users", &json!({ "username": "dan", "display_name": "Dan", "password": "elevenchars" })).await?;
        assert_eq!(short.0, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(short.1["error"]["field"], "password");
        let passphrase = "我的密码是一句很长的话而且没有规则";
        let (status, dan) = admin.post("/api/v1/users", &json!({ "username": "Dan", "display_name": "Dan", "password": passphrase })).await?;
        assert_eq!(status, StatusCode::CREATED, "{dan}");
        assert_eq!(dan["username"], "dan", "user names are kept lower-case");
        let dan_id = dan["id"].as_i64().context("id")?;
        let laptop = server.sign_in("dan", passphrase).await?;
        let phone = server.sign_in("DAN", passphrase).await?;
        let wrong = laptop.post("/api/v1/me/password", &json!({ "current_password": "not my password at all", "new_password": "a brand new passphrase" })).await?;
        assert_eq!(wrong.0, StatusCode::FORBIDDEN);
        let ok = laptop.post("/api/v1/me/password", &json!({ "current_password": passphrase, "new_password": "a brand new passphrase" })).await?;
        assert_eq!(ok.0, StatusCode::NO_CONTENT, "{}", ok.1);
        assert_eq!(laptop.get("/api/v1/me").await?.0, StatusCode::OK, "the session that changed it stays");
        assert_eq!(phone.get("/api/v1/me").await?.0, StatusCode::UNAUTHORIZED, "other sessions end");
        assert!(server.sign_in("dan", passphrase).await.is_err());
        let dan_again = server.sign_in("dan", "a brand new passphrase").await?;
        // An administrator's reset ends every session.
        let reset = admin.post(&format!("/api/v1/users/{dan_id}/password"), &json!({ "new_password": "set by the administrator" })).await?;
        assert_eq!(reset.0, StatusCode::NO_CONTENT);
        assert_eq!(dan_again.get("/api/v1/me").await?.0, StatusCode::UNAUTHORIZED);
        assert_eq!(laptop.get("/api/v1/me").await?.0, StatusCode::UNAUTHORIZED);
        server.sign_in("dan", "set by the administrator").await?;
        let actions: Vec<String> = audit_actions(&admin, &format!("target_type=user&target_id={dan_id}")).await?
            .iter().filter_map(|e| e["action"].as_str().map(str::to_owned)).collect();
        assert!(actions.contains(&"password.changed".to_owned()) && actions.contains(&"password.reset".to_owned()), "{actions:?}");
        Ok(())
    }

    async fn deactivated_users_are_shut_out(backend) {
        let server = TestServer::start(backend).await?;
        let admin = server.admin().await?;
        let id = server.add_user(&admin, "erin", None, &[]).await?;
        let erin = server.sign_in("erin", USER_PASSWORD).await?;
        let erin_api = server.token_client(&erin).await?;
        assert_eq!(admin.patch(&format!("/api/v1/users/{id}"), &json!({ "active": false })).await?.0, StatusCode::OK);
        assert_eq!(erin.get("/api/v1/me").await?.0, StatusCode::UNAUTHORIZED);
        assert_eq!(erin_api.get("/api/v1/me").await?.0, StatusCode::UNAUTHORIZED);
        let (status, body) = server.anonymous().post("/api/v1/auth/sign-in", &json!({ "username": "erin", "password": USER_PASSWORD })).await?;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert!(body.to_string().contains("disabled"));
        let (status, _) = server.anonymous().post("/api/v1/auth/sign-in", &json!({ "username": "erin", "password": "wrong password here" })).await?;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "a wrong password does not reveal that the account is disabled");
        Ok(())
    }

    async fn the_last_administrator_cannot_be_removed(backend) {
        let server = TestServer::start(backend).await?;
        let admin = server.admin().await?;
        let (_, me) = admin.get("/api/v1/me").await?;
        let admin_id = me["id"].as_i64().context("id")?;
        let admin_role = server.role_id(&admin, "Administrator").await?;
        let (status, body) = admin.patch(&format!("/api/v1/users/{admin_id}"), &json!({ "active": false })).await?;
        assert_eq!(status, StatusCode::CONFLICT, "{body}");
        assert_eq!(admin.put(&format!("/api/v1/users/{admin_id}/roles"), &json!({ "role_ids": [] })).await?.0, StatusCode::CONFLICT);
        assert_eq!(admin.delete(&format!("/api/v1/roles/{admin_role}")).await?.0, StatusCode::CONFLICT);
        assert_eq!(admin.patch(&format!("/api/v1/roles/{admin_role}"), &json!({ "grants": [] })).await?.0, StatusCode::CONFLICT);
        // With a second administrator the first may step down.
        let second = server.add_user(&admin, "frank", None, &[admin_role]).await?;
        assert_eq!(admin.put(&format!("/api/v1/users/{admin_id}/roles"), &json!({ "role_ids": [] })).await?.0, StatusCode::OK);
        assert_eq!(admin.get("/api/v1/audit-log").await?.0, StatusCode::FORBIDDEN, "grants take effect at once");
        let frank = server.sign_in("frank", USER_PASSWORD).await?;
        assert_eq!(frank.patch(&format!("/api/v1/users/{second}"), &json!({ "active": false })).await?.0, StatusCode::CONFLICT);
        Ok(())
    }

    async fn brute_force_is_throttled_per_account_across_nodes(backend) {
        let node_a = TestServer::start(backend).await?;
        let node_b = TestServer::start_on(Arc::clone(&node_a.db), WebConfig::default()).await?;
        let admin = node_a.admin().await?;
        node_a.add_user(&admin, "victim", None, &[]).await?;
        node_a.add_user(&admin, "bystander", None, &[]).await?;
        let mut verified = 0;
        let mut throttled = 0;
        for round in 0..20 {
            let mut batch = Vec::new();
            for i in 0..10 {
                let node = if (round + i) % 2 == 0 { &node_a } else { &node_b };
                let client = node.anonymous();
                batch.push(async move {
                    client.send(client.request(Method::POST, "/api/v1/auth/sign-in")
                        .json(&json!({ "username": "victim", "password": format!("guess number {round} {i}") }))).await
                });
            }
            for result in futures::future::join_all(batch).await {
                let (status, body) = result?;
                match status {
                    StatusCode::UNAUTHORIZED => verified += 1,
                    StatusCode::TOO_MANY_REQUESTS => {
                        throttled += 1;
                        assert_eq!(error_code(&body), "too_many_attempts");
                    }
                    other => anyhow::bail!("unexpected {other}: {body}"),
                }
            }
            // Other accounts keep signing in on both nodes throughout.
            if round % 5 == 0 {
                node_a.sign_in("bystander", USER_PASSWORD).await?;
                node_b.sign_in("bystander", USER_PASSWORD).await?;
            }
        }
        assert_eq!(verified + throttled, 200);
        assert!(verified <= 100, "{verified} of 200 guesses were checked");
        assert!(throttled >= 100, "{throttled} guesses were throttled");
        // Locked now even with the right password, with a Retry-After.
        let resp = raw_sign_in(&node_b, "victim", USER_PASSWORD, None).await?;
        assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(resp.headers().get(header::RETRY_AFTER).is_some());
        node_a.sign_in("bystander", USER_PASSWORD).await?;
        let actions = audit_actions(&admin, "action=sign_in.locked").await?;
        assert!(!actions.is_empty(), "the lock is audited");
        // An administrator lifts the lock.
        let (_, users) = admin.get("/api/v1/users?q=victim").await?;
        let victim = users[0]["id"].as_i64().context("victim")?;
        assert_eq!(admin.post(&format!("/api/v1/users/{victim}/unlock"), &json!({})).await?.0, StatusCode::NO_CONTENT);
        node_b.sign_in("victim", USER_PASSWORD).await?;
        println!("brute force: {verified} of 200 guesses checked, {throttled} throttled");
        node_b.stop().await;
        Ok(())
    }

    async fn concurrent_sign_ins_of_one_account(backend) {
        let server = TestServer::start(backend).await?;
        let burst = |n: usize| {
            let attempts: Vec<_> = (0..n)
                .map(|_| {
                    let client = server.anonymous();
                    async move { client.post("/api/v1/auth/sign-in", &json!({ "username": "admin", "password": ADMIN_PASSWORD })).await }
                })
                .collect();
            futures::future::join_all(attempts)
        };
        // A person signing in on a few devices at once gets in everywhere.
        for result in burst(5).await {
            assert_eq!(result?.0, StatusCode::OK);
        }
        // A flood is served or asked to retry, never failed.
        let mut ok = 0;
        for result in burst(40).await {
            let (status, body) = result?;
            match status {
                StatusCode::OK => ok += 1,
                StatusCode::TOO_MANY_REQUESTS => assert_eq!(error_code(&body), "too_many_attempts"),
                other => anyhow::bail!("unexpected {other}: {body}"),
            }
        }
        assert!(ok >= 5, "only {ok} of 40 got in");
        // Nothing is left in flight afterwards.
        server.admin().await?;
        let left: i64 = sqlx::query_scalar("SELECT CAST(COALESCE(SUM(in_flight), 0) AS BIGINT) FROM sign_in_throttle").fetch_one(server.store().pool()).await?;
        assert_eq!(left, 0);
        Ok(())
    }

    async fn sign_in_restrictions_by_address_time_and_role(backend) {
        let server = TestServer::start(backend).await?;
        let admin = server.admin().await?;
        let sales_role = server.role_id(&admin, "Salesperson").await?;
        let carol = server.add_user(&admin, "carol", None, &[sales_role]).await?;
        let attempt = |s: &TestServer| {
            let c = s.anonymous();
            async move { c.post("/api/v1/auth/sign-in", &json!({ "username": "carol", "password": USER_PASSWORD })).await }
        };
        // Office network only: loopback is outside it.
        let (status, rule) = admin.post("/api/v1/sign-in-rules", &json!({ "user_id": carol, "ip_allow": ["10.0.0.0/8"], "note": "office" })).await?;
        assert_eq!(status, StatusCode::CREATED, "{rule}");
        let (status, body) = attempt(&server).await?;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert!(body["error"]["message"].as_str().unwrap_or_default().contains("127.0.0.1"), "{body}");
        // A second rule that matches lets her in (rules allow; any match suffices).
        let (_, loopback) = admin.post("/api/v1/sign-in-rules", &json!({ "user_id": carol, "ip_allow": ["127.0.0.0/8"] })).await?;
        assert_eq!(attempt(&server).await?.0, StatusCode::OK);
        for id in [&rule["id"], &loopback["id"]] {
            assert_eq!(admin.delete(&format!("/api/v1/sign-in-rules/{id}")).await?.0, StatusCode::NO_CONTENT);
        }
        // Time windows in the organisation's time zone (Asia/Shanghai, UTC+8).
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs() as i64;
        let local_minute = ((now / 60) + 8 * 60).rem_euclid(24 * 60);
        let hhmm = |m: i64| { let m = m.rem_euclid(24 * 60); format!("{:02}:{:02}", m / 60, m % 60) };
        let (_, closed) = admin.post("/api/v1/sign-in-rules", &json!({ "user_id": carol, "start": hhmm(local_minute + 120), "end": hhmm(local_minute + 180) })).await?;
        assert_eq!(attempt(&server).await?.0, StatusCode::FORBIDDEN, "outside the window");
        admin.delete(&format!("/api/v1/sign-in-rules/{}", closed["id"])).await?;
        let (_, open) = admin.post("/api/v1/sign-in-rules", &json!({ "user_id": carol, "start": hhmm(local_minute - 60), "end": hhmm(local_minute + 60) })).await?;
        assert_eq!(attempt(&server).await?.0, StatusCode::OK, "inside the window");
        admin.delete(&format!("/api/v1/sign-in-rules/{}", open["id"])).await?;
        // A rule on her role applies to her too.
        let (_, by_role) = admin.post("/api/v1/sign-in-rules", &json!({ "role_id": sales_role, "ip_allow": ["192.168.0.0/16"], "weekdays": [1,2,3,4,5,6,7] })).await?;
        assert_eq!(attempt(&server).await?.0, StatusCode::FORBIDDEN);
        admin.delete(&format!("/api/v1/sign-in-rules/{}", by_role["id"])).await?;
        assert_eq!(attempt(&server).await?.0, StatusCode::OK);
        // Bad rules are refused with the field named.
        for (bad, field) in [
            (json!({ "user_id": carol, "ip_allow": ["10.0.0.0/33"] }), "ip_allow"),
            (json!({ "user_id": carol, "role_id": sales_role }), "user_id"),
            (json!({ "user_id": carol, "start": "09:00" }), "start"),
            (json!({ "user_id": carol, "weekdays": [0] }), "weekdays"),
            (json!({ "user_id": carol, "start": "25:00", "end": "26:00" }), "start"),
        ] {
            let (status, body) = admin.post("/api/v1/sign-in-rules", &bad).await?;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {body}");
            assert_eq!(body["error"]["field"], field, "{bad}");
        }
        let restricted = audit_actions(&admin, "action=sign_in.restricted").await?;
        assert_eq!(restricted.len(), 3);
        Ok(())
    }

    async fn the_audit_log_records_sign_ins_and_permission_changes(backend) {
        let server = TestServer::start(backend).await?;
        let admin = server.admin().await?;
        let _ = server.anonymous().post("/api/v1/auth/sign-in", &json!({ "username": "admin", "password": "not the password!" })).await?;
        let (_, role) = admin.post("/api/v1/roles", &json!({ "name": "Auditor", "grants": [{ "module": "customers", "action": "read", "scope": "all" }] })).await?;
        let role_id = role["id"].as_i64().context("role")?;
        admin.patch(&format!("/api/v1/roles/{role_id}"), &json!({ "grants": [{ "module": "customers", "action": "export", "scope": "all" }] })).await?;
        let user = server.add_user(&admin, "gina", None, &[]).await?;
        admin.put(&format!("/api/v1/users/{user}/roles"), &json!({ "role_ids": [role_id] })).await?;
        let entries = audit_actions(&admin, "limit=50").await?;
        let actions: Vec<&str> = entries.iter().filter_map(|e| e["action"].as_str()).collect();
        for expected in ["sign_in.failed", "sign_in.succeeded", "role.created", "role.updated", "user.created", "user.roles_changed", "org.created"] {
            assert!(actions.contains(&expected), "{expected} missing from {actions:?}");
        }
        let change = entries.iter().find(|e| e["action"] == "user.roles_changed").context("roles change")?;
        assert_eq!(change["detail"]["after"], json!([role_id]));
        assert_eq!(change["ip"], "127.0.0.1");
        assert!(change["actor_user_id"].as_i64().is_some());
        let gina = server.sign_in("gina", USER_PASSWORD).await?;
        assert_eq!(gina.get("/api/v1/audit-log").await?.0, StatusCode::FORBIDDEN);
        // Paging: newest first, before_id continues.
        let page = audit_actions(&admin, "limit=2").await?;
        let last = page[1]["id"].as_i64().context("id")?;
        let next = audit_actions(&admin, &format!("limit=2&before_id={last}")).await?;
        assert!(next.iter().all(|e| e["id"].as_i64().unwrap_or(i64::MAX) < last));
        Ok(())
    }

    async fn organisations_are_chosen_at_sign_in(backend) {
        let server = TestServer::start(backend).await?;
        let other = tessera_host::org::create(server.store(), &server.state.hasher, &tessera_host::org::NewOrg {
            slug: "globex".into(), name: "Globex".into(), time_zone: "Europe/Berlin".into(), admin_password: "globex admin passphrase".into(),
        }).await?;
        let anon = server.anonymous();
        let (status, body) = anon.post("/api/v1/auth/sign-in", &json!({ "username": "admin", "password": ADMIN_PASSWORD })).await?;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(body["error"]["field"], "org");
        let (status, me) = anon.post("/api/v1/auth/sign-in", &json!({ "org": "globex", "username": "admin", "password": "globex admin passphrase" })).await?;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(me["user"]["org"]["id"], other.org.id);
        // Acme's admin password does not open Globex's admin.
        let (status, _) = anon.post("/api/v1/auth/sign-in", &json!({ "org": "globex", "username": "admin", "password": ADMIN_PASSWORD })).await?;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let (status, _) = anon.post("/api/v1/auth/sign-in", &json!({ "org": "nope", "username": "admin", "password": ADMIN_PASSWORD })).await?;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        Ok(())
    }

    async fn administration_of_departments_users_and_roles(backend) {
        let server = TestServer::start(backend).await?;
        let admin = server.admin().await?;
        let (_, sales) = admin.post("/api/v1/departments", &json!({ "name": "销售部" })).await?;
        let sales = sales["id"].as_i64().context("sales")?;
        let (_, east) = admin.post("/api/v1/departments", &json!({ "name": "华东区", "parent_id": sales })).await?;
        let east = east["id"].as_i64().context("east")?;
        // A department cannot move under its own sub-department.
        let (status, body) = admin.patch(&format!("/api/v1/departments/{sales}"), &json!({ "parent_id": east })).await?;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(admin.patch(&format!("/api/v1/departments/{east}"), &json!({ "parent_id": 999_999 })).await?.0, StatusCode::UNPROCESSABLE_ENTITY);
        // Heads and managers.
        let boss = server.add_user(&admin, "boss", Some(sales), &[]).await?;
        let (status, dept) = admin.patch(&format!("/api/v1/departments/{sales}"), &json!({ "head_user_id": boss })).await?;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(dept["head_user_id"], boss);
        let worker = server.add_user(&admin, "worker", Some(east), &[]).await?;
        let (status, w) = admin.patch(&format!("/api/v1/users/{worker}"), &json!({ "manager_id": boss })).await?;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(w["manager_id"], boss);
        let (status, body) = admin.patch(&format!("/api/v1/users/{boss}"), &json!({ "manager_id": worker })).await?;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "reporting cycles are refused: {body}");
        assert_eq!(admin.patch(&format!("/api/v1/users/{worker}"), &json!({ "manager_id": null })).await?.1["manager_id"], Value::Null);
        // A department with members or children stays.
        assert_eq!(admin.delete(&format!("/api/v1/departments/{sales}")).await?.0, StatusCode::CONFLICT);
        assert_eq!(admin.post("/api/v1/users", &json!({ "username": "boss", "display_name": "x", "password": USER_PASSWORD })).await?.0, StatusCode::CONFLICT);
        // Roles: several add up.
        let (status, body) = admin.post("/api/v1/roles", &json!({ "name": "Bad", "grants": [{ "module": "nope", "action": "read", "scope": "all" }] })).await?;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        let (_, reader) = admin.post("/api/v1/roles", &json!({ "name": "Reader", "grants": [{ "module": "customers", "action": "read", "scope": "own" }] })).await?;
        let (_, exporter) = admin.post("/api/v1/roles", &json!({ "name": "Exporter", "grants": [{ "module": "customers", "action": "read", "scope": "department" }, { "module": "customers", "action": "export", "scope": "all" }] })).await?;
        assert_eq!(admin.post("/api/v1/roles", &json!({ "name": "Reader" })).await?.0, StatusCode::CONFLICT);
        admin.put(&format!("/api/v1/users/{worker}/roles"), &json!({ "role_ids": [reader["id"], exporter["id"]] })).await?;
        let w = server.sign_in("worker", USER_PASSWORD).await?;
        let (_, me) = w.get("/api/v1/me").await?;
        let grants = me["grants"].as_array().cloned().unwrap_or_default();
        assert!(grants.contains(&json!({ "module": "customers", "action": "read", "scope": "department" })), "{grants:?}");
        assert!(grants.contains(&json!({ "module": "customers", "action": "export", "scope": "all" })));
        assert_eq!(grants.len(), 2);
        // Non-administrators cannot administer.
        assert_eq!(w.post("/api/v1/departments", &json!({ "name": "Mine" })).await?.0, StatusCode::FORBIDDEN);
        assert_eq!(w.post("/api/v1/roles", &json!({ "name": "Mine" })).await?.0, StatusCode::FORBIDDEN);
        // Self-service profile.
        let (status, me) = w.patch("/api/v1/me", &json!({ "display_name": "王工", "locale": "en", "email": "w@example.com" })).await?;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(me["display_name"], "王工");
        assert_eq!(w.patch("/api/v1/me", &json!({ "locale": "fr" })).await?.0, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(w.patch("/api/v1/me", &json!({ "department_id": sales })).await?.0, StatusCode::UNPROCESSABLE_ENTITY, "users do not move themselves");
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_expire_when_idle_and_after_their_lifetime() -> anyhow::Result<()> {
    let idle = WebConfig { session: SessionPolicy { idle_ms: 1_000, absolute_ms: 60_000 }, ..WebConfig::default() };
    let server = TestServer::start_with(Backend::Sqlite, idle).await?;
    let admin = server.admin().await?;
    assert_eq!(admin.get("/api/v1/me").await?.0, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(1_300)).await;
    assert_eq!(admin.get("/api/v1/me").await?.0, StatusCode::UNAUTHORIZED);

    let absolute = WebConfig { session: SessionPolicy { idle_ms: 60_000, absolute_ms: 1_000 }, ..WebConfig::default() };
    let server = TestServer::start_with(Backend::Sqlite, absolute).await?;
    let admin = server.admin().await?;
    for _ in 0..3 {
        assert_eq!(admin.get("/api/v1/me").await?.0, StatusCode::OK);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    let (status, body) = admin.get("/api/v1/me").await?;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "a busy session still ends: {body}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cookies_are_secure_when_served_over_tls() -> anyhow::Result<()> {
    let server =
        TestServer::start_with(Backend::Sqlite, WebConfig { secure_cookies: true, ..WebConfig::default() }).await?;
    let resp = raw_sign_in(&server, "admin", ADMIN_PASSWORD, None).await?;
    assert!(set_cookie(&resp).contains("; Secure"));
    // Behind a trusted proxy, the proxy says whether the browser used HTTPS.
    let proxied =
        TestServer::start_with(Backend::Sqlite, WebConfig { trust_proxy: true, ..WebConfig::default() }).await?;
    let sign_in = |proto: &'static str| {
        reqwest::Client::new()
            .post(proxied.url("/api/v1/auth/sign-in"))
            .header("x-forwarded-proto", proto)
            .json(&json!({ "username": "admin", "password": ADMIN_PASSWORD }))
            .send()
    };
    assert!(set_cookie(&sign_in("https").await?).contains("; Secure"));
    assert!(!set_cookie(&sign_in("http").await?).contains("Secure"));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_addresses_count_only_behind_a_trusted_proxy() -> anyhow::Result<()> {
    for trust_proxy in [true, false] {
        let server = TestServer::start_with(Backend::Sqlite, WebConfig { trust_proxy, ..WebConfig::default() }).await?;
        let admin = server.admin().await?;
        let user = server.add_user(&admin, "hank", None, &[]).await?;
        admin.post("/api/v1/sign-in-rules", &json!({ "user_id": user, "ip_allow": ["203.0.113.0/24"] })).await?;
        let status = reqwest::Client::new()
            .post(server.url("/api/v1/auth/sign-in"))
            .header("x-forwarded-for", "203.0.113.9, 10.0.0.1")
            .json(&json!({ "username": "hank", "password": USER_PASSWORD }))
            .send()
            .await?
            .status();
        let expected = if trust_proxy { StatusCode::OK } else { StatusCode::FORBIDDEN };
        assert_eq!(status, expected, "trust_proxy = {trust_proxy}");
    }
    Ok(())
}
