//! The caller ID popup end to end, with the test kit: each test starts a real Tessera host,
//! installs this plugin built for wasm32-wasip2, and has a phone system post real HTTP to the
//! webhook at `/hooks/call-popup/acme/…`, as a PBX would, then checks what the CRM's people
//! see: the popup in the agent's inbox (and nobody else's), the call on the customer's timeline,
//! the popup page with the customer card, the choice among customers sharing a number, a new
//! customer for an unknown one, the call logged as an activity, and the missed calls list.
//!
//! Run with `cargo test -p call-popup` in `plugins/`.
#![cfg(not(target_family = "wasm"))]

use anyhow::{Context, Result, ensure};
use tessera_testkit::{Client, Method, Role, StatusCode, TestHost, TestPlugin, Value, json};

/// The webhook token the tests configure.
const TOKEN: &str = "pbx-token-7f3a9c2e51";

/// How a test request proves itself.
#[derive(Clone, Copy)]
enum Auth<'a> {
    Bearer(&'a str),
    TokenHeader(&'a str),
    Nothing,
}

/// A host with the plugin installed, granted everything it asks for, and its token set.
async fn start() -> Result<(TestHost, TestPlugin)> {
    let host = TestHost::start().await?;
    let plugin = host.install_crate(env!("CARGO_MANIFEST_DIR")).await?;
    plugin.enable_all().await?;
    plugin.set_settings(json!({ "webhook_token": TOKEN })).await?;
    Ok((host, plugin))
}

/// Posts `body` to the webhook path `path` (`/calls`, `/asterisk`, `/freeswitch`) as a PBX does.
async fn post_as(host: &TestHost, path: &str, body: impl Into<String>, auth: Auth<'_>) -> Result<(StatusCode, Value)> {
    let pbx = host.anonymous()?;
    let mut request = pbx
        .request(Method::POST, &format!("/hooks/call-popup/acme{path}"))
        .header("content-type", "application/json")
        .body(body.into());
    request = match auth {
        Auth::Bearer(token) => request.header("authorization", format!("Bearer {token}")),
        Auth::TokenHeader(token) => request.header("x-tessera-token", token),
        Auth::Nothing => request,
    };
    pbx.send(request).await
}

/// Posts an event with the right token, and expects it taken.
async fn post(host: &TestHost, path: &str, event: Value) -> Result<Value> {
    let (status, body) = post_as(host, path, event.to_string(), Auth::TokenHeader(TOKEN)).await?;
    ensure!(status == StatusCode::OK, "the webhook refused {event}: {status} {body}");
    Ok(body)
}

/// A native event of the call `call_id`.
fn native(event: &str, call_id: &str, from: &str, extension: &str) -> Value {
    json!({ "event": event, "call_id": call_id, "from": from, "extension": extension })
}

fn call_id_of(answer: &Value) -> Result<i64> {
    answer["call"].as_i64().with_context(|| format!("a call record id in {answer}"))
}

fn id_of(record: &Value) -> Result<i64> {
    record["id"].as_i64().with_context(|| format!("an id in {record}"))
}

fn user_id(client: &Client) -> Result<i64> {
    client.user_id().context("a signed-in user")
}

/// Maps an extension to a user on the admin's extensions page.
async fn map_extension(plugin: &TestPlugin, extension: &str, user: i64) -> Result<()> {
    let outcome =
        plugin.act("extensions", "add-extension", None, json!({ "extension": extension, "user_id": user })).await?;
    ensure!(outcome["level"] == "success", "mapping {extension} to user {user} failed: {outcome}");
    Ok(())
}

/// A customer with a phone, owned by `owner`.
async fn customer(host: &TestHost, name: &str, phone: &str, owner: i64) -> Result<i64> {
    let made = host
        .create_customer(json!({ "name": name, "owner_id": owner, "phones": [{ "label": "手机", "number": phone }] }))
        .await?;
    id_of(&made)
}

/// The user's notifications of a kind, newest first.
async fn inbox(client: &Client, kind: &str) -> Result<Vec<Value>> {
    let (status, inbox) = client.get("/api/v1/notifications").await?;
    ensure!(status == StatusCode::OK, "cannot read the inbox: {status} {inbox}");
    Ok(inbox["items"].as_array().context("items")?.iter().filter(|n| n["kind"] == kind).cloned().collect())
}

async fn popups(client: &Client) -> Result<Vec<Value>> {
    inbox(client, "plugin_popup").await
}

/// The plugin records on a customer's timeline, as the admin sees them.
async fn timeline(host: &TestHost, customer: i64) -> Result<Vec<Value>> {
    let (status, items) = host.admin().get(&format!("/api/v1/customers/{customer}/plugin-timeline")).await?;
    ensure!(status == StatusCode::OK, "cannot read the timeline of {customer}: {status} {items}");
    Ok(items.as_array().cloned().unwrap_or_default())
}

fn on_timeline(items: &[Value], call: i64) -> Option<&Value> {
    items.iter().find(|i| i["plugin_id"] == "call-popup" && i["entity"] == "call" && i["id"] == call)
}

async fn popup(plugin: &TestPlugin, who: &Client, call: i64) -> Result<Value> {
    plugin.render_as(who, "call", &[("call", &call.to_string())]).await
}

fn blocks<'p>(page: &'p Value, kind: &str) -> Vec<&'p Value> {
    page["blocks"].as_array().map(|all| all.iter().filter(|b| b["type"] == kind).collect()).unwrap_or_default()
}

fn block<'p>(page: &'p Value, kind: &str) -> Option<&'p Value> {
    blocks(page, kind).into_iter().next()
}

fn headings(page: &Value) -> Vec<String> {
    blocks(page, "heading").iter().filter_map(|h| h["text"].as_str().map(str::to_owned)).collect()
}

/// The value of a key-values block's item.
fn value_of(page: &Value, key: &str) -> Option<String> {
    blocks(page, "key_values").iter().find_map(|kv| {
        kv["items"].as_array()?.iter().find(|pair| pair[0] == key).and_then(|pair| pair[1].as_str().map(str::to_owned))
    })
}

fn notices(page: &Value) -> Vec<(String, String)> {
    blocks(page, "notice")
        .iter()
        .map(|n| {
            (n["level"].as_str().unwrap_or_default().to_owned(), n["text"].as_str().unwrap_or_default().to_owned())
        })
        .collect()
}

fn form_named<'p>(page: &'p Value, action: &str) -> Option<&'p Value> {
    blocks(page, "form").into_iter().find(|f| f["submit"]["name"] == action)
}

fn notice_of(outcome: &Value) -> (&str, &str) {
    (outcome["level"].as_str().unwrap_or("(no level)"), outcome["text"].as_str().unwrap_or("(no text)"))
}

/// The rows of the last table of a page, with their ids.
fn last_table(page: &Value) -> Result<(Vec<String>, Vec<Vec<String>>)> {
    let table = blocks(page, "table").last().copied().with_context(|| format!("a table in {page}"))?;
    let ids = table["row_ids"].as_array().context("row ids")?.iter().filter_map(|v| v.as_str().map(str::to_owned));
    let rows = table["rows"].as_array().context("rows")?.iter().map(|row| {
        row.as_array()
            .map(|cells| cells.iter().filter_map(|c| c.as_str().map(str::to_owned)).collect())
            .unwrap_or_default()
    });
    Ok((ids.collect(), rows.collect()))
}

#[tokio::test]
async fn a_ringing_call_pops_up_for_the_agent_of_the_extension_only() -> Result<()> {
    let (host, plugin) = start().await?;
    let mei = host.user("mei", Role::Administrator).await?;
    let lei = host.user("lei", Role::Salesperson).await?;
    map_extension(&plugin, "8001", user_id(&mei)?).await?;
    map_extension(&plugin, "8002", user_id(&lei)?).await?;
    let beijing = customer(&host, "北京科技", "138 1234 5678", user_id(&mei)?).await?;

    // The PBX writes the number its own way; the host's canonical form matches it.
    let answer = post(&host, "/calls", native("ringing", "pbx-1001", "+86 138-1234-5678", "8001")).await?;
    let call = call_id_of(&answer)?;
    assert_eq!((&answer["status"], &answer["matches"], &answer["popups"]), (&json!("ringing"), &json!(1), &json!(1)));

    let got = popups(&mei).await?;
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0]["title"], "来电 +86 138-1234-5678");
    assert_eq!(got[0]["body"], "客户：北京科技");
    assert_eq!(got[0]["link"], format!("/p/call-popup/call?call={call}"));
    assert!(popups(&lei).await?.is_empty(), "extension 8002 did not ring");
    assert!(popups(host.admin()).await?.is_empty(), "the admin answers no extension");

    // The PBX repeats itself: nothing changes and nothing pops up again.
    let again = post(&host, "/calls", native("ringing", "pbx-1001", "+86 138-1234-5678", "8001")).await?;
    assert_eq!((call_id_of(&again)?, &again["popups"]), (call, &json!(0)));
    assert_eq!(popups(&mei).await?.len(), 1);

    // The call is on the customer's timeline at once.
    let items = timeline(&host, beijing).await?;
    let item = on_timeline(&items, call).with_context(|| format!("call {call} on the timeline: {items:?}"))?;
    assert_eq!(item["title"], "来电 +86 138-1234-5678 · 响铃中 (incoming call, ringing)");

    // The agent's popup: the heading, the status, the customer card, the log form.
    let page = popup(&plugin, &mei, call).await?;
    assert_eq!(page["title"], "来电", "{page}");
    assert_eq!(headings(&page), ["来电 +86 138-1234-5678", "客户资料", "最近跟进", "待办", "记录本次通话"], "{page}");
    assert_eq!(notices(&page)[0], ("info".to_owned(), "正在响铃……".to_owned()), "{page}");
    assert_eq!(value_of(&page, "名称").as_deref(), Some("北京科技"), "{page}");
    assert_eq!(value_of(&page, "负责人").as_deref(), Some("mei"), "{page}");
    assert_eq!(value_of(&page, "电话").as_deref(), Some("138 1234 5678"), "{page}");
    assert_eq!(value_of(&page, "下次跟进").as_deref(), Some("未安排"), "{page}");
    let opens = block(&page, "actions").context("the action that opens the customer")?;
    assert_eq!(
        (opens["items"][0]["name"].as_str(), opens["items"][0]["argument"].as_str()),
        (Some("open-customer"), Some(beijing.to_string().as_str())),
        "{page}"
    );
    let gone = plugin.act_as(&mei, "call", "open-customer", Some(&beijing.to_string()), json!({})).await?;
    assert_eq!(gone, json!({ "type": "redirect", "to": format!("/customers/{beijing}") }));
    let form = form_named(&page, "log-call").context("the log form")?;
    assert_eq!(form["submit"]["argument"], call.to_string(), "{page}");
    assert_eq!(form["submit"]["label"], "保存通话记录", "{page}");

    // Nobody else's: a colleague whose extension did not ring cannot open it.
    let refused = popup(&plugin, &lei, call).await.expect_err("not lei's call");
    assert!(refused.to_string().contains("404"), "{refused}");
    host.stop().await;
    Ok(())
}

#[tokio::test]
async fn calls_move_from_ringing_to_answered_to_ended_and_unanswered_ones_are_missed() -> Result<()> {
    let (host, plugin) = start().await?;
    let mei = host.user("mei", Role::Administrator).await?;
    map_extension(&plugin, "8001", user_id(&mei)?).await?;
    let shanghai = customer(&host, "上海贸易", "021-6234 5678", user_id(&mei)?).await?;

    // Answered after 5 s, talked 125 s. Times as RFC 3339 and as milliseconds.
    let mut ringing = native("ringing", "talk-1", "021 6234 5678", "8001");
    ringing["at"] = json!("2026-12-01T09:30:00+08:00");
    let call = call_id_of(&post(&host, "/calls", ringing).await?)?;
    let answered =
        post(&host, "/calls", json!({ "event": "answered", "call_id": "talk-1", "at": 1_796_088_605_000_i64 })).await?;
    assert_eq!(answered["status"], "answered");
    let ended =
        post(&host, "/calls", json!({ "event": "ended", "call_id": "talk-1", "at": 1_796_088_730_000_i64 })).await?;
    assert_eq!((call_id_of(&ended)?, &ended["status"]), (call, &json!("ended")));
    let items = timeline(&host, shanghai).await?;
    let item = on_timeline(&items, call).context("the call on the timeline")?;
    assert_eq!(item["title"], "来电 021 6234 5678 · 通话 2 分 05 秒 (incoming call, talked 2 min 05 s)");
    // A late hangup changes nothing.
    let late = post(&host, "/calls", json!({ "event": "ended", "call_id": "talk-1" })).await?;
    assert_eq!(late["status"], "ended");
    let page = popup(&plugin, &mei, call).await?;
    assert_eq!(notices(&page)[0].1, "通话已结束，时长 2 分 05 秒", "{page}");

    let log = plugin.render("calls", &[]).await?;
    let (ids, rows) = last_table(&log)?;
    assert_eq!(ids, [call.to_string()], "{log}");
    assert_eq!(
        rows[0],
        ["2026-12-01 09:30", "021 6234 5678", "上海贸易", "mei", "8001", "已结束", "2 分 05 秒", "接口推送", ""],
        "{log}"
    );

    // Rings and ends without an answer: missed, and the agent is told.
    post(&host, "/calls", native("ringing", "miss-1", "021-62345678", "8001")).await?;
    let missed = post(&host, "/calls", json!({ "event": "ended", "call_id": "miss-1" })).await?;
    let missed_call = call_id_of(&missed)?;
    assert_eq!(missed["status"], "missed");
    let told = inbox(&mei, "plugin_message").await?;
    assert_eq!(told.len(), 1, "{told:?}");
    assert_eq!((&told[0]["title"], &told[0]["body"]), (&json!("未接来电 021-62345678"), &json!("客户：上海贸易")));
    assert_eq!(told[0]["link"], "/p/call-popup/missed");

    let page = plugin.render_as(&mei, "missed", &[]).await?;
    let (ids, rows) = last_table(&page)?;
    assert_eq!(ids, [missed_call.to_string()], "only the missed one: {page}");
    assert_eq!(rows[0][1..], ["021-62345678", "上海贸易", "mei"], "{page}");
    // Its popup warns and offers "called back".
    let page = popup(&plugin, &mei, missed_call).await?;
    assert_eq!(notices(&page)[0].0, "warning", "{page}");
    let actions = blocks(&page, "actions").into_iter().last().context("the called-back button")?;
    assert_eq!(
        (&actions["items"][0]["name"], &actions["items"][0]["argument"]),
        (&json!("called-back"), &json!(missed_call.to_string()))
    );

    let outcome = plugin.act_as(&mei, "missed", "called-back", Some(&missed_call.to_string()), json!({})).await?;
    assert_eq!(notice_of(&outcome), ("success", "已标记为已回电"), "{outcome}");
    let page = plugin.render_as(&mei, "missed", &[]).await?;
    assert!(blocks(&page, "table").is_empty(), "{page}");
    assert!(notices(&page).iter().any(|(_, text)| text == "没有未处理的未接来电。"), "{page}");
    let page = plugin.render_as(&mei, "missed", &[("show", "all")]).await?;
    let (ids, rows) = last_table(&page)?;
    assert_eq!((ids, rows[0][4].as_str()), (vec![missed_call.to_string()], "已处理"), "{page}");
    let outcome = plugin.act_as(&mei, "missed", "filter", None, json!({ "show": "all" })).await?;
    assert_eq!(outcome, json!({ "type": "redirect", "to": "/p/call-popup/missed?show=all" }));
    host.stop().await;
    Ok(())
}

#[tokio::test]
async fn a_pbx_that_reports_no_ringing_still_records_the_call() -> Result<()> {
    let (host, plugin) = start().await?;
    let mei = host.user("mei", Role::Administrator).await?;
    map_extension(&plugin, "8001", user_id(&mei)?).await?;

    let answered = post(&host, "/calls", native("answered", "late-1", "400 800 1234", "8001")).await?;
    assert_eq!(
        (&answered["status"], &answered["popups"], &answered["matches"]),
        (&json!("answered"), &json!(1), &json!(0))
    );
    assert_eq!(popups(&mei).await?[0]["body"], "未知号码");

    let ended = post(&host, "/calls", native("ended", "late-2", "anonymous", "8001")).await?;
    assert_eq!((&ended["status"], &ended["popups"]), (&json!("missed"), &json!(0)));

    // Without a number, the first event of a call cannot be recorded.
    let (status, body) = post_as(
        &host,
        "/calls",
        json!({ "event": "ended", "call_id": "late-3" }).to_string(),
        Auth::TokenHeader(TOKEN),
    )
    .await?;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["error"].as_str().is_some_and(|e| e.starts_with("from: required")), "{body}");
    let page = plugin.render("calls", &[("status", "missed")]).await?;
    assert_eq!(last_table(&page)?.0, [call_id_of(&ended)?.to_string()], "{page}");
    host.stop().await;
    Ok(())
}

#[tokio::test]
async fn a_number_several_customers_share_is_linked_to_the_one_the_agent_chooses() -> Result<()> {
    let (host, plugin) = start().await?;
    let mei = host.user("mei", Role::Administrator).await?;
    let mei_id = user_id(&mei)?;
    map_extension(&plugin, "8001", mei_id).await?;
    let first = customer(&host, "北京星河", "010-8765 4321", mei_id).await?;
    let second = id_of(&host.create_customer(json!({ "name": "北京银河", "owner_id": mei_id })).await?)?;
    let (status, contact) = host
        .admin()
        .post(
            &format!("/api/v1/customers/{second}/contacts"),
            json!({ "name": "李雷", "title": "采购经理", "phones": [{ "label": "办公", "number": "(010) 87654321" }] }),
        )
        .await?;
    assert_eq!(status, StatusCode::CREATED, "{contact}");
    let other = customer(&host, "无关客户", "139 0000 0000", mei_id).await?;

    let answer = post(&host, "/calls", native("ringing", "shared-1", "01087654321", "8001")).await?;
    let call = call_id_of(&answer)?;
    assert_eq!((&answer["matches"], &answer["popups"]), (&json!(2), &json!(1)));
    assert_eq!(popups(&mei).await?[0]["body"], "2 个客户使用此号码，请选择");
    assert!(on_timeline(&timeline(&host, first).await?, call).is_none(), "not linked before the choice");

    let page = popup(&plugin, &mei, call).await?;
    assert!(headings(&page).contains(&"多个客户使用此号码".to_owned()), "{page}");
    let (ids, rows) = last_table(&page)?;
    assert_eq!(ids, [format!("{call}:{first}"), format!("{call}:{second}")], "{page}");
    assert_eq!(rows[0][3], "客户电话", "{page}");
    assert_eq!(rows[1][..], ["北京银河".to_owned(), rows[1][1].clone(), "mei".to_owned(), "联系人 李雷".to_owned()]);
    let table = blocks(&page, "table").last().copied().context("the candidates")?;
    assert_eq!(
        (&table["row_actions"][0]["name"], &table["row_actions"][0]["label"]),
        (&json!("choose"), &json!("选择"))
    );

    // A customer the number does not belong to is not a choice.
    let refused = plugin.act_as(&mei, "call", "choose", Some(&format!("{call}:{other}")), json!({})).await?;
    assert_eq!(notice_of(&refused), ("error", "该客户没有使用此号码。"), "{refused}");

    let chosen = plugin.act_as(&mei, "call", "choose", Some(&format!("{call}:{second}")), json!({})).await?;
    assert_eq!(notice_of(&chosen), ("success", "已将来电关联到 北京银河"), "{chosen}");
    assert!(on_timeline(&timeline(&host, second).await?, call).is_some(), "on the chosen customer's timeline");
    assert!(on_timeline(&timeline(&host, first).await?, call).is_none());

    // Now the popup shows the card, with the contact the number belongs to.
    let page = popup(&plugin, &mei, call).await?;
    assert_eq!(value_of(&page, "名称").as_deref(), Some("北京银河"), "{page}");
    assert_eq!(value_of(&page, "联系人").as_deref(), Some("李雷 · 采购经理"), "{page}");
    let again = plugin.act_as(&mei, "call", "choose", Some(&format!("{call}:{first}")), json!({})).await?;
    assert_eq!(notice_of(&again), ("info", "此来电已关联到客户。"), "{again}");
    host.stop().await;
    Ok(())
}

#[tokio::test]
async fn an_unknown_number_becomes_a_customer_from_the_popup() -> Result<()> {
    let (host, plugin) = start().await?;
    let mei = host.user("mei", Role::Administrator).await?;
    map_extension(&plugin, "8001", user_id(&mei)?).await?;

    let answer = post(&host, "/calls", native("ringing", "new-1", "139 1111 2222", "8001")).await?;
    let call = call_id_of(&answer)?;
    assert_eq!(answer["matches"], 0);
    assert_eq!(popups(&mei).await?[0]["body"], "未知号码");

    let page = popup(&plugin, &mei, call).await?;
    assert!(notices(&page).contains(&("warning".to_owned(), "未知号码".to_owned())), "{page}");
    let form = form_named(&page, "create-customer").context("the create form")?;
    assert_eq!((&form["submit"]["label"], &form["submit"]["argument"]), (&json!("新建客户"), &json!(call.to_string())));
    let phone = form["fields"].as_array().context("fields")?.iter().find(|f| f["name"] == "phone").context("phone")?;
    assert_eq!(phone["value"], "139 1111 2222", "{form}");

    let outcome = plugin
        .act_as(
            &mei,
            "call",
            "create-customer",
            Some(&call.to_string()),
            json!({ "name": " ", "phone": "139 1111 2222" }),
        )
        .await?;
    assert_eq!(outcome["errors"]["name"], "请填写客户名称", "{outcome}");

    let input = json!({ "name": "深圳新客户", "contact_name": "赵六", "phone": "139 1111 2222" });
    let outcome = plugin.act_as(&mei, "call", "create-customer", Some(&call.to_string()), input).await?;
    let (level, text) = notice_of(&outcome);
    assert!(level == "success" && text.starts_with("已新建客户 ") && text.ends_with(" 深圳新客户"), "{outcome}");

    let (status, found) = host.admin().get("/api/v1/customers?q=深圳新客户").await?;
    assert_eq!(status, StatusCode::OK, "{found}");
    let made = found["items"].as_array().and_then(|items| items.first()).cloned().context("the new customer")?;
    assert_eq!(made["phones"][0]["number"], "139 1111 2222", "{made}");
    assert_eq!(made["phones"][0]["label"], "手机", "{made}");
    let made_id = id_of(&made)?;
    let (_, contacts) = host.admin().get(&format!("/api/v1/customers/{made_id}/contacts")).await?;
    assert_eq!(contacts[0]["name"], "赵六", "{contacts}");
    assert!(on_timeline(&timeline(&host, made_id).await?, call).is_some());

    let page = popup(&plugin, &mei, call).await?;
    assert_eq!(value_of(&page, "名称").as_deref(), Some("深圳新客户"), "{page}");
    assert_eq!(value_of(&page, "联系人").as_deref(), Some("赵六"), "{page}");
    assert!(form_named(&page, "create-customer").is_none(), "{page}");

    // The next call from the number finds the customer.
    let next = post(&host, "/calls", native("ringing", "new-2", "13911112222", "8001")).await?;
    assert_eq!(next["matches"], 1);
    host.stop().await;
    Ok(())
}

#[tokio::test]
async fn logging_the_call_adds_a_call_activity_and_replaces_the_form() -> Result<()> {
    let (host, plugin) = start().await?;
    let mei = host.user("mei", Role::Administrator).await?;
    map_extension(&plugin, "8001", user_id(&mei)?).await?;
    let guangzhou = customer(&host, "广州电子", "020-8888 6666", user_id(&mei)?).await?;
    let call = call_id_of(&post(&host, "/calls", native("ringing", "log-1", "020 8888 6666", "8001")).await?)?;
    let argument = call.to_string();

    let outcome = plugin.act_as(&mei, "call", "log-call", Some(&argument), json!({ "content": "  " })).await?;
    assert_eq!(outcome["errors"]["content"], "请填写通话内容", "{outcome}");
    let outcome = plugin
        .act_as(
            &mei,
            "call",
            "log-call",
            Some(&argument),
            json!({ "content": "要报价", "next_follow_up_at": "2020-01-01" }),
        )
        .await?;
    assert_eq!(outcome["errors"]["next_follow_up_at"], "下次跟进日期不能早于今天", "{outcome}");

    let input = json!({ "content": "客户要一份报价单", "result": "interested", "next_follow_up_at": "2099-12-31" });
    let outcome = plugin.act_as(&mei, "call", "log-call", Some(&argument), input).await?;
    assert_eq!(notice_of(&outcome), ("success", "已记录本次通话"), "{outcome}");

    let (status, activities) = host.admin().get(&format!("/api/v1/customers/{guangzhou}/activities")).await?;
    assert_eq!(status, StatusCode::OK, "{activities}");
    let logged = activities.as_array().and_then(|a| a.first()).context("the activity")?;
    assert_eq!(
        (&logged["kind"], &logged["content"], &logged["result"]),
        (&json!("call"), &json!("客户要一份报价单"), &json!("有意向"))
    );
    assert_eq!(logged["subject"], "来电 020 8888 6666", "{logged}");
    assert!(logged["next_follow_up_at"].as_str().is_some_and(|t| t.starts_with("2099-12-31T01:00:00")), "{logged}");

    // The popup now shows the activity and the follow-up, and no form.
    let page = popup(&plugin, &mei, call).await?;
    assert!(form_named(&page, "log-call").is_none(), "{page}");
    assert!(notices(&page).contains(&("success".to_owned(), "本次通话已记录到客户的跟进记录。".to_owned())), "{page}");
    assert_eq!(value_of(&page, "下次跟进").as_deref(), Some("2099-12-31"), "{page}");
    let activities_table = blocks(&page, "table").first().copied().context("the last activities")?;
    let row = activities_table["rows"][0].as_array().context("an activity row")?;
    assert_eq!(row[1..], [json!("电话"), json!("客户要一份报价单"), json!("有意向")], "{page}");
    let again = plugin.act_as(&mei, "call", "log-call", Some(&argument), json!({ "content": "再记一次" })).await?;
    assert_eq!(notice_of(&again), ("info", "本次通话已经记录过了。"), "{again}");
    let log = plugin.render("calls", &[]).await?;
    assert_eq!(last_table(&log)?.1[0][8], "已记录", "{log}");
    host.stop().await;
    Ok(())
}

#[tokio::test]
async fn asterisk_and_freeswitch_events_make_the_same_calls_as_the_native_format() -> Result<()> {
    let (host, plugin) = start().await?;
    let mei = host.user("mei", Role::Administrator).await?;
    map_extension(&plugin, "8001", user_id(&mei)?).await?;
    let hangzhou = customer(&host, "杭州软件", "0571-8888 1234", user_id(&mei)?).await?;

    // Asterisk: DialBegin, DialEnd ANSWER, Hangup (once per channel).
    let base = json!({ "Linkedid": "1700000000.42", "Uniqueid": "1700000000.43", "CallerIDNum": "057188881234", "DestExten": "8001" });
    let ami = |fields: Value| {
        let mut event = base.clone();
        if let (Some(event), Some(fields)) = (event.as_object_mut(), fields.as_object()) {
            event.extend(fields.clone());
        }
        event
    };
    let ringing = post(&host, "/asterisk", ami(json!({ "Event": "DialBegin" }))).await?;
    let asterisk_call = call_id_of(&ringing)?;
    assert_eq!((&ringing["matches"], &ringing["popups"]), (&json!(1), &json!(1)));
    let (status, ignored) =
        post_as(&host, "/asterisk", ami(json!({ "Event": "Newstate" })).to_string(), Auth::TokenHeader(TOKEN)).await?;
    assert_eq!(status, StatusCode::ACCEPTED, "{ignored}");
    let answered = post(&host, "/asterisk", ami(json!({ "Event": "DialEnd", "DialStatus": "ANSWER" }))).await?;
    assert_eq!(answered["status"], "answered");
    for _ in 0..2 {
        let ended = post(&host, "/asterisk", ami(json!({ "Event": "Hangup", "Cause": "16" }))).await?;
        assert_eq!((call_id_of(&ended)?, &ended["status"]), (asterisk_call, &json!("ended")));
    }
    let no_answer = json!({ "Event": "DialBegin", "Linkedid": "1700000001.1", "CallerIDNum": "0571-88881234", "DestCallerIDNum": "8001" });
    post(&host, "/asterisk", no_answer).await?;
    let missed =
        post(&host, "/asterisk", json!({ "Event": "DialEnd", "DialStatus": "NOANSWER", "Linkedid": "1700000001.1" }))
            .await?;
    assert_eq!(missed["status"], "missed");

    // FreeSWITCH: the inbound leg's create, answer, hangup; the outbound leg is ignored.
    let fs = |name: &str, direction: &str| {
        json!({
            "Event-Name": name, "Call-Direction": direction, "Unique-ID": "5f1c1f4e-0000-4000-8000-000000000001",
            "Caller-Caller-ID-Number": "+86 571 8888 1234", "Caller-Destination-Number": "8001",
        })
    };
    let ringing = post(&host, "/freeswitch", fs("CHANNEL_CREATE", "inbound")).await?;
    let freeswitch_call = call_id_of(&ringing)?;
    assert_eq!((&ringing["matches"], &ringing["popups"]), (&json!(1), &json!(1)));
    let (status, ignored) =
        post_as(&host, "/freeswitch", fs("CHANNEL_ANSWER", "outbound").to_string(), Auth::TokenHeader(TOKEN)).await?;
    assert_eq!(status, StatusCode::ACCEPTED, "{ignored}");
    assert_eq!(post(&host, "/freeswitch", fs("CHANNEL_ANSWER", "inbound")).await?["status"], "answered");
    assert_eq!(post(&host, "/freeswitch", fs("CHANNEL_HANGUP_COMPLETE", "inbound")).await?["status"], "ended");

    // The same native call, for comparison.
    let native_call = call_id_of(&post(&host, "/calls", native("ringing", "n-1", "0571 88881234", "8001")).await?)?;
    post(&host, "/calls", json!({ "event": "answered", "call_id": "n-1" })).await?;
    post(&host, "/calls", json!({ "event": "ended", "call_id": "n-1" })).await?;

    let log = plugin.render("calls", &[("status", "ended")]).await?;
    let (ids, rows) = last_table(&log)?;
    let row_of = |call: i64| ids.iter().position(|id| *id == call.to_string()).map(|i| rows[i].clone());
    for (call, source) in [(asterisk_call, "Asterisk"), (freeswitch_call, "FreeSWITCH"), (native_call, "接口推送")]
    {
        let row = row_of(call).with_context(|| format!("call {call} in the log: {log}"))?;
        // Customer, agent, extension, status; then the source.
        assert_eq!(row[2..6], ["杭州软件", "mei", "8001", "已结束"], "{source}: {row:?}");
        assert_eq!(row[7], source, "{row:?}");
        assert!(on_timeline(&timeline(&host, hangzhou).await?, call).is_some(), "{source} on the timeline");
    }
    assert_eq!(popups(&mei).await?.len(), 4, "one popup per call: two Asterisk, one FreeSWITCH, one native");
    host.stop().await;
    Ok(())
}

#[tokio::test]
async fn the_webhook_refuses_wrong_tokens_and_bad_input_with_a_message() -> Result<()> {
    let host = TestHost::start().await?;
    let plugin = host.install_crate(env!("CARGO_MANIFEST_DIR")).await?;
    plugin.enable_all().await?;
    let ringing = native("ringing", "t-1", "138 1234 5678", "8001").to_string();

    // No token configured: refused, telling the admin what to do.
    let (status, body) = post_as(&host, "/calls", ringing.clone(), Auth::TokenHeader("guess")).await?;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body["error"].as_str().is_some_and(|e| e.contains("webhook_token")), "{body}");

    plugin.set_settings(json!({ "webhook_token": TOKEN })).await?;
    for auth in
        [Auth::Nothing, Auth::TokenHeader("pbx-token-7f3a9c2e50"), Auth::Bearer("pbx-token"), Auth::TokenHeader("")]
    {
        let (status, body) = post_as(&host, "/calls", ringing.clone(), auth).await?;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        assert!(body["error"].as_str().is_some_and(|e| e.contains("x-tessera-token")), "{body}");
    }
    let (status, body) = post_as(&host, "/calls", ringing.clone(), Auth::TokenHeader(TOKEN)).await?;
    assert_eq!(status, StatusCode::OK, "{body}");
    // The host passes the authorization header of hook requests to the plugin.
    let (status, body) = post_as(&host, "/calls", ringing, Auth::Bearer(TOKEN)).await?;
    assert_eq!((status, &body["popups"]), (StatusCode::OK, &json!(0)), "{body}");

    let bad = [
        ("/calls", "{\"event\": \"ringing\",", StatusCode::BAD_REQUEST, "the body is not JSON"),
        ("/calls", "[]", StatusCode::UNPROCESSABLE_ENTITY, "the body must be a JSON object"),
        ("/calls", r#"{"event":"ringing","from":"138"}"#, StatusCode::UNPROCESSABLE_ENTITY, "call_id: required"),
        ("/calls", r#"{"event":"hold","call_id":"x"}"#, StatusCode::UNPROCESSABLE_ENTITY, "event: \"hold\""),
        (
            "/calls",
            r#"{"event":"ringing","call_id":"x","from":"1","at":"noon"}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "at: ",
        ),
        (
            "/asterisk",
            r#"{"Event":"DialEnd","Linkedid":"x"}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "DialStatus: required",
        ),
        ("/freeswitch", "Event-Name: CHANNEL_CREATE", StatusCode::BAD_REQUEST, "the body is not JSON"),
    ];
    for (path, body, expected, message) in bad {
        let (status, answer) = post_as(&host, path, body, Auth::TokenHeader(TOKEN)).await?;
        assert_eq!(status, expected, "{path} {body}: {answer}");
        assert!(answer["error"].as_str().is_some_and(|e| e.starts_with(message)), "{path} {body}: {answer}");
    }
    let outbound = json!({ "event": "ringing", "call_id": "o-1", "from": "8001", "direction": "outbound" }).to_string();
    let (status, answer) = post_as(&host, "/calls", outbound, Auth::TokenHeader(TOKEN)).await?;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    let (status, answer) = post_as(&host, "/sip", "{}", Auth::TokenHeader(TOKEN)).await?;
    assert_eq!(status, StatusCode::NOT_FOUND, "{answer}");
    let pbx = host.anonymous()?;
    let (status, answer) =
        pbx.send(pbx.request(Method::GET, "/hooks/call-popup/acme/calls").header("x-tessera-token", TOKEN)).await?;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{answer}");
    host.stop().await;
    Ok(())
}

#[tokio::test]
async fn a_simulated_call_pops_up_to_the_user_who_runs_it_or_to_the_extensions_user() -> Result<()> {
    let (host, plugin) = start().await?;
    let mei = host.user("mei", Role::Administrator).await?;
    map_extension(&plugin, "8001", user_id(&mei)?).await?;
    customer(&host, "成都餐饮", "028-8555 0000", user_id(&mei)?).await?;

    let page = plugin.render("calls", &[]).await?;
    let form = form_named(&page, "simulate").context("the simulate form")?;
    assert_eq!(form["submit"]["label"], "模拟来电", "{form}");

    let outcome = plugin.act("calls", "simulate", None, json!({ "number": "028 8555 0000", "extension": "" })).await?;
    let (level, text) = notice_of(&outcome);
    assert!(level == "success" && text.starts_with("来电弹屏已发送给 "), "{outcome}");
    let got = popups(host.admin()).await?;
    assert_eq!((got.len(), &got[0]["body"]), (1, &json!("客户：成都餐饮")), "to the admin who simulated");

    let outcome =
        plugin.act("calls", "simulate", None, json!({ "number": "028 8555 0000", "extension": "8001" })).await?;
    assert_eq!(notice_of(&outcome), ("success", "来电弹屏已发送给 mei"), "{outcome}");
    assert_eq!(popups(&mei).await?.len(), 1);
    let outcome =
        plugin.act("calls", "simulate", None, json!({ "number": "028 8555 0000", "extension": "9999" })).await?;
    assert_eq!(outcome["errors"]["extension"], "分机 9999 没有绑定用户", "{outcome}");
    let outcome = plugin.act("calls", "simulate", None, json!({ "number": " " })).await?;
    assert_eq!(outcome["type"], "invalid", "{outcome}");

    let log = plugin.render("calls", &[]).await?;
    let (_, rows) = last_table(&log)?;
    assert_eq!(rows.len(), 2, "{log}");
    assert!(rows.iter().all(|r| r[7] == "模拟" && r[2] == "成都餐饮" && r[5] == "响铃中"), "{log}");

    // The panel on the customer page and the widget count them.
    let (_, found) = host.admin().get("/api/v1/customers?q=成都餐饮").await?;
    let customer_id = found["items"][0]["id"].as_i64().context("the customer")?;
    let panel = plugin.render("customer-calls", &[("customer_id", &customer_id.to_string())]).await?;
    assert_eq!(last_table(&panel)?.0.len(), 2, "{panel}");
    let widget = plugin.render("call-stats", &[]).await?;
    assert_eq!(block(&widget, "stats").map(|s| s["items"][0]["value"].clone()), Some(json!("2")), "{widget}");
    host.stop().await;
    Ok(())
}

#[tokio::test]
async fn extensions_are_mapped_by_administrators_only() -> Result<()> {
    let (host, plugin) = start().await?;
    let lei = host.user("lei", Role::Salesperson).await?;
    let outcome =
        plugin.act("extensions", "add-extension", None, json!({ "extension": "80 01", "user_id": 999_999 })).await?;
    assert_eq!(outcome["type"], "invalid", "{outcome}");
    assert!(outcome["errors"]["extension"].is_string() && outcome["errors"]["user_id"].is_string(), "{outcome}");
    map_extension(&plugin, "8001", user_id(&lei)?).await?;
    let outcome = plugin
        .act("extensions", "add-extension", None, json!({ "extension": "8001", "user_id": user_id(&lei)? }))
        .await?;
    assert_eq!(outcome["errors"]["extension"], "该分机已绑定用户，请先删除原绑定", "{outcome}");

    let page = plugin.render("extensions", &[]).await?;
    let (ids, rows) = last_table(&page)?;
    assert_eq!(rows, [["8001", "lei"]], "{page}");
    let refused = plugin.render_as(&lei, "extensions", &[]).await.expect_err("admins only");
    assert!(refused.to_string().contains("403"), "{refused}");

    let outcome = plugin.act("extensions", "delete-extension", Some(&ids[0]), json!({})).await?;
    assert_eq!(notice_of(&outcome).0, "success", "{outcome}");
    let answer = post(&host, "/calls", native("ringing", "x-1", "138 0000 0000", "8001")).await?;
    assert_eq!(answer["popups"], 0, "nobody answers 8001 any more");
    assert!(popups(&lei).await?.is_empty());
    host.stop().await;
    Ok(())
}

/// The everyday case: the agent is a salesperson who works their own customers. The host must
/// let them open and work the calls that ring their extension (records the webhook made without
/// a signed-in user).
#[tokio::test]
async fn a_salesperson_opens_the_popup_of_their_call_and_logs_it() -> Result<()> {
    let (host, plugin) = start().await?;
    let mei = host.user("mei", Role::Salesperson).await?;
    map_extension(&plugin, "8001", user_id(&mei)?).await?;
    let nanjing = customer(&host, "南京物流", "025-5555 6666", user_id(&mei)?).await?;
    let call = call_id_of(&post(&host, "/calls", native("ringing", "sales-1", "025 5555 6666", "8001")).await?)?;
    assert_eq!(popups(&mei).await?.len(), 1);

    let page = popup(&plugin, &mei, call).await?;
    assert_eq!(value_of(&page, "名称").as_deref(), Some("南京物流"), "{page}");
    let outcome = plugin
        .act_as(
            &mei,
            "call",
            "log-call",
            Some(&call.to_string()),
            json!({ "content": "约了下周拜访", "result": "follow-up" }),
        )
        .await?;
    assert_eq!(notice_of(&outcome), ("success", "已记录本次通话"), "{outcome}");
    let (_, activities) = mei.get(&format!("/api/v1/customers/{nanjing}/activities")).await?;
    assert_eq!(activities[0]["kind"], "call", "{activities}");
    let page = plugin.render_as(&mei, "calls", &[]).await?;
    assert_eq!(last_table(&page)?.0, [call.to_string()], "her calls: {page}");
    host.stop().await;
    Ok(())
}
