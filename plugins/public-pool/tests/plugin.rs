//! The public pool end to end, with the test kit: each test starts a real Tessera host, installs
//! this plugin built for wasm32-wasip2, and uses it as the CRM's people would: salespeople
//! claiming from the pool page, owners releasing from the customer panel, the admin setting
//! rules and pools, and the nightly job returning neglected customers.
//!
//! Run with `cargo test -p public-pool` in `plugins/`.
#![cfg(not(target_family = "wasm"))]

use anyhow::{Context, Result, ensure};
use tessera_testkit::tessera_host::store::{SqlBuf, now_ms};
use tessera_testkit::{Client, Role, StatusCode, TestHost, TestPlugin, USER_PASSWORD, Value, json};

const DAY_MS: i64 = 86_400_000;

/// A host with the plugin installed and granted everything it asks for.
async fn start() -> Result<(TestHost, TestPlugin)> {
    let host = TestHost::start().await?;
    let plugin = host.install_crate(env!("CARGO_MANIFEST_DIR")).await?;
    plugin.enable_all().await?;
    Ok((host, plugin))
}

fn id_of(customer: &Value) -> Result<i64> {
    customer["id"].as_i64().with_context(|| format!("a customer id in {customer}"))
}

fn user_id(client: &Client) -> Result<i64> {
    client.user_id().context("a signed-in user")
}

/// A customer in the pool: the admin makes it (and so owns it) and releases it from the
/// customer panel, as an owner would.
async fn pool_customer(host: &TestHost, plugin: &TestPlugin, customer: Value) -> Result<Value> {
    let made = host.create_customer(customer).await?;
    let id = id_of(&made)?;
    let outcome = plugin.act("customer-pool", "release", Some(&id.to_string()), json!({ "reason": "新线索" })).await?;
    ensure!(outcome["level"] == "success", "the admin could not release customer {id} to the pool: {outcome}");
    Ok(made)
}

async fn claim(plugin: &TestPlugin, who: &Client, id: i64) -> Result<Value> {
    plugin.act_as(who, "pool", "claim", Some(&id.to_string()), json!({})).await
}

async fn release(plugin: &TestPlugin, who: &Client, id: i64, reason: &str) -> Result<Value> {
    plugin.act_as(who, "customer-pool", "release", Some(&id.to_string()), json!({ "reason": reason })).await
}

/// The customer's owner, as the admin reads it through the API.
async fn owner_of(host: &TestHost, id: i64) -> Result<Option<i64>> {
    let (status, customer) = host.admin().get(&format!("/api/v1/customers/{id}")).await?;
    ensure!(status == StatusCode::OK, "cannot read customer {id}: {status} {customer}");
    Ok(customer["owner_id"].as_i64())
}

/// Makes a customer look untouched for `days` days: created, last followed up and taken by its
/// owner that long ago (columns of ms since the epoch).
async fn backdate(host: &TestHost, id: i64, days: i64) -> Result<()> {
    let at = now_ms() - days * DAY_MS;
    let mut sql = SqlBuf::new("UPDATE customers SET created_at = ");
    sql.bind(at)
        .push(", last_followed_up_at = ")
        .bind(at)
        .push(", owner_since = ")
        .bind(at)
        .push(" WHERE id = ")
        .bind(id);
    sql.query().execute(host.state().store.pool()).await.with_context(|| format!("backdating customer {id}"))?;
    Ok(())
}

/// Puts a user in a department and signs them in afresh, so their session knows it.
async fn move_to(host: &TestHost, username: &str, user: &Client, department: i64) -> Result<Client> {
    let id = user_id(user)?;
    let (status, body) =
        host.admin().patch(&format!("/api/v1/users/{id}"), json!({ "department_id": department })).await?;
    ensure!(status == StatusCode::OK, "cannot move {username} to department {department}: {status} {body}");
    host.sign_in(username, USER_PASSWORD).await
}

async fn department(host: &TestHost, name: &str, parent: Option<i64>) -> Result<i64> {
    let (status, body) = host.admin().post("/api/v1/departments", json!({ "name": name, "parent_id": parent })).await?;
    ensure!(
        status == StatusCode::CREATED || status == StatusCode::OK,
        "cannot make department {name}: {status} {body}"
    );
    body["id"].as_i64().with_context(|| format!("a department id in {body}"))
}

fn blocks<'p>(page: &'p Value, kind: &str) -> Vec<&'p Value> {
    page["blocks"].as_array().map(|all| all.iter().filter(|b| b["type"] == kind).collect()).unwrap_or_default()
}

fn block<'p>(page: &'p Value, kind: &str) -> Option<&'p Value> {
    blocks(page, kind).into_iter().next()
}

fn row_ids(table: &Value) -> Vec<i64> {
    table["row_ids"]
        .as_array()
        .map(|ids| ids.iter().filter_map(|id| id.as_str().and_then(|s| s.parse().ok())).collect())
        .unwrap_or_default()
}

/// The customers listed in the pool table, the pool page's last table.
fn pool_rows(page: &Value) -> Vec<i64> {
    blocks(page, "table").last().map(|t| row_ids(t)).unwrap_or_default()
}

/// The value of the stat card with this label.
fn stat(page: &Value, label: &str) -> Option<String> {
    let items = block(page, "stats")?["items"].as_array()?;
    items.iter().find(|s| s["label"] == label)?["value"].as_str().map(str::to_owned)
}

fn notice_of(outcome: &Value) -> (&str, &str) {
    (outcome["level"].as_str().unwrap_or("(no level)"), outcome["text"].as_str().unwrap_or("(no text)"))
}

#[tokio::test]
async fn a_customer_claimed_from_the_pool_page_joins_the_users_customers() -> Result<()> {
    let (host, plugin) = start().await?;
    let mei = host.user("mei", Role::Salesperson).await?;
    let customer = pool_customer(&host, &plugin, json!({ "name": "北京科技" })).await?;
    let (id, code) = (id_of(&customer)?, customer["code"].as_str().context("code")?.to_owned());

    let page = plugin.render_as(&mei, "pool", &[]).await?;
    assert_eq!(page["title"], "客户公海", "{page}");
    assert_eq!(pool_rows(&page), [id], "{page}");
    assert_eq!(stat(&page, "公海客户").as_deref(), Some("1"), "{page}");
    let table = blocks(&page, "table").last().copied().context("the pool table")?;
    assert_eq!(table["row_actions"][0]["name"], "claim", "{page}");
    assert_eq!(table["rows"][0][1], "北京科技", "{page}");

    let outcome = claim(&plugin, &mei, id).await?;
    assert_eq!(notice_of(&outcome), ("success", format!("已领取 {code} 北京科技").as_str()), "{outcome}");
    assert_eq!(owner_of(&host, id).await?, Some(user_id(&mei)?));

    // It is hers now: in her customer list, out of the pool, counted in her stats.
    let (status, mine) = mei.get("/api/v1/customers").await?;
    assert_eq!(status, StatusCode::OK, "{mine}");
    let listed: Vec<i64> = mine["items"].as_array().context("items")?.iter().filter_map(|c| c["id"].as_i64()).collect();
    assert_eq!(listed, [id], "{mine}");
    let page = plugin.render_as(&mei, "pool", &[]).await?;
    assert!(pool_rows(&page).is_empty(), "{page}");
    assert_eq!(stat(&page, "我的客户 / 上限").as_deref(), Some("1 / 200"), "{page}");
    assert_eq!(stat(&page, "今日已领取 / 上限").as_deref(), Some("1 / 10"), "{page}");
    let widget = plugin.render_as(&mei, "pool-stats", &[]).await?;
    assert_eq!(stat(&widget, "今日已领取 / 上限").as_deref(), Some("1 / 10"), "{widget}");

    let again = claim(&plugin, &mei, id).await?;
    assert_eq!(notice_of(&again), ("info", "该客户已经是您的客户。"), "{again}");
    host.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_two_people_claiming_the_same_customer_at_once_exactly_one_wins() -> Result<()> {
    let (host, plugin) = start().await?;
    let mei = host.user("mei", Role::Salesperson).await?;
    let lei = host.user("lei", Role::Salesperson).await?;
    for name in ["上海贸易", "广州电子", "深圳制造"] {
        let id = id_of(&pool_customer(&host, &plugin, json!({ "name": name })).await?)?;
        let (a, b) = tokio::join!(claim(&plugin, &mei, id), claim(&plugin, &lei, id));
        let (a, b) = (a?, b?);
        let mut levels = [notice_of(&a).0, notice_of(&b).0];
        levels.sort_unstable();
        assert_eq!(levels, ["success", "warning"], "{a} {b}");
        let (winner, loser) = if notice_of(&a).0 == "success" { (&mei, &b) } else { (&lei, &a) };
        assert_eq!(notice_of(loser).1, "该客户已被他人领取。", "{loser}");
        assert_eq!(owner_of(&host, id).await?, Some(user_id(winner)?));
    }
    host.stop().await;
    Ok(())
}

#[tokio::test]
async fn the_caps_on_customers_held_and_claims_a_day_refuse_with_a_notice() -> Result<()> {
    let (host, plugin) = start().await?;
    plugin.set_settings(json!({ "max_held": 2, "daily_claim_cap": 3 })).await?;
    let mei = host.user("mei", Role::Salesperson).await?;
    let mut ids = Vec::new();
    for name in ["一号客户", "二号客户", "三号客户", "四号客户"] {
        ids.push(id_of(&pool_customer(&host, &plugin, json!({ "name": name })).await?)?);
    }

    for id in &ids[..2] {
        let outcome = claim(&plugin, &mei, *id).await?;
        assert_eq!(notice_of(&outcome).0, "success", "{outcome}");
    }
    let refused = claim(&plugin, &mei, ids[2]).await?;
    assert_eq!(notice_of(&refused), ("warning", "您持有的客户已达上限 2 个，请先退回客户再领取。"), "{refused}");
    assert_eq!(owner_of(&host, ids[2]).await?, None, "the customer stays in the pool");

    // Giving one back makes room under the held cap, but not under the daily cap.
    release(&plugin, &mei, ids[0], "暂不跟进").await?;
    let outcome = claim(&plugin, &mei, ids[2]).await?;
    assert_eq!(notice_of(&outcome).0, "success", "{outcome}");
    release(&plugin, &mei, ids[1], "暂不跟进").await?;
    let refused = claim(&plugin, &mei, ids[3]).await?;
    assert_eq!(
        notice_of(&refused),
        ("warning", "您今天已领取 3 个客户，达到每日领取上限，请明天再领取。"),
        "{refused}"
    );
    assert_eq!(owner_of(&host, ids[3]).await?, None);

    let page = plugin.render_as(&mei, "pool", &[]).await?;
    assert_eq!(stat(&page, "今日已领取 / 上限").as_deref(), Some("3 / 3"), "{page}");
    assert_eq!(stat(&page, "我的客户 / 上限").as_deref(), Some("1 / 2"), "{page}");
    host.stop().await;
    Ok(())
}

#[tokio::test]
async fn notices_speak_the_users_language() -> Result<()> {
    let (host, plugin) = start().await?;
    plugin.set_settings(json!({ "max_held": 1 })).await?;
    let joe = host.user("joe", Role::Salesperson).await?;
    let (status, body) =
        host.admin().patch(&format!("/api/v1/users/{}", user_id(&joe)?), json!({ "locale": "en" })).await?;
    assert_eq!(status, StatusCode::OK, "{body}");
    let joe = host.sign_in("joe", USER_PASSWORD).await?;
    let first = pool_customer(&host, &plugin, json!({ "name": "Acme Ltd" })).await?;
    let second = id_of(&pool_customer(&host, &plugin, json!({ "name": "Globex" })).await?)?;

    let page = plugin.render_as(&joe, "pool", &[]).await?;
    assert_eq!(page["title"], "Public pool", "{page}");
    let outcome = claim(&plugin, &joe, id_of(&first)?).await?;
    let code = first["code"].as_str().context("code")?;
    assert_eq!(notice_of(&outcome), ("success", format!("Claimed {code} Acme Ltd").as_str()), "{outcome}");
    let refused = claim(&plugin, &joe, second).await?;
    assert_eq!(
        notice_of(&refused),
        ("warning", "You have reached the cap of 1 customers held: release one before claiming another."),
        "{refused}"
    );
    host.stop().await;
    Ok(())
}

#[tokio::test]
async fn a_former_owner_waits_out_the_cooldown_before_claiming_back() -> Result<()> {
    let (host, plugin) = start().await?;
    let mei = host.user("mei", Role::Salesperson).await?;
    let lei = host.user("lei", Role::Salesperson).await?;
    let id = id_of(&pool_customer(&host, &plugin, json!({ "name": "杭州软件" })).await?)?;
    claim(&plugin, &mei, id).await?;

    // Releasing needs a reason, and only the owner may release.
    let outcome = release(&plugin, &mei, id, "  ").await?;
    assert_eq!(outcome["type"], "invalid", "{outcome}");
    assert_eq!(outcome["errors"]["reason"], "请填写退回原因", "{outcome}");
    let outcome = release(&plugin, &lei, id, "不是我的").await?;
    assert_eq!(notice_of(&outcome), ("error", "只有客户的负责人才能退回公海。"), "{outcome}");
    assert_eq!(owner_of(&host, id).await?, Some(user_id(&mei)?));

    let outcome = release(&plugin, &mei, id, "客户暂无需求").await?;
    assert_eq!(notice_of(&outcome).0, "success", "{outcome}");
    assert_eq!(owner_of(&host, id).await?, None);

    let refused = claim(&plugin, &mei, id).await?;
    assert_eq!(notice_of(&refused), ("warning", "该客户由您退回公海未满 7 天，7 天后才能重新领取。"), "{refused}");
    assert_eq!(owner_of(&host, id).await?, None);
    // The cooldown binds the former owner only.
    let outcome = claim(&plugin, &lei, id).await?;
    assert_eq!(notice_of(&outcome).0, "success", "{outcome}");
    assert_eq!(owner_of(&host, id).await?, Some(user_id(&lei)?));
    host.stop().await;
    Ok(())
}

#[tokio::test]
async fn the_customer_panel_shows_the_owner_history_and_offers_release_or_claim() -> Result<()> {
    let (host, plugin) = start().await?;
    let mei = host.user("mei", Role::Salesperson).await?;
    let id = id_of(&pool_customer(&host, &plugin, json!({ "name": "南京物流" })).await?)?;
    let id_text = id.to_string();

    // Unowned: whoever may claim it from their pool is offered the claim.
    let panel = plugin.render("customer-pool", &[("customer_id", &id_text)]).await?;
    assert_eq!(block(&panel, "key_values").map(|kv| &kv["items"]), Some(&json!([["负责人", "公海"]])), "{panel}");
    let actions = block(&panel, "actions").context("a claim button")?;
    assert_eq!((&actions["items"][0]["name"], &actions["items"][0]["argument"]), (&json!("claim"), &json!(id_text)));

    claim(&plugin, &mei, id).await?;
    let panel = plugin.render_as(&mei, "customer-pool", &[("customer_id", &id_text)]).await?;
    let form = block(&panel, "form").context("the owner's release form")?;
    assert_eq!((&form["submit"]["name"], &form["submit"]["style"]), (&json!("release"), &json!("danger")), "{panel}");
    assert_eq!(
        (&form["fields"][0]["name"], &form["fields"][0]["required"]),
        (&json!("reason"), &json!(true)),
        "{panel}"
    );
    assert!(block(&panel, "actions").is_none(), "nothing to claim: {panel}");

    release(&plugin, &mei, id, "客户暂无需求").await?;
    let panel = plugin.render("customer-pool", &[("customer_id", &id_text)]).await?;
    let table = block(&panel, "table").context("the owner history")?;
    let rows = table["rows"].as_array().context("rows")?;
    assert_eq!(rows.len(), 3, "released by the admin, claimed, released: {panel}");
    assert_eq!(
        rows[0].as_array().map(|r| &r[1..]),
        Some(&[json!("mei"), json!("公海"), json!("退回公海 (released to the pool)：客户暂无需求"), json!("mei")][..]),
        "{panel}"
    );
    assert_eq!(
        rows[1].as_array().map(|r| &r[1..]),
        Some(&[json!("公海"), json!("mei"), json!("从公海领取 (claimed from the pool)"), json!("mei")][..]),
        "{panel}"
    );
    assert_eq!(rows[2][2], "公海", "{panel}");
    // `2026-12-01 09:30`
    let at = rows[0][0].as_str().context("a time")?;
    assert!(
        at.len() == 16 && at.as_bytes()[4] == b'-' && at.as_bytes()[10] == b' ' && at.as_bytes()[13] == b':',
        "{at}"
    );
    host.stop().await;
    Ok(())
}

#[tokio::test]
async fn the_nightly_recycle_returns_idle_customers_but_keeps_won_and_locked_ones() -> Result<()> {
    let (host, plugin) = start().await?;
    let mei = host.user("mei", Role::Salesperson).await?;
    let mei_id = user_id(&mei)?;
    let rule = json!({ "level": "a", "idle_days": 30, "unwon_days": 0, "remind_days": 5 });
    let outcome = plugin.act("rules", "add-rule", None, rule).await?;
    assert_eq!(notice_of(&outcome).0, "success", "{outcome}");

    let customer = |name: &str, extra: Value| {
        let mut body = json!({ "name": name, "owner_id": mei_id, "level": "a" });
        if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
            body.extend(extra.clone());
        }
        body
    };
    let idle = id_of(&host.create_customer(customer("久未跟进", json!({}))).await?)?;
    let locked = id_of(&host.create_customer(customer("锁定客户", json!({ "tags": ["锁定"] }))).await?)?;
    let won = id_of(&host.create_customer(customer("已签约", json!({ "status": "signed" }))).await?)?;
    let other_level = id_of(&host.create_customer(customer("B 级客户", json!({ "level": "b" }))).await?)?;
    let fresh = id_of(&host.create_customer(customer("新客户", json!({}))).await?)?;
    let due = id_of(&host.create_customer(customer("快到期", json!({}))).await?)?;
    for id in [idle, locked, won, other_level] {
        backdate(&host, id, 40).await?;
    }
    backdate(&host, due, 28).await?;

    plugin.run_job("recycle").await?;

    assert_eq!(owner_of(&host, idle).await?, None, "idle for 40 days with a 30-day rule");
    for id in [locked, won, other_level, fresh, due] {
        assert_eq!(owner_of(&host, id).await?, Some(mei_id), "customer {id} stays with its owner");
    }
    let panel = plugin.render("customer-pool", &[("customer_id", &idle.to_string())]).await?;
    let history = block(&panel, "table").context("the owner history")?;
    assert_eq!(history["rows"][0][3], "自动回收：超过 30 天未跟进 (not followed up for 30 days: returned to the pool)");
    assert_eq!(history["rows"][0][4], "系统", "{panel}");

    // One notification for the owner: what returned, and what is about to.
    let (status, inbox) = mei.get("/api/v1/notifications").await?;
    assert_eq!(status, StatusCode::OK, "{inbox}");
    let news: Vec<&Value> =
        inbox["items"].as_array().context("items")?.iter().filter(|n| n["title"] == "客户公海提醒").collect();
    assert_eq!(news.len(), 1, "{inbox}");
    assert_eq!(
        news[0]["body"],
        "a 级：您有 1 个客户因超过 30 天未跟进已退回公海。\na 级：您有 1 个客户将在 5 天内因超过 30 天未跟进退回公海，请及时跟进。",
        "{inbox}"
    );
    assert_eq!(news[0]["link"], "/p/public-pool/pool?due=1", "{inbox}");

    // The link shows her the customer about to return, and the pool has the one that did.
    let page = plugin.render_as(&mei, "pool", &[("due", "1")]).await?;
    let tables = blocks(&page, "table");
    assert_eq!(tables.len(), 2, "the due list and the pool: {page}");
    assert_eq!(row_ids(tables[0]), [due], "{page}");
    assert_eq!(row_ids(tables[1]), [idle], "{page}");
    assert_eq!(stat(&page, "即将退回公海").as_deref(), Some("1"), "{page}");
    host.stop().await;
    Ok(())
}

#[tokio::test]
async fn rules_are_checked_one_per_level_and_can_run_at_once() -> Result<()> {
    let (host, plugin) = start().await?;
    let mei = host.user("mei", Role::Salesperson).await?;

    let outcome =
        plugin.act("rules", "add-rule", None, json!({ "level": "a", "idle_days": 30, "remind_days": 30 })).await?;
    assert_eq!(outcome["type"], "invalid", "{outcome}");
    assert_eq!(outcome["errors"]["remind_days"], "提醒天数必须小于回收天数 30", "{outcome}");
    let outcome = plugin.act("rules", "add-rule", None, json!({ "level": "a", "idle_days": 4000 })).await?;
    assert_eq!(outcome["errors"]["idle_days"], "请填写 0 到 3650 之间的整数天数", "{outcome}");
    let outcome = plugin.act("rules", "add-rule", None, json!({ "level": " ", "idle_days": 30 })).await?;
    assert_eq!(outcome["errors"]["level"], "请填写客户级别", "{outcome}");

    let outcome =
        plugin.act("rules", "add-rule", None, json!({ "level": "a", "idle_days": 30, "remind_days": 3 })).await?;
    assert_eq!(notice_of(&outcome), ("success", "已添加 a 级客户的回收规则"), "{outcome}");
    let outcome = plugin.act("rules", "add-rule", None, json!({ "level": "a", "idle_days": 60 })).await?;
    assert_eq!(outcome["type"], "invalid", "a second rule for level a: {outcome}");
    assert_eq!(outcome["errors"]["level"], "a 级已有回收规则：勾选“替换”以修改，或先删除原规则", "{outcome}");
    let replace = json!({ "level": "a", "idle_days": 20, "unwon_days": 90, "remind_days": 3, "replace": true });
    let outcome = plugin.act("rules", "add-rule", None, replace).await?;
    assert_eq!(notice_of(&outcome), ("success", "已替换 a 级客户的回收规则"), "{outcome}");

    let page = plugin.render("rules", &[]).await?;
    let table = block(&page, "table").context("the rules table")?;
    assert_eq!(table["rows"], json!([["a", "20", "90", "3"]]), "{page}");
    let rule_id = table["row_ids"][0].as_str().context("a rule id")?.to_owned();

    // The rule applies at once when the admin runs the recycle by hand.
    let idle =
        id_of(&host.create_customer(json!({ "name": "久未跟进", "owner_id": user_id(&mei)?, "level": "a" })).await?)?;
    backdate(&host, idle, 25).await?;
    let outcome = plugin.act("rules", "recycle-now", None, json!({})).await?;
    assert_eq!(notice_of(&outcome), ("success", "已将 1 个客户退回公海"), "{outcome}");
    assert_eq!(owner_of(&host, idle).await?, None);

    // The rules are the administrators' business: a salesperson neither sees the page nor
    // changes a rule, and the host refuses before the plugin runs.
    let refused = plugin.render_as(&mei, "rules", &[]).await.expect_err("the rules page is for admins");
    assert!(refused.to_string().contains("403"), "{refused}");
    let refused = plugin.act_as(&mei, "rules", "delete-rule", Some(&rule_id), json!({})).await;
    assert!(refused.is_err_and(|e| e.to_string().contains("403")), "a salesperson may not delete a rule");
    let (_, menus) = mei.get("/api/v1/ui/plugins").await?;
    assert!(!menus.to_string().contains("\"rules\""), "no rules menu for a salesperson: {menus}");

    let outcome = plugin.act("rules", "delete-rule", Some(&rule_id), json!({})).await?;
    assert_eq!(notice_of(&outcome).0, "success", "{outcome}");
    let page = plugin.render("rules", &[]).await?;
    assert!(block(&page, "table").is_none(), "no rule left: {page}");
    host.stop().await;
    Ok(())
}

#[tokio::test]
async fn a_pool_serves_its_department_and_the_departments_under_it() -> Result<()> {
    let (host, plugin) = start().await?;
    let east = department(&host, "华东", None).await?;
    let shanghai = department(&host, "上海", Some(east)).await?;
    let north = department(&host, "华北", None).await?;
    let mei = host.user("mei", Role::Salesperson).await?;
    let mei = move_to(&host, "mei", &mei, shanghai).await?;
    let lei = host.user("lei", Role::Salesperson).await?;
    let lei = move_to(&host, "lei", &lei, north).await?;
    let in_shanghai =
        id_of(&pool_customer(&host, &plugin, json!({ "name": "上海客户", "department_id": shanghai })).await?)?;
    let in_beijing =
        id_of(&pool_customer(&host, &plugin, json!({ "name": "北京客户", "department_id": north })).await?)?;

    // Without pools, one pool holds every unowned customer.
    let mut all = pool_rows(&plugin.render_as(&lei, "pool", &[]).await?);
    all.sort_unstable();
    assert_eq!(all, [in_shanghai, in_beijing]);

    let outcome = plugin.act("rules", "add-pool", None, json!({ "name": "华东公海", "department": east })).await?;
    assert_eq!(notice_of(&outcome), ("success", "已添加公海：华东公海"), "{outcome}");
    let outcome = plugin.act("rules", "add-pool", None, json!({ "name": "又一个", "department": east })).await?;
    assert_eq!(outcome["errors"]["department"], "该部门已有公海", "{outcome}");

    let page = plugin.render_as(&mei, "pool", &[]).await?;
    assert_eq!(pool_rows(&page), [in_shanghai], "上海 is under 华东: {page}");
    let page = plugin.render_as(&lei, "pool", &[]).await?;
    assert!(pool_rows(&page).is_empty(), "{page}");
    let notices: Vec<&Value> = blocks(&page, "notice");
    assert!(notices.iter().any(|n| n["text"] == "您所在的部门没有可领取的公海。"), "{page}");

    let refused = claim(&plugin, &lei, in_shanghai).await?;
    assert_eq!(notice_of(&refused), ("error", "您所在的部门没有可领取的公海。"), "{refused}");
    let refused = claim(&plugin, &mei, in_beijing).await?;
    assert_eq!(notice_of(&refused), ("error", "该客户不在您可领取的公海中。"), "{refused}");
    assert_eq!(owner_of(&host, in_beijing).await?, None);
    let outcome = claim(&plugin, &mei, in_shanghai).await?;
    assert_eq!(notice_of(&outcome).0, "success", "{outcome}");

    // The admin, in no department, sees every pool; the rules page lists it.
    let page = plugin.render("rules", &[]).await?;
    let pools = blocks(&page, "table").last().copied().context("the pools table")?;
    assert_eq!(pools["rows"], json!([["华东公海", "华东（含下级部门）"]]), "{page}");
    host.stop().await;
    Ok(())
}
