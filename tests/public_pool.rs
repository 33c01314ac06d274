//! The public pool (客户公海) end to end, on both backends: the bundled `public-pool` plugin
//! installed and enabled through the admin API at run time, used by salespeople over real
//! sockets. A released customer leaves its owner's view; of two people claiming it at once
//! exactly one wins; the nightly recycle returns customers nobody follows up; the plugin
//! upgrades and disables without a restart, and its customers and history stay.

use std::sync::Arc;

use anyhow::Context;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tessera_host::runtime::package;
use tessera_tests::{
    Client, TestDb, TestServer, USER_PASSWORD, both_backends, manifest_of, plugin_package, test_plugins,
};

const CAPABILITIES: &[&str] = &["customers:read", "customers:assign", "directory:read", "notify", "schedule"];
const DAY_MS: i64 = 86_400_000;

async fn start(backend: tessera_host::store::Backend) -> anyhow::Result<(TestServer, Client)> {
    let db = Arc::new(TestDb::new(backend).await?);
    let server = TestServer::start_with_plugins(db, test_plugins()).await?;
    let admin = server.admin().await?;
    admin.install_and_enable("public-pool", CAPABILITIES).await?;
    Ok((server, admin))
}

/// A salesperson, signed in.
async fn salesperson(server: &TestServer, admin: &Client, username: &str) -> anyhow::Result<(i64, Client)> {
    let role = server.role_id(admin, "Salesperson").await?;
    let id = server.add_user(admin, username, None, &[role]).await?;
    Ok((id, server.sign_in(username, USER_PASSWORD).await?))
}

async fn act(who: &Client, target: &str, action: &str, argument: i64, input: Value) -> anyhow::Result<Value> {
    let path = format!("/api/v1/plugins/public-pool/pages/{target}/actions/{action}");
    let (status, body) = who.post(&path, &json!({ "argument": argument.to_string(), "input": input })).await?;
    anyhow::ensure!(status == StatusCode::OK, "{action} on {target}: {status} {body}");
    Ok(body)
}

/// The ids of the customers a user's own list shows.
async fn listed(who: &Client) -> anyhow::Result<Vec<i64>> {
    let (status, page) = who.get("/api/v1/customers?limit=200").await?;
    anyhow::ensure!(status == StatusCode::OK, "{page}");
    Ok(page["items"].as_array().context("items")?.iter().filter_map(|c| c["id"].as_i64()).collect())
}

async fn owner_of(server: &TestServer, id: i64) -> anyhow::Result<Option<i64>> {
    Ok(sqlx::query_scalar("SELECT owner_id FROM customers WHERE id = $1")
        .bind(id)
        .fetch_one(server.store().pool())
        .await?)
}

async fn customer(admin: &Client, name: &str, owner: i64) -> anyhow::Result<i64> {
    let (status, body) =
        admin.post("/api/v1/customers", &json!({ "name": name, "owner_id": owner, "level": "a" })).await?;
    anyhow::ensure!(status == StatusCode::CREATED, "{body}");
    body["id"].as_i64().context("customer id")
}

both_backends! {
    // Release by hand, the scope that follows, a race of two claims, and the cooldown.
    async fn a_released_customer_leaves_its_owner_and_exactly_one_racing_claim_wins(backend) {
        let (server, admin) = start(backend).await?;
        let (mei_id, mei) = salesperson(&server, &admin, "mei").await?;
        let (lei_id, lei) = salesperson(&server, &admin, "lei").await?;
        let (fang_id, fang) = salesperson(&server, &admin, "fang").await?;
        let id = customer(&admin, "北京星河科技有限公司", mei_id).await?;
        assert!(listed(&mei).await?.contains(&id));

        let refused = act(&mei, "customer-pool", "release", id, json!({ "reason": " " })).await?;
        assert_eq!(refused["type"], "invalid", "a release needs a reason: {refused}");
        let released = act(&mei, "customer-pool", "release", id, json!({ "reason": "客户暂无采购计划" })).await?;
        assert_eq!(released["level"], "success", "{released}");
        assert_eq!(owner_of(&server, id).await?, None);
        assert!(!listed(&mei).await?.contains(&id), "a released customer leaves its former owner's view");

        // The cooldown keeps Mei from taking it straight back.
        let back = act(&mei, "pool", "claim", id, json!({})).await?;
        assert_eq!(back["level"], "warning", "{back}");
        assert!(back["text"].as_str().is_some_and(|t| t.contains("7 天")), "the notice says how long: {back}");
        assert_eq!(owner_of(&server, id).await?, None);

        let (a, b) = tokio::join!(act(&lei, "pool", "claim", id, json!({})), act(&fang, "pool", "claim", id, json!({})));
        let (a, b) = (a?, b?);
        let won: Vec<bool> = [&a, &b].iter().map(|o| o["level"] == "success").collect();
        assert_eq!(won.iter().filter(|w| **w).count(), 1, "exactly one claim wins: {a} {b}");
        let (winner, winner_id, loser) = if won[0] { (&lei, lei_id, &b) } else { (&fang, fang_id, &a) };
        assert_eq!(loser["level"], "warning", "the other is told someone was first: {loser}");
        assert_eq!(owner_of(&server, id).await?, Some(winner_id));
        assert!(listed(winner).await?.contains(&id));

        let (status, history) = admin.get(&format!("/api/v1/customers/{id}/transfers")).await?;
        assert_eq!(status, StatusCode::OK, "{history}");
        let history = history.as_array().context("history")?;
        assert_eq!(history.len(), 2, "{history:?}");
        assert_eq!((history[0]["from_user_id"].as_i64(), history[0]["to_user_id"].as_i64()), (None, Some(winner_id)));
        assert_eq!((history[1]["from_user_id"].as_i64(), history[1]["to_user_id"].as_i64()), (Some(mei_id), None));
        server.stop().await;
        Ok(())
    }

    // The nightly recycle by the admin's rule, run as the scheduler runs it.
    async fn the_recycle_returns_customers_nobody_follows_up(backend) {
        let (server, admin) = start(backend).await?;
        let (lei_id, lei) = salesperson(&server, &admin, "lei").await?;
        let idle = customer(&admin, "久未跟进的客户", lei_id).await?;
        let fresh = customer(&admin, "刚跟进的客户", lei_id).await?;
        let rule = json!({ "level": "a", "idle_days": 30, "remind_days": 5 });
        let (status, outcome) =
            admin.post("/api/v1/plugins/public-pool/pages/rules/actions/add-rule", &json!({ "input": rule })).await?;
        assert_eq!((status, outcome["level"].as_str()), (StatusCode::OK, Some("success")), "{outcome}");
        let long_ago = tessera_host::store::now_ms() - 45 * DAY_MS;
        sqlx::query("UPDATE customers SET created_at = $2, last_followed_up_at = $2 WHERE id = $1")
            .bind(idle)
            .bind(long_ago)
            .execute(server.store().pool())
            .await?;

        let (status, run) = admin.post("/api/v1/plugins/public-pool/jobs/recycle/run", &json!({})).await?;
        assert_eq!(status, StatusCode::OK, "{run}");
        assert_eq!(owner_of(&server, idle).await?, None);
        assert_eq!(owner_of(&server, fresh).await?, Some(lei_id));
        let mine = listed(&lei).await?;
        assert!(!mine.contains(&idle) && mine.contains(&fresh), "{mine:?}");
        let (_, inbox) = lei.get("/api/v1/notifications").await?;
        assert!(inbox.to_string().contains("公海"), "the owner is told what returned to the pool: {inbox}");

        // The pool page offers it to claim again.
        let (status, page) = lei.get("/api/v1/plugins/public-pool/pages/pool").await?;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert!(page.to_string().contains("久未跟进的客户"), "{page}");
        server.stop().await;
        Ok(())
    }

    // Installed, upgraded and disabled while the CRM runs; nothing it did is lost.
    async fn the_pool_upgrades_and_disables_at_run_time(backend) {
        let (server, admin) = start(backend).await?;
        let (mei_id, mei) = salesperson(&server, &admin, "mei").await?;
        let id = customer(&admin, "上海明月贸易有限公司", mei_id).await?;
        act(&mei, "customer-pool", "release", id, json!({ "reason": "转给公海" })).await?;

        let package = plugin_package("public-pool")?;
        let manifest = manifest_of(&package)?;
        let newer = package::repack(&package, &manifest.replacen("version = \"1.0.0\"", "version = \"1.0.1\"", 1))?;
        let (status, body) = admin.install_plugin(newer).await?;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let (status, body) = admin.post("/api/v1/plugins/public-pool/upgrade", &json!({ "version": "1.0.1" })).await?;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (_, info) = admin.get("/api/v1/plugins/public-pool").await?;
        assert!(info.to_string().contains("1.0.1"), "{info}");
        let (status, page) = mei.get("/api/v1/plugins/public-pool/pages/pool").await?;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert!(page.to_string().contains("上海明月贸易有限公司"), "{page}");

        let (status, body) = admin.post("/api/v1/plugins/public-pool/disable", &json!({})).await?;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (status, _) = mei.get("/api/v1/plugins/public-pool/pages/pool").await?;
        assert_eq!(status, StatusCode::NOT_FOUND, "a disabled plugin serves no page");
        let (status, history) = admin.get(&format!("/api/v1/customers/{id}/transfers")).await?;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(history.as_array().map(Vec::len), Some(1), "the history stays: {history}");

        let (status, body) =
            admin.post("/api/v1/plugins/public-pool/enable", &json!({ "capabilities": CAPABILITIES })).await?;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (status, page) = mei.get("/api/v1/plugins/public-pool/pages/pool").await?;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert!(page.to_string().contains("上海明月贸易有限公司"), "back, with its pool: {page}");
        server.stop().await;
        Ok(())
    }
}
