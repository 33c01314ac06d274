//! Plugins end to end: built packages (`cargo xtask build-plugins`) installed through the admin
//! API or dropped into the plugin directory, enabled with grants, called over real sockets.
//! The hostile test guests are each stopped or refused with an error naming the plugin and
//! version while the host keeps answering; capabilities are denied by default and narrowed to
//! the user; upgrades under load lose no request.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tessera_host::runtime::invoke::Origin;
use tessera_host::runtime::package;
use tessera_tests::{
    Client, RuntimeConfig, TestDb, TestServer, USER_PASSWORD, both_backends, error_code, manifest_of, plugin_package,
    test_plugins,
};

/// A runtime whose interactive calls stop after 500 ms and whose breaker trips after 3
/// failures in a row.
fn strict() -> RuntimeConfig {
    let mut config = test_plugins();
    config.limits.interactive_deadline = Duration::from_millis(500);
    config.breaker_threshold = 3;
    config
}

async fn start(backend: tessera_host::store::Backend, config: RuntimeConfig) -> anyhow::Result<TestServer> {
    let db = Arc::new(TestDb::new(backend).await?);
    TestServer::start_with_plugins(db, config).await
}

/// Calls `/healthz` while `work` runs and returns how many answers were not 200.
async fn health_during<F: std::future::Future>(server: &TestServer, work: F) -> anyhow::Result<(F::Output, u64)> {
    let done = Arc::new(AtomicBool::new(false));
    let bad = Arc::new(AtomicU64::new(0));
    let probe = {
        let (done, bad, url) = (done.clone(), bad.clone(), server.url("/healthz"));
        tokio::spawn(async move {
            let http = reqwest::Client::new();
            while !done.load(Ordering::Relaxed) {
                match http.get(&url).timeout(Duration::from_secs(2)).send().await {
                    Ok(r) if r.status() == StatusCode::OK => {}
                    _ => {
                        bad.fetch_add(1, Ordering::Relaxed);
                    }
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    let out = work.await;
    done.store(true, Ordering::Relaxed);
    probe.await?;
    Ok((out, bad.load(Ordering::Relaxed)))
}

both_backends! {
    // Each hostile guest, with what the host must do with it.
    async fn hostile_guests_are_stopped_and_the_host_keeps_serving(backend) {
        let server = start(backend, strict()).await?;
        let admin = server.admin().await?;
        // (plugin, status, words the error must contain)
        let cases: &[(&str, StatusCode, &str)] = &[
            // An infinite loop: stopped at the call's deadline.
            ("hostile-loop", StatusCode::GATEWAY_TIMEOUT, "deadline"),
            // A 4 GiB memory grab: growth past the cap is refused and the guest traps.
            ("hostile-memory", StatusCode::BAD_GATEWAY, "cap"),
            // Unbounded recursion: the overflow of the guest's stack traps.
            ("hostile-recursion", StatusCode::BAD_GATEWAY, "stack"),
            // A panic: the trap becomes an error.
            ("hostile-panic", StatusCode::BAD_GATEWAY, "panicked"),
            // A 100 MB answer: it cannot be built under the memory cap, or is refused by size.
            ("hostile-huge-output", StatusCode::BAD_GATEWAY, "hostile-huge-output"),
            // A flood of host calls: cut off by the host-call budget (or the deadline).
            ("hostile-flood", StatusCode::BAD_GATEWAY, "host calls"),
        ];
        let (outcomes, unhealthy) = health_during(&server, async {
            let mut outcomes = Vec::new();
            for (id, _, _) in cases {
                admin.install_and_enable(id, &[]).await?;
                let started = Instant::now();
                let (status, body) = admin.get(&format!("/api/plugins/{id}/go")).await?;
                outcomes.push((status, body, started.elapsed()));
            }
            anyhow::Ok(outcomes)
        })
        .await?;
        let outcomes = outcomes?;
        for ((id, expected, words), (status, body, elapsed)) in cases.iter().zip(outcomes) {
            let message = body["error"]["message"].as_str().unwrap_or_default().to_owned();
            assert_eq!(status, *expected, "{id}: {body}");
            assert!(message.contains(&format!("{id} 1.0.0")), "{id}: the error names plugin and version: {message}");
            if *id == "hostile-flood" {
                assert!(message.contains(words) || message.contains("deadline"), "{id}: {message}");
            } else {
                assert!(message.contains(words), "{id}: {message}");
            }
            println!("{id}: {status} after {} ms: {message}", elapsed.as_millis());
        }
        assert_eq!(unhealthy, 0, "/healthz kept answering 200 throughout");
        server.stop().await;
        Ok(())
    }

    // Memory never goes past the cap: the runtime reports the peak of a memory grab.
    async fn a_memory_grab_never_passes_the_cap(backend) {
        let mut config = strict();
        config.limits.memory_bytes = 32 << 20;
        let server = start(backend, config).await?;
        let admin = server.admin().await?;
        admin.install_and_enable("hostile-memory", &[]).await?;
        let active = server.state.plugins.registry.active(server.org_id, "hostile-memory").context("enabled")?;
        let request = tessera_host::runtime::bindings::HttpRequest {
            method: "GET".into(),
            path: "/".into(),
            query: String::new(),
            headers: vec![],
            body: vec![],
            kind: "api".into(),
        };
        let failure = server.state.plugins.handle_http(&active, None, &Origin::new("en", None), request).await.err().context("must fail")?;
        assert_eq!(failure.kind, tessera_host::runtime::FailureKind::MemoryCap, "{}", failure.message);
        assert!(failure.peak_memory <= 32 << 20, "peak {} bytes is above the 32 MiB cap", failure.peak_memory);
        assert!(failure.peak_memory > 0);
        server.stop().await;
        Ok(())
    }

    // Packages that cannot run here are refused at install, before anything is instantiated.
    async fn packages_that_cannot_run_are_refused_with_a_reason(backend) {
        let server = start(backend, strict()).await?;
        let admin = server.admin().await?;
        // Built against an API the host does not serve.
        let (status, body) = admin.install_plugin(plugin_package("hostile-old-api")?).await?;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains("hostile-old-api 1.0.0") && message.contains("0.9"), "{message}");
        // Importing something the host does not provide.
        let (status, body) = admin.install_plugin(plugin_package("hostile-foreign-import")?).await?;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains("acme:backdoor/shell") && message.contains("does not provide"), "{message}");
        // Not a component at all; a component without a manifest.
        let (status, body) = admin.install_plugin(b"\0asm\x01\0\0\0".to_vec()).await?;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        let bare = b"\0asm\x0d\0\x01\0".to_vec();
        let (status, body) = admin.install_plugin(bare).await?;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert!(body["error"]["message"].as_str().unwrap_or_default().contains("plugin.toml"), "{body}");
        // The same version with other contents.
        admin.install_and_enable("probe", &[]).await?;
        let probe = plugin_package("probe")?;
        let manifest = manifest_of(&probe)?;
        let changed = package::repack(&probe, &format!("{manifest}\n# a change\n"))?;
        let (status, body) = admin.install_plugin(changed).await?;
        assert_eq!(status, StatusCode::CONFLICT, "{body}");
        // Nothing was left behind by the refusals.
        let (_, list) = admin.get("/api/v1/plugins").await?;
        let ids: Vec<&str> = list.as_array().context("list")?.iter().filter_map(|p| p["id"].as_str()).collect();
        assert_eq!(ids, vec!["probe"]);
        server.stop().await;
        Ok(())
    }

    // A plugin built against the first released API, 0.1.0, runs unchanged on a host that
    // serves a later 0.1.x: released versions only ever add.
    async fn a_plugin_built_against_api_0_1_0_still_runs(backend) {
        let server = start(backend, strict()).await?;
        let admin = server.admin().await?;
        admin.post("/api/v1/customers", &json!({ "name": "北京科技有限公司" })).await?;
        admin.install_and_enable("api-0-1-0", &["customers:read"]).await?;
        let (status, body) = admin.get("/api/plugins/api-0-1-0/customers").await?;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["names"], json!(["北京科技有限公司"]), "{body}");
        server.stop().await;
        Ok(())
    }

    // Without a grant nothing is read; a grant the manifest never asked for cannot be given.
    async fn capabilities_are_denied_by_default(backend) {
        let server = start(backend, strict()).await?;
        let admin = server.admin().await?;
        admin.post("/api/v1/customers", &json!({ "name": "北京科技有限公司" })).await?;
        // Requested customers:read but granted nothing; never requested notify.
        admin.install_and_enable("hostile-ungranted", &[]).await?;
        let (status, body) = admin.get("/api/plugins/hostile-ungranted/").await?;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        assert_eq!(body["customers"], "denied", "{body}");
        assert_eq!(body["notify"], "denied", "{body}");
        let (status, body) = admin
            .post("/api/v1/plugins/hostile-ungranted/enable", &json!({ "capabilities": ["customers:read", "notify"] }))
            .await?;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert!(body["error"]["message"].as_str().unwrap_or_default().contains("does not request notify"), "{body}");
        // Granted, it reads.
        let (status, body) = admin
            .post("/api/v1/plugins/hostile-ungranted/enable", &json!({ "capabilities": ["customers:read"] }))
            .await?;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (status, body) = admin.get("/api/plugins/hostile-ungranted/").await?;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["notify"], "denied", "{body}");
        server.stop().await;
        Ok(())
    }

    // On behalf of a salesperson a plugin sees only that person's customers; on its own it
    // sees the organisation's; nothing crosses organisations.
    async fn plugin_calls_are_narrowed_to_the_user_and_the_organisation(backend) {
        let server = start(backend, strict()).await?;
        let admin = server.admin().await?;
        let sales = server.role_id(&admin, "Salesperson").await?;
        let mei = server.add_user(&admin, "mei", None, &[sales]).await?;
        let lei = server.add_user(&admin, "lei", None, &[sales]).await?;
        let mut ids = Vec::new();
        for (name, owner) in [("梅的客户一", mei), ("梅的客户二", mei), ("雷的客户", lei)] {
            let (status, body) = admin.post("/api/v1/customers", &json!({ "name": name, "owner_id": owner })).await?;
            assert_eq!(status, StatusCode::CREATED, "{body}");
            ids.push(body["id"].as_i64().context("id")?);
        }
        admin.install_and_enable("probe", &["customers:read"]).await?;
        let mei_client = server.sign_in("mei", USER_PASSWORD).await?;
        let (status, body) = mei_client.get("/api/plugins/probe/customers").await?;
        assert_eq!(status, StatusCode::OK, "{body}");
        let seen: Vec<i64> = body["items"].as_array().context("items")?.iter().filter_map(|c| c["id"].as_i64()).collect();
        assert_eq!(seen.len(), 2, "mei sees her two customers: {body}");
        assert!(!seen.contains(&ids[2]), "not lei's");
        let (status, _) = mei_client.get(&format!("/api/plugins/probe/customers/{}", ids[2])).await?;
        assert_eq!(status, StatusCode::NOT_FOUND, "lei's customer does not exist for mei");
        let (status, body) = mei_client.get("/api/plugins/probe/whoami").await?;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["user_id"], mei);
        // The admin, through the same plugin, sees all three.
        let (_, body) = admin.get("/api/plugins/probe/customers").await?;
        assert_eq!(body["items"].as_array().map(Vec::len), Some(3), "{body}");
        // Another organisation: its own plugin enablement sees none of these.
        let other = tessera_host::org::create(
            &server.state.store,
            &server.state.hasher,
            &tessera_host::org::NewOrg {
                slug: "other".into(),
                name: "Other".into(),
                time_zone: "Asia/Shanghai".into(),
                admin_password: tessera_tests::ADMIN_PASSWORD.into(),
            },
        )
        .await?;
        // An upload is its organisation's own; the operator installs for every organisation.
        let (status, _) = tessera_tests::Client::new(&server.base, None).get("/api/v1/plugins").await?;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let err = server.state.plugins.registry.enable(other.org.id, "probe", None, &[], None).await.err();
        assert!(err.is_some(), "another organisation cannot enable an upload it cannot see");
        server.state.plugins.registry.install(plugin_package("probe")?, "directory", None, None).await?;
        server.state.plugins.registry.enable(other.org.id, "probe", None, &["customers:read".into()], None).await?;
        let active = server.state.plugins.registry.active(other.org.id, "probe").context("enabled")?;
        let request = tessera_host::runtime::bindings::HttpRequest {
            method: "GET".into(),
            path: format!("/customers/{}", ids[0]),
            query: String::new(),
            headers: vec![],
            body: vec![],
            kind: "api".into(),
        };
        let (response, _) =
            server.state.plugins.handle_http(&active, None, &Origin::new("en", None), request).await.map_err(|f| anyhow::anyhow!("{f}"))?;
        assert_eq!(response.status, 404, "{}", String::from_utf8_lossy(&response.body));
        server.stop().await;
        Ok(())
    }

    // Records of the plugin's own entities: validated, searchable, scoped, on the timeline.
    async fn plugin_records_are_stored_checked_and_shown_on_the_timeline(backend) {
        let server = start(backend, strict()).await?;
        let admin = server.admin().await?;
        let (_, customer) = admin.post("/api/v1/customers", &json!({ "name": "上海贸易" })).await?;
        let customer_id = customer["id"].as_i64().context("id")?;
        admin.install_and_enable("probe", &["customers:read"]).await?;
        let (status, item) = admin
            .post(
                "/api/plugins/probe/records/item",
                &json!({ "fields": { "title": "年度合同续签", "amount": 1200.5, "status": "open" }, "customer_id": customer_id }),
            )
            .await?;
        assert_eq!(status, StatusCode::OK, "{item}");
        let (status, body) =
            admin.post("/api/plugins/probe/records/item", &json!({ "fields": { "title": "x", "status": "maybe" } })).await?;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "an option outside the list: {body}");
        let (status, body) = admin.post("/api/plugins/probe/records/item", &json!({ "fields": { "amount": 3 } })).await?;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "title is required: {body}");
        let (status, body) = admin.get("/api/plugins/probe/records/item?text=合同").await?;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["items"].as_array().map(Vec::len), Some(1), "{body}");
        let (_, timeline) = admin.get(&format!("/api/v1/customers/{customer_id}/plugin-timeline")).await?;
        let text = timeline.to_string();
        assert!(text.contains("年度合同续签"), "the linked record is on the customer's timeline: {timeline}");
        server.stop().await;
        Ok(())
    }

    // Host events reach the plugin; a handler that fails is retried and then set aside.
    async fn events_reach_subscribed_plugins_and_failures_are_retried(backend) {
        let server = start(backend, strict()).await?;
        let admin = server.admin().await?;
        admin.install_and_enable("probe", &["customers:read", "events:subscribe", "events:publish"]).await?;
        let (_, customer) = admin.post("/api/v1/customers", &json!({ "name": "广州电子" })).await?;
        let customer_id = customer["id"].as_i64().context("id")?;
        let seen = wait_for(&admin, "/api/plugins/probe/records/seen?limit=100", |body| {
            body["items"].as_array().is_some_and(|items| items.iter().any(|i| i["fields"]["topic"] == "customer.created"))
        })
        .await?;
        assert!(seen.to_string().contains("customer.created"), "{seen}");
        let _ = customer_id;
        // An event whose handler fails: retried (3 delays), then set aside; later events flow.
        let (status, body) = admin
            .post("/api/plugins/probe/publish", &json!({ "name": "poison", "subject_kind": "item", "subject_id": 1, "payload": { "fail": true } }))
            .await?;
        assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
        admin
            .post("/api/plugins/probe/publish", &json!({ "name": "after", "subject_kind": "item", "subject_id": 2, "payload": {} }))
            .await?;
        wait_for(&admin, "/api/plugins/probe/records/seen?limit=100", |body| {
            body["items"].as_array().is_some_and(|items| items.iter().any(|i| i["fields"]["topic"] == "probe.after"))
        })
        .await?;
        let failures: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM plugin_event_failures WHERE plugin_id = 'probe'")
            .fetch_one(server.store().pool())
            .await?;
        assert_eq!(failures, 1, "the poison event was set aside once");
        server.stop().await;
        Ok(())
    }

    // The plugin's pages, actions, settings and notifications through the host.
    async fn pages_actions_settings_and_notifications(backend) {
        let server = start(backend, strict()).await?;
        let admin = server.admin().await?;
        admin.install_and_enable("probe", &["customers:read", "notify"]).await?;
        let (status, ui) = admin.get("/api/v1/ui/plugins").await?;
        assert_eq!(status, StatusCode::OK, "{ui}");
        assert!(ui["menus"].as_array().is_some_and(|m| m.iter().any(|m| m["plugin"] == "probe" && m["page"] == "items")), "{ui}");
        let (status, body) = admin
            .post("/api/v1/plugins/probe/pages/items/actions/add", &json!({ "input": { "title": "" } }))
            .await?;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["type"], "invalid", "an empty title is refused by the plugin: {body}");
        let (_, body) = admin
            .post("/api/v1/plugins/probe/pages/items/actions/add", &json!({ "input": { "title": "新的事项" } }))
            .await?;
        assert_eq!(body["type"], "notice", "{body}");
        let (status, page) = admin.get("/api/v1/plugins/probe/pages/items").await?;
        assert_eq!(status, StatusCode::OK, "{page}");
        let blocks = page["blocks"].as_array().context("blocks")?;
        assert!(blocks.iter().any(|b| b["type"] == "table" && b.to_string().contains("新的事项")), "{page}");
        let (status, _) = admin.get("/api/v1/plugins/probe/pages/nowhere").await?;
        assert_eq!(status, StatusCode::NOT_FOUND);
        // Settings: defaults, a change by the admin, a refused value, the plugin reads them.
        let (status, body) = admin.put("/api/v1/plugins/probe/settings", &json!({ "threshold": "many" })).await?;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        let (status, body) = admin.put("/api/v1/plugins/probe/settings", &json!({ "threshold": 7 })).await?;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (_, settings) = admin.get("/api/plugins/probe/settings").await?;
        assert_eq!(settings["threshold"], 7, "{settings}");
        assert_eq!(settings["greeting"], "hi", "{settings}");
        // Notifications reach the user's inbox.
        let (_, me) = admin.get("/api/v1/me").await?;
        let me = me["id"].as_i64().or_else(|| me["user"]["id"].as_i64()).context("my id")?;
        let (status, body) = admin
            .post("/api/plugins/probe/notify", &json!({ "user_ids": [me], "title": "事项到期", "body": "请跟进", "link": "/customers" }))
            .await?;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["delivered"], 1, "{body}");
        let (_, inbox) = admin.get("/api/v1/notifications").await?;
        assert!(inbox.to_string().contains("事项到期"), "{inbox}");
        // A job run by hand needs `schedule`, and runs as the scheduler would.
        let (status, body) = admin.post("/api/v1/plugins/probe/jobs/tick/run", &json!({})).await?;
        assert_eq!(status, StatusCode::CONFLICT, "{body}");
        assert!(body["error"]["message"].as_str().is_some_and(|m| m.contains("schedule")), "{body}");
        let (status, body) =
            admin.post("/api/v1/plugins/probe/upgrade", &json!({ "capabilities": ["customers:read", "notify", "schedule"] })).await?;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (status, body) = admin.post("/api/v1/plugins/probe/jobs/tick/run", &json!({})).await?;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["job"], "tick", "{body}");
        assert!(body["host_calls"].as_u64().is_some_and(|n| n >= 1), "{body}");
        let (_, page) = admin.get("/api/v1/plugins/probe/pages/items").await?;
        assert!(page.to_string().contains("tick"), "the job added its item: {page}");
        let (status, _) = admin.post("/api/v1/plugins/probe/jobs/nowhere/run", &json!({})).await?;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let sales = server.role_id(&admin, "Salesperson").await?;
        server.add_user(&admin, "clerk", None, &[sales]).await?;
        let clerk = server.sign_in("clerk", USER_PASSWORD).await?;
        let (status, _) = clerk.post("/api/v1/plugins/probe/jobs/tick/run", &json!({})).await?;
        assert_eq!(status, StatusCode::FORBIDDEN, "administrators only");
        server.stop().await;
        Ok(())
    }

    // Repeated failures stop the plugin for the organisation and tell its admins.
    async fn the_circuit_breaker_disables_a_failing_plugin(backend) {
        let server = start(backend, strict()).await?;
        let admin = server.admin().await?;
        admin.install_and_enable("hostile-panic", &[]).await?;
        for _ in 0..3 {
            let (status, _) = admin.get("/api/plugins/hostile-panic/go").await?;
            assert_eq!(status, StatusCode::BAD_GATEWAY);
        }
        let (status, body) = admin.get("/api/plugins/hostile-panic/go").await?;
        assert_eq!(status, StatusCode::NOT_FOUND, "stopped: {body}");
        assert_eq!(error_code(&body), "plugin_not_enabled");
        let (_, info) = admin.get("/api/v1/plugins/hostile-panic").await?;
        assert_eq!(info["status"], "tripped", "{info}");
        assert!(info["status_reason"].as_str().unwrap_or_default().contains("panicked"), "{info}");
        let (_, inbox) = admin.get("/api/v1/notifications").await?;
        assert!(inbox.to_string().contains("hostile-panic 1.0.0"), "the admin is told: {inbox}");
        // Enabling again brings it back.
        let (status, _) = admin.post("/api/v1/plugins/hostile-panic/enable", &json!({ "capabilities": [] })).await?;
        assert_eq!(status, StatusCode::OK);
        let (status, _) = admin.get("/api/plugins/hostile-panic/go").await?;
        assert_eq!(status, StatusCode::BAD_GATEWAY);
        server.stop().await;
        Ok(())
    }

    // Hot swap through the plugin directory under load: 20 upgrades then a roll back, no
    // failed request, each new version serving soon after its file appears.
    async fn upgrades_under_load_lose_no_request(backend) {
        let dir = std::env::temp_dir().join(format!("tessera-plugins-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir)?;
        let mut config = test_plugins();
        config.plugin_dir = Some(dir.clone());
        let server = start(backend, config).await?;
        let admin = server.admin().await?;
        let probe = plugin_package("probe")?;
        let manifest = manifest_of(&probe)?;
        let base = version_of(&manifest)?;
        std::fs::write(dir.join(format!("probe-{base}.wasm")), &probe)?;
        wait_until(|| async { Ok(admin.get("/api/v1/plugins/probe").await?.0 == StatusCode::OK) }).await?;
        let (status, body) = admin.post("/api/v1/plugins/probe/enable", &json!({ "capabilities": [] })).await?;
        assert_eq!(status, StatusCode::OK, "{body}");
        let token = server.token_client(&admin).await?;
        let stop = Arc::new(AtomicBool::new(false));
        let failed = Arc::new(AtomicU64::new(0));
        let served = Arc::new(AtomicU64::new(0));
        let mut load = Vec::new();
        for _ in 0..4 {
            let (token, stop, failed, served) = (token.clone(), stop.clone(), failed.clone(), served.clone());
            load.push(tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    match token.get("/api/plugins/probe/whoami").await {
                        Ok((StatusCode::OK, _)) => served.fetch_add(1, Ordering::Relaxed),
                        _ => failed.fetch_add(1, Ordering::Relaxed),
                    };
                }
            }));
        }
        let mut waits = Vec::new();
        for n in 1..=20u64 {
            let version = bump_patch(&base, n)?;
            let next = package::repack(&probe, &manifest.replacen(&format!("version = \"{base}\""), &format!("version = \"{version}\""), 1))?;
            let written = Instant::now();
            std::fs::write(dir.join(format!("probe-{version}.wasm")), next)?;
            loop {
                let response = token.request(reqwest::Method::GET, "/api/plugins/probe/whoami").send().await?;
                let serving = response.headers().get("x-plugin").and_then(|v| v.to_str().ok()).map(str::to_owned);
                if serving.as_deref() == Some(format!("probe {version}").as_str()) {
                    break;
                }
                anyhow::ensure!(written.elapsed() < Duration::from_secs(120), "{version} never took over (serving {serving:?})");
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            waits.push(written.elapsed());
        }
        let (status, body) = admin.post("/api/v1/plugins/probe/rollback", &json!({})).await?;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["version"], bump_patch(&base, 19)?, "{body}");
        tokio::time::sleep(Duration::from_millis(200)).await;
        stop.store(true, Ordering::Relaxed);
        for task in load {
            task.await?;
        }
        assert_eq!(failed.load(Ordering::Relaxed), 0, "no request failed during 20 upgrades and a roll back");
        assert!(served.load(Ordering::Relaxed) > 0);
        waits.sort();
        println!("new version serving after its file appeared: median {} ms, max {} ms", waits[waits.len() / 2].as_millis(), waits[waits.len() - 1].as_millis());
        // A roll back pins the version: a newer file does not undo it.
        let newer = bump_patch(&base, 99)?;
        std::fs::write(
            dir.join(format!("probe-{newer}.wasm")),
            package::repack(&probe, &manifest.replacen(&format!("version = \"{base}\""), &format!("version = \"{newer}\""), 1))?,
        )?;
        wait_until(|| async { Ok(admin.get("/api/v1/plugins/probe").await?.1["latest"] == newer) }).await?;
        let (_, info) = admin.get("/api/v1/plugins/probe").await?;
        assert_eq!(info["version"], bump_patch(&base, 19)?, "{info}");
        assert_eq!(info["latest"], newer, "{info}");
        server.stop().await;
        let _ = std::fs::remove_dir_all(dir);
        Ok(())
    }

    // Uninstall keeps or drops the plugin's records; enabling again finds kept ones.
    async fn uninstall_keeps_or_drops_data(backend) {
        let server = start(backend, strict()).await?;
        let admin = server.admin().await?;
        admin.install_and_enable("probe", &[]).await?;
        admin.post("/api/plugins/probe/records/item", &json!({ "fields": { "title": "保留" } })).await?;
        let (status, _) = admin.delete("/api/v1/plugins/probe?data=keep").await?;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, _) = admin.get("/api/plugins/probe/records/item").await?;
        assert_eq!(status, StatusCode::NOT_FOUND, "not enabled any more");
        admin.post("/api/v1/plugins/probe/enable", &json!({ "capabilities": [] })).await?;
        let (_, body) = admin.get("/api/plugins/probe/records/item").await?;
        assert_eq!(body["items"].as_array().map(Vec::len), Some(1), "kept: {body}");
        let (status, _) = admin.delete("/api/v1/plugins/probe?data=drop").await?;
        assert_eq!(status, StatusCode::NO_CONTENT);
        admin.post("/api/v1/plugins/probe/enable", &json!({ "capabilities": [] })).await?;
        let (_, body) = admin.get("/api/plugins/probe/records/item").await?;
        assert_eq!(body["items"].as_array().map(Vec::len), Some(0), "dropped: {body}");
        let (status, body) = admin.delete("/api/v1/plugins/probe?data=burn").await?;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        // Only admins administer plugins.
        let sales = server.role_id(&admin, "Salesperson").await?;
        server.add_user(&admin, "mei", None, &[sales]).await?;
        let mei = server.sign_in("mei", USER_PASSWORD).await?;
        let (status, _) = mei.get("/api/v1/plugins").await?;
        assert_eq!(status, StatusCode::FORBIDDEN);
        server.stop().await;
        Ok(())
    }
}

/// `base` with its patch number raised by `n`.
fn bump_patch(base: &str, n: u64) -> anyhow::Result<String> {
    let mut parts: Vec<u64> = base.split('.').map(str::parse).collect::<Result<_, _>>()?;
    anyhow::ensure!(parts.len() == 3, "{base} is not major.minor.patch");
    parts[2] += n;
    Ok(format!("{}.{}.{}", parts[0], parts[1], parts[2]))
}

fn version_of(manifest: &str) -> anyhow::Result<String> {
    let value: toml::Value = toml::from_str(manifest)?;
    value["plugin"]["version"].as_str().map(str::to_owned).context("version")
}

async fn wait_until<F, Fut>(mut check: F) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<bool>>,
{
    let started = Instant::now();
    while !check().await? {
        anyhow::ensure!(started.elapsed() < Duration::from_secs(120), "gave up waiting");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

async fn wait_for(client: &Client, path: &str, done: impl Fn(&Value) -> bool) -> anyhow::Result<Value> {
    let started = Instant::now();
    loop {
        let (_, body) = client.get(path).await?;
        if done(&body) {
            return Ok(body);
        }
        anyhow::ensure!(started.elapsed() < Duration::from_secs(30), "gave up waiting on {path}: {body}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
