//! Hello CRM end to end, with the test kit: each test starts a real Tessera host (a fresh
//! database, the real plugin runtime, HTTP over a loopback socket), builds this crate for
//! wasm32-wasip2, installs it and uses it as the CRM's users would.
//!
//! Run with `cargo test -p hello-crm` in `plugins/`. The first run builds the plugin and the
//! host, which takes a few minutes; later runs reuse both.
#![cfg(not(target_family = "wasm"))]

use anyhow::{Context, Result};
use tessera_testkit::{Role, StatusCode, TestHost, TestPlugin, Value, json};

/// This crate, built, packaged and installed on `host`.
async fn install(host: &TestHost) -> Result<TestPlugin> {
    host.install_crate(env!("CARGO_MANIFEST_DIR")).await
}

/// The first block of a kind on a rendered page.
fn block<'p>(page: &'p Value, kind: &str) -> Option<&'p Value> {
    page["blocks"].as_array()?.iter().find(|b| b["type"] == kind)
}

/// The titles in the notes table of a page.
fn titles(page: &Value) -> Vec<String> {
    let rows = block(page, "table").and_then(|t| t["rows"].as_array()).cloned().unwrap_or_default();
    rows.iter().filter_map(|row| row[0].as_str().map(str::to_owned)).collect()
}

#[tokio::test]
async fn is_enabled_with_the_capabilities_it_requests_and_joins_the_menu() -> Result<()> {
    let host = TestHost::start().await?;
    let plugin = install(&host).await?;
    assert_eq!((plugin.id(), plugin.version()), ("hello-crm", "0.1.0"));
    assert_eq!(plugin.requested_capabilities(), ["customers:read", "events:subscribe", "schedule"]);
    let info = plugin.enable(&["customers:read", "events:subscribe", "schedule"]).await?;
    assert_eq!(info["status"], "enabled", "{info}");
    assert_eq!(info["grants"], json!(["customers:read", "events:subscribe", "schedule"]), "{info}");

    // A salesperson sees its menu item and its customer panel, in Chinese.
    let mei = host.user("mei", Role::Salesperson).await?;
    let (status, ui) = mei.get("/api/v1/ui/plugins").await?;
    assert_eq!(status, StatusCode::OK, "{ui}");
    let menu =
        ui["menus"].as_array().and_then(|m| m.iter().find(|m| m["plugin"] == "hello-crm")).context("a menu item")?;
    assert_eq!((&menu["title"], &menu["page"]), (&json!("笔记"), &json!("notes")), "{ui}");
    assert!(ui["panels"].as_array().is_some_and(|p| p.iter().any(|p| p["id"] == "customer-notes")), "{ui}");
    host.stop().await;
    Ok(())
}

#[tokio::test]
async fn notes_are_added_from_the_page_and_listed_by_the_api() -> Result<()> {
    let host = TestHost::start().await?;
    let plugin = install(&host).await?;
    plugin.enable_all().await?;

    // The page greets with the setting's default and offers the form.
    let page = plugin.render("notes", &[]).await?;
    assert_eq!(page["title"], "笔记", "{page}");
    assert_eq!(block(&page, "text").map(|t| &t["markdown"]), Some(&json!("你好")), "{page}");
    let form = block(&page, "form").context("a form")?;
    assert_eq!(form["submit"]["name"], "add", "{page}");
    assert!(titles(&page).is_empty(), "no notes yet: {page}");

    // A title is required: the form comes back with the field's error, and nothing is stored.
    let outcome = plugin.act("notes", "add", None, json!({ "title": "  ", "body": "x" })).await?;
    assert_eq!(outcome["type"], "invalid", "{outcome}");
    assert_eq!(outcome["errors"]["title"], "请填写标题", "{outcome}");

    let outcome = plugin.act("notes", "add", None, json!({ "title": "回访王经理", "body": "周一上午" })).await?;
    assert_eq!((&outcome["type"], &outcome["level"]), (&json!("notice"), &json!("success")), "{outcome}");
    let page = plugin.render("notes", &[]).await?;
    assert_eq!(titles(&page), ["回访王经理"], "{page}");

    // The JSON route lists it, and finds it by quick search.
    let (status, notes) = host.admin().get("/api/plugins/hello-crm/notes").await?;
    assert_eq!(status, StatusCode::OK, "{notes}");
    let items = notes["items"].as_array().context("items")?;
    assert_eq!(items.len(), 1, "{notes}");
    assert_eq!((&items[0]["title"], &items[0]["body"]), (&json!("回访王经理"), &json!("周一上午")), "{notes}");
    let (_, found) = host.admin().get("/api/plugins/hello-crm/notes?text=王经理").await?;
    assert_eq!(found["items"].as_array().map(Vec::len), Some(1), "{found}");
    let (_, found) = host.admin().get("/api/plugins/hello-crm/notes?text=报价").await?;
    assert_eq!(found["items"].as_array().map(Vec::len), Some(0), "{found}");

    // The greeting follows the admin's setting.
    plugin.set_settings(json!({ "greeting": "早上好" })).await?;
    let page = plugin.render("notes", &[]).await?;
    assert_eq!(block(&page, "text").map(|t| &t["markdown"]), Some(&json!("早上好")), "{page}");
    host.stop().await;
    Ok(())
}

#[tokio::test]
async fn each_salesperson_works_their_own_notes() -> Result<()> {
    let host = TestHost::start().await?;
    let plugin = install(&host).await?;
    plugin.enable_all().await?;
    let mei = host.user("mei", Role::Salesperson).await?;
    let lei = host.user("lei", Role::Salesperson).await?;
    plugin.act_as(&mei, "notes", "add", None, json!({ "title": "梅的笔记" })).await?;
    plugin.act_as(&lei, "notes", "add", None, json!({ "title": "雷的笔记" })).await?;

    // A salesperson reaches the notes they own, as with customers; the admin reaches all.
    let page = plugin.render_as(&mei, "notes", &[]).await?;
    assert_eq!(titles(&page), ["梅的笔记"], "{page}");
    let (_, notes) = lei.get("/api/plugins/hello-crm/notes").await?;
    let listed: Vec<&Value> = notes["items"].as_array().context("items")?.iter().map(|n| &n["title"]).collect();
    assert_eq!(listed, [&json!("雷的笔记")], "{notes}");
    let mut all = titles(&plugin.render("notes", &[]).await?);
    all.sort();
    assert_eq!(all, ["梅的笔记", "雷的笔记"]);
    host.stop().await;
    Ok(())
}

#[tokio::test]
async fn a_note_on_a_customer_shows_on_its_timeline_and_in_its_panel() -> Result<()> {
    let host = TestHost::start().await?;
    let plugin = install(&host).await?;
    // Without events:subscribe the plugin adds no note of its own to new customers, so the
    // customer's notes are only those added here.
    plugin.enable(&["customers:read"]).await?;
    let customer = host.create_customer(json!({ "name": "北京科技" })).await?;
    let id = customer["id"].as_i64().context("customer id")?;
    let id_text = id.to_string();

    // The panel's form carries the customer, so the note is linked to it.
    let panel = plugin.render("customer-notes", &[("customer_id", &id_text)]).await?;
    let fields = block(&panel, "form").and_then(|f| f["fields"].as_array()).context("a form")?;
    let customer_field = fields.iter().find(|f| f["name"] == "customer_id").context("a customer_id field")?;
    assert_eq!(customer_field["value"], id, "{panel}");

    let input = json!({ "title": "报价已发送", "body": "等待回复", "customer_id": id });
    let outcome = plugin.act("customer-notes", "add", None, input).await?;
    assert_eq!(outcome["type"], "notice", "{outcome}");
    plugin.act("notes", "add", None, json!({ "title": "不属于客户的笔记" })).await?;

    let panel = plugin.render("customer-notes", &[("customer_id", &id_text)]).await?;
    assert_eq!(titles(&panel), ["报价已发送"], "only this customer's notes: {panel}");
    let (status, timeline) = host.admin().get(&format!("/api/v1/customers/{id}/plugin-timeline")).await?;
    assert_eq!(status, StatusCode::OK, "{timeline}");
    let items = timeline.as_array().context("timeline items")?;
    assert_eq!(items.len(), 1, "{timeline}");
    assert_eq!((&items[0]["plugin_id"], &items[0]["entity"]), (&json!("hello-crm"), &json!("note")), "{timeline}");
    assert_eq!(items[0]["title"], "报价已发送", "titled by the `timeline` field: {timeline}");

    // A panel needs its customer.
    let err = plugin.render("customer-notes", &[]).await.expect_err("no customer").to_string();
    assert!(err.contains("404") && err.contains("shown on a customer"), "{err}");
    host.stop().await;
    Ok(())
}

#[tokio::test]
async fn a_new_customer_gets_a_first_note_from_the_event_handler() -> Result<()> {
    let host = TestHost::start().await?;
    let plugin = install(&host).await?;
    plugin.enable_all().await?;
    let customer = host.create_customer(json!({ "name": "上海贸易" })).await?;
    let (id, code) = (customer["id"].as_i64().context("id")?, customer["code"].as_str().context("code")?);

    // `customer.created` reaches the plugin through the outbox, shortly after the answer.
    let timeline = host
        .wait_for(|| async {
            let (_, timeline) = host.admin().get(&format!("/api/v1/customers/{id}/plugin-timeline")).await?;
            Ok(timeline.as_array().is_some_and(|items| !items.is_empty()).then_some(timeline))
        })
        .await?;
    assert_eq!(timeline[0]["title"], "新客户", "{timeline}");
    let panel = plugin.render("customer-notes", &[("customer_id", &id.to_string())]).await?;
    let table = block(&panel, "table").context("a table")?;
    assert_eq!(table["rows"], json!([["新客户", format!("上海贸易 ({code})")]]), "{panel}");
    host.stop().await;
    Ok(())
}

#[tokio::test]
async fn without_customers_read_the_first_note_has_no_name() -> Result<()> {
    let host = TestHost::start().await?;
    let plugin = install(&host).await?;
    plugin.enable(&["events:subscribe"]).await?;
    let customer = host.create_customer(json!({ "name": "广州电子" })).await?;
    let id = customer["id"].as_i64().context("id")?;
    let note = host
        .wait_for(|| async {
            let (_, notes) = host.admin().get("/api/plugins/hello-crm/notes").await?;
            Ok(notes["items"].as_array().and_then(|items| items.iter().find(|n| n["customer_id"] == id).cloned()))
        })
        .await?;
    assert_eq!((&note["title"], &note["body"]), (&json!("新客户"), &json!("")), "the name was denied: {note}");
    host.stop().await;
    Ok(())
}

#[tokio::test]
async fn the_daily_summary_runs() -> Result<()> {
    let host = TestHost::start().await?;
    let plugin = install(&host).await?;
    plugin.enable_all().await?;
    plugin.act("notes", "add", None, json!({ "title": "月底对账" })).await?;
    plugin.run_job("daily-summary").await?;
    host.stop().await;
    Ok(())
}
