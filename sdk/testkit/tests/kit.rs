//! The test kit against a real host, with the probe test guest that `cargo xtask build-plugins`
//! packages (`target/plugins/probe-1.0.0.wasm`, or `$TESSERA_PLUGIN_PACKAGES/probe-1.0.0.wasm`):
//! installing and enabling with grants, calling routes as the admin and as a salesperson,
//! rendering pages and performing actions, running jobs, waiting for events, and the errors a
//! plugin author sees when a build or an install fails.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use tessera_testkit::{Role, StatusCode, TestHost, json};

fn probe_package() -> Result<Vec<u8>> {
    let dir = std::env::var_os("TESSERA_PLUGIN_PACKAGES")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/plugins"));
    let path = dir.join("probe-1.0.0.wasm");
    std::fs::read(&path)
        .with_context(|| format!("no probe package at {}: run `cargo xtask build-plugins`", path.display()))
}

#[tokio::test]
async fn a_package_installs_and_is_enabled_with_the_grants_given() -> Result<()> {
    let host = TestHost::start().await?;
    let plugin = host.install_package(probe_package()?).await?;
    assert_eq!((plugin.id(), plugin.version()), ("probe", "1.0.0"));
    assert!(plugin.requested_capabilities().contains(&"notify".to_owned()), "{:?}", plugin.requested_capabilities());

    // Not enabled yet: its routes are not there.
    let (status, body) = host.admin().get("/api/plugins/probe/whoami").await?;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");

    let info = plugin.enable(&["customers:read"]).await?;
    assert_eq!(info["status"], "enabled", "{info}");
    assert_eq!(info["grants"], json!(["customers:read"]), "{info}");
    let (_, ui) = host.admin().get("/api/v1/ui/plugins").await?;
    assert!(
        ui["menus"].as_array().is_some_and(|m| m.iter().any(|m| m["plugin"] == "probe" && m["page"] == "items")),
        "{ui}"
    );

    // A capability the manifest does not request is refused, with the host's reason.
    let err = plugin.enable(&["customers:delete-everything"]).await.expect_err("not requested").to_string();
    assert!(err.contains("422") && err.contains("does not request customers:delete-everything"), "{err}");

    let info = plugin.enable_all().await?;
    assert_eq!(info["grants"].as_array().map(Vec::len), Some(plugin.requested_capabilities().len()), "{info}");
    let info = plugin.disable().await?;
    assert_eq!(info["status"], "disabled", "{info}");
    host.stop().await;
    Ok(())
}

#[tokio::test]
async fn a_package_the_host_refuses_is_an_error_with_its_reason() -> Result<()> {
    let host = TestHost::start().await?;
    let err = host.install_package(b"\0asm\x01\0\0\0".to_vec()).await.expect_err("a core module").to_string();
    assert!(err.contains("422") && err.contains("core WebAssembly module"), "{err}");
    host.stop().await;
    Ok(())
}

#[tokio::test]
async fn routes_answer_for_the_signed_in_user() -> Result<()> {
    let host = TestHost::start().await?;
    let plugin = host.install_package(probe_package()?).await?;
    plugin.enable_all().await?;

    let (status, me) = host.admin().get(&plugin.api_path("/whoami")).await?;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["user_id"], json!(host.admin().user_id()), "{me}");
    assert_eq!(me["org_id"], host.org_id(), "{me}");

    let mei = host.user("mei", Role::Salesperson).await?;
    assert_ne!(mei.user_id(), host.admin().user_id());
    let (status, me) = mei.get("/api/plugins/probe/whoami").await?;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["user_id"], json!(mei.user_id()), "the plugin acts for mei: {me}");
    // Mei may use the plugin but not administer it.
    let (status, body) = mei.get("/api/v1/plugins").await?;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) = host.anonymous()?.get("/api/plugins/probe/whoami").await?;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    host.stop().await;
    Ok(())
}

#[tokio::test]
async fn pages_render_and_actions_answer() -> Result<()> {
    let host = TestHost::start().await?;
    let plugin = host.install_package(probe_package()?).await?;
    plugin.enable_all().await?;

    // The plugin checks the form itself: an empty title comes back as a field error.
    let outcome = plugin.act("items", "add", None, json!({ "title": " " })).await?;
    assert_eq!(outcome["type"], "invalid", "{outcome}");
    assert!(outcome["errors"]["title"].is_string(), "{outcome}");

    let outcome = plugin.act("items", "add", None, json!({ "title": "续签合同", "amount": "1200" })).await?;
    assert_eq!(outcome["type"], "notice", "{outcome}");
    let page = plugin.render("items", &[]).await?;
    assert_eq!(page["title"], "条目", "the admin reads Chinese: {page}");
    let table = page["blocks"].as_array().and_then(|b| b.iter().find(|b| b["type"] == "table")).context("a table")?;
    assert!(table["rows"].to_string().contains("续签合同"), "{page}");

    // A salesperson sees the page too, rendered for them.
    let mei = host.user("mei", Role::Salesperson).await?;
    let page = plugin.render_as(&mei, "summary", &[]).await?;
    assert_eq!(page["blocks"][0]["type"], "stats", "{page}");

    let err = plugin.render("nowhere", &[]).await.expect_err("no such page").to_string();
    assert!(err.contains("404") && err.contains("nowhere"), "{err}");
    host.stop().await;
    Ok(())
}

#[tokio::test]
async fn jobs_run_through_the_runtime_and_events_are_waited_for() -> Result<()> {
    let host = TestHost::start().await?;
    let plugin = host.install_package(probe_package()?).await?;
    let err = plugin.run_job("tick").await.expect_err("not enabled").to_string();
    assert!(err.contains("not enabled"), "{err}");
    plugin.enable(&["customers:read"]).await?;
    let err = plugin.run_job("tick").await.expect_err("schedule not granted").to_string();
    assert!(err.contains("not granted schedule"), "{err}");
    plugin.enable_all().await?;
    let err = plugin.run_job("tock").await.expect_err("no such job").to_string();
    assert!(err.contains("declares no job \"tock\"") && err.contains("tick"), "{err}");

    plugin.run_job("tick").await?;
    let (_, items) = host.admin().get("/api/plugins/probe/records/item").await?;
    assert!(items.to_string().contains("tick"), "the job wrote its record: {items}");

    // The probe records every event it handles; a new customer's arrives shortly.
    let customer = host.create_customer(json!({ "name": "北京科技" })).await?;
    assert!(customer["code"].is_string(), "{customer}");
    let seen = host
        .wait_for(|| async {
            let (_, seen) = host.admin().get("/api/plugins/probe/records/seen").await?;
            Ok(seen.to_string().contains("customer.created").then_some(seen))
        })
        .await?;
    assert!(seen["items"].as_array().is_some_and(|items| !items.is_empty()), "{seen}");
    host.stop().await;
    Ok(())
}

/// A crate of its own workspace, built for real by `install_crate`.
fn scratch_crate(lib_rs: &str) -> Result<tempfile::TempDir> {
    let dir = tempfile::tempdir()?;
    std::fs::write(
        dir.path().join("Cargo.toml"),
        "[package]\nname = \"scratch-plugin\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n[lib]\ncrate-type = [\"cdylib\"]\n\n[workspace]\n",
    )?;
    std::fs::write(
        dir.path().join("plugin.toml"),
        "[plugin]\nid = \"scratch\"\nname = { zh = \"草稿\", en = \"Scratch\" }\ndescription = { zh = \"草稿\", en = \"Scratch\" }\nversion = \"0.1.0\"\napi = \"^0.1\"\n",
    )?;
    std::fs::create_dir(dir.path().join("src"))?;
    std::fs::write(dir.path().join("src/lib.rs"), lib_rs)?;
    Ok(dir)
}

#[tokio::test]
async fn a_crate_that_does_not_build_or_link_is_an_error_with_cargos_or_the_hosts_message() -> Result<()> {
    let host = TestHost::start().await?;
    let broken = scratch_crate("pub fn answer() -> u32 { \"forty-two\" }\n")?;
    let err = format!("{:#}", host.install_crate(broken.path()).await.expect_err("does not compile"));
    assert!(err.contains("cargo build --release --target wasm32-wasip2") && err.contains("mismatched types"), "{err}");

    // It builds, but exports nothing of the plugin API: the host says so.
    let empty = scratch_crate("pub fn answer() -> u32 { 42 }\n")?;
    let err = format!("{:#}", host.install_crate(empty.path()).await.expect_err("not a plugin"));
    assert!(err.contains("422") && err.contains("scratch 0.1.0"), "{err}");
    host.stop().await;
    Ok(())
}
