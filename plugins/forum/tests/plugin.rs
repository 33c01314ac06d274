//! The forum end to end, with the test kit: each test starts a real Tessera host, installs this
//! plugin built for wasm32-wasip2, and does what people do: administrators set up boards for
//! roles, salespeople post threads and replies with `@mentions`, subscribe to boards and
//! keywords, moderators pin, lock, move and delete, and everyone searches, in Chinese too.
//!
//! Run with `cargo test -p forum` in `plugins/`.
#![cfg(not(target_family = "wasm"))]

use anyhow::{Context, Result, ensure};
use tessera_testkit::{Client, Role, StatusCode, TestHost, TestPlugin, Value, json};

async fn start() -> Result<(TestHost, TestPlugin)> {
    let host = TestHost::start().await?;
    let plugin = host.install_crate(env!("CARGO_MANIFEST_DIR")).await?;
    plugin.enable_all().await?;
    Ok((host, plugin))
}

fn blocks<'p>(page: &'p Value, kind: &str) -> Vec<&'p Value> {
    page["blocks"].as_array().map(|all| all.iter().filter(|b| b["type"] == kind).collect()).unwrap_or_default()
}

fn notice_of(outcome: &Value) -> (&str, &str) {
    (outcome["level"].as_str().unwrap_or("(no level)"), outcome["text"].as_str().unwrap_or("(no text)"))
}

/// The rows of the table whose first column is `key`: (row id, cells).
fn rows(page: &Value, key: &str) -> Vec<(String, Vec<String>)> {
    let Some(table) = blocks(page, "table").into_iter().find(|t| t["columns"][0]["key"] == key) else {
        return Vec::new();
    };
    let ids = table["row_ids"].as_array().cloned().unwrap_or_default();
    table["rows"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .zip(ids)
        .map(|(row, id)| {
            let cells = row
                .as_array()
                .map(|c| c.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
                .unwrap_or_default();
            (id.as_str().unwrap_or_default().to_owned(), cells)
        })
        .collect()
}

/// Adds a board as the administrator; answers its id.
async fn add_board(plugin: &TestPlugin, name: &str, roles: &str) -> Result<i64> {
    let done =
        plugin.act("boards", "add-board", None, json!({ "name": name, "roles": roles, "description": "" })).await?;
    ensure!(notice_of(&done).0 == "success", "adding the board {name}: {done}");
    let page = plugin.render("boards", &[]).await?;
    let id = rows(&page, "name").into_iter().find(|(_, cells)| cells[0] == name).context("the new board")?.0;
    Ok(id.parse()?)
}

/// Starts a thread from the forum page as `client`; answers its id.
async fn post_thread(plugin: &TestPlugin, client: &Client, board: i64, title: &str, body: &str) -> Result<i64> {
    let input = json!({ "board": board.to_string(), "title": title, "body": body, "customer": null });
    let done = plugin.act_as(client, "forum", "new-thread", None, input).await?;
    ensure!(done["type"] == "redirect", "posting {title:?}: {done}");
    let to = done["to"].as_str().context("to")?;
    Ok(to.rsplit('=').next().context("an id")?.parse()?)
}

async fn reply(plugin: &TestPlugin, client: &Client, thread: i64, body: &str) -> Result<Value> {
    plugin.act_as(client, "thread", "reply", Some(&thread.to_string()), json!({ "body": body })).await
}

/// The user's plugin notifications, newest first.
async fn inbox(client: &Client) -> Result<Vec<Value>> {
    let (status, inbox) = client.get("/api/v1/notifications").await?;
    ensure!(status == StatusCode::OK, "cannot read the inbox: {status} {inbox}");
    Ok(inbox["items"].as_array().context("items")?.iter().filter(|n| n["kind"] == "plugin_message").cloned().collect())
}

async fn rename(host: &TestHost, client: &Client, name: &str) -> Result<()> {
    let id = client.user_id().context("a user id")?;
    let (status, body) = host.admin().patch(&format!("/api/v1/users/{id}"), json!({ "display_name": name })).await?;
    ensure!(status == StatusCode::OK, "cannot rename to {name}: {status} {body}");
    Ok(())
}

fn texts(page: &Value) -> String {
    page["blocks"].to_string()
}

#[tokio::test]
async fn a_salesperson_neither_sees_nor_posts_to_nor_finds_an_admin_only_board() -> Result<()> {
    let (host, plugin) = start().await?;
    let open = add_board(&plugin, "销售交流", "").await?;
    let secret = add_board(&plugin, "管理层", "Administrator").await?;
    let mei = host.user("mei", Role::Salesperson).await?;

    let hidden = post_thread(&plugin, host.admin(), secret, "管理层售后机密", "季度售后预算").await?;
    let shown = post_thread(&plugin, &mei, open, "售后服务流程", "大家的售后怎么做？").await?;

    // The forum page lists only the open board to the salesperson, both to the admin.
    let page = plugin.render_as(&mei, "forum", &[]).await?;
    let boards: Vec<String> = rows(&page, "name").into_iter().map(|(_, c)| c[0].clone()).collect();
    assert_eq!(boards, ["销售交流"], "{page}");
    assert!(!texts(&page).contains("管理层售后机密"), "{page}");
    let page = plugin.render("forum", &[]).await?;
    assert_eq!(rows(&page, "name").len(), 2, "{page}");

    // The hidden board and its thread do not exist for her, by page or by action.
    for (target, id) in [("board", secret), ("thread", hidden)] {
        let path = format!("/api/v1/plugins/forum/pages/{target}?id={id}");
        let (status, body) = mei.get(&path).await?;
        assert_eq!(status, StatusCode::NOT_FOUND, "{target} {id}: {body}");
        assert!(!body.to_string().contains("管理层售后机密"), "{body}");
    }
    let input = json!({ "board": secret.to_string(), "title": "偷偷发帖", "body": "x", "customer": null });
    let refused = plugin.act_as(&mei, "forum", "new-thread", None, input).await?;
    assert_eq!(refused["type"], "invalid", "{refused}");
    assert_eq!(refused["errors"]["board"], "请选择版块。", "{refused}");
    let refused = plugin
        .act_as(&mei, "board", "new-thread", Some(&secret.to_string()), json!({ "title": "t", "body": "b" }))
        .await?;
    assert_eq!(notice_of(&refused), ("error", "版块不存在，或您无权查看。"), "{refused}");
    let refused = reply(&plugin, &mei, hidden, "我也来").await?;
    assert_eq!(notice_of(&refused).0, "error", "{refused}");
    let thread = plugin.render("thread", &[("id", &hidden.to_string())]).await?;
    assert!(!texts(&thread).contains("我也来"), "{thread}");

    // Search: she finds the open thread and nothing of the hidden board; the admin finds both.
    let page = plugin.render_as(&mei, "search", &[("q", "售后")]).await?;
    let found: Vec<String> = rows(&page, "title").into_iter().map(|(_, c)| c[0].clone()).collect();
    assert_eq!(found, ["售后服务流程"], "{page}");
    assert!(!texts(&page).contains("机密") && !texts(&page).contains("季度售后预算"), "{page}");
    let page = plugin.render("search", &[("q", "售后")]).await?;
    let mut found: Vec<String> = rows(&page, "title").into_iter().map(|(_, c)| c[0].clone()).collect();
    found.sort();
    assert_eq!(found, ["售后服务流程", "管理层售后机密"], "{page}");
    let _ = shown;
    host.stop().await;
    Ok(())
}

#[tokio::test]
async fn a_mention_notifies_the_colleague_and_replies_notify_the_thread_once() -> Result<()> {
    let (host, plugin) = start().await?;
    let board = add_board(&plugin, "销售交流", "").await?;
    let mei = host.user("mei", Role::Salesperson).await?;
    let wei = host.user("zhang.wei", Role::Salesperson).await?;
    rename(&host, &wei, "张伟").await?;
    let lei = host.user("lei", Role::Salesperson).await?;

    // A Chinese name right before the next word, as people write it.
    let thread = post_thread(&plugin, &mei, board, "华东区报价", "@张伟请看一下这个报价").await?;
    let got = host.wait_for(|| async { Ok(Some(inbox(&wei).await?).filter(|n| !n.is_empty())) }).await?;
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(
        got[0]["title"].as_str().is_some_and(|t| t.contains("mei 在帖子中提到了您") && t.contains("华东区报价")),
        "{got:?}"
    );
    assert_eq!(got[0]["link"], format!("/p/forum/thread?id={thread}"), "{got:?}");
    assert!(inbox(&lei).await?.is_empty(), "lei was not mentioned");
    assert!(inbox(&mei).await?.is_empty(), "the author is not told of her own post");

    // A reply mentioning lei by sign-in name: lei once (as mentioned), the author once; not the replier.
    let done = reply(&plugin, &wei, thread, "同意，@lei 也看看。@lei").await?;
    assert_eq!(notice_of(&done), ("success", "已回复。"), "{done}");
    let got = host.wait_for(|| async { Ok(Some(inbox(&lei).await?).filter(|n| !n.is_empty())) }).await?;
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(got[0]["title"].as_str().is_some_and(|t| t.contains("张伟 在帖子中提到了您")), "{got:?}");
    let got = host.wait_for(|| async { Ok(Some(inbox(&mei).await?).filter(|n| !n.is_empty())) }).await?;
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(got[0]["title"].as_str().is_some_and(|t| t.contains("张伟 回复了您参与的帖子")), "{got:?}");
    assert_eq!(inbox(&wei).await?.len(), 1, "张伟 has only the mention, not his own reply");

    // The thread page shows the reply's body as Markdown and its count.
    let page = plugin.render_as(&lei, "thread", &[("id", &thread.to_string())]).await?;
    assert!(blocks(&page, "text").iter().any(|b| b.to_string().contains("@lei 也看看")), "{page}");
    assert!(texts(&page).contains("回复（1）"), "{page}");

    // Too long a body is refused with the limit.
    let long = "字".repeat(20_001);
    let refused = reply(&plugin, &wei, thread, &long).await?;
    assert_eq!(
        notice_of(&refused),
        ("error", "内容共 20001 个字，超过了 20000 字的上限，请删减或分成几条回复。"),
        "{refused}"
    );
    host.stop().await;
    Ok(())
}

#[tokio::test]
async fn subscribers_of_a_board_and_of_a_keyword_are_told_once() -> Result<()> {
    let (host, plugin) = start().await?;
    let board = add_board(&plugin, "产品", "").await?;
    let other = add_board(&plugin, "闲聊", "").await?;
    let secret = add_board(&plugin, "管理层", "Administrator").await?;
    let mei = host.user("mei", Role::Salesperson).await?;
    let lei = host.user("lei", Role::Salesperson).await?;

    // Mei follows the board and the keyword 报价 (both would match the first thread); lei the keyword only.
    let done = plugin.act_as(&mei, "board", "subscribe", Some(&board.to_string()), json!({})).await?;
    assert_eq!(notice_of(&done), ("success", "已订阅「产品」，有新帖时会通知您。"), "{done}");
    let done = plugin.act_as(&mei, "subscriptions", "add-keyword", None, json!({ "keyword": "报价" })).await?;
    assert_eq!(notice_of(&done).0, "success", "{done}");
    plugin.act_as(&mei, "subscriptions", "add-keyword", None, json!({ "keyword": "报价" })).await?;
    plugin.act_as(&lei, "subscriptions", "add-keyword", None, json!({ "keyword": "报价" })).await?;
    let page = plugin.render_as(&mei, "subscriptions", &[]).await?;
    assert_eq!(rows(&page, "kind").len(), 2, "subscribing twice keeps one: {page}");

    post_thread(&plugin, host.admin(), board, "新品报价单", "见附件").await?;
    let got = host.wait_for(|| async { Ok(Some(inbox(&mei).await?).filter(|n| !n.is_empty())) }).await?;
    let got_lei = host.wait_for(|| async { Ok(Some(inbox(&lei).await?).filter(|n| !n.is_empty())) }).await?;
    assert_eq!(got.len(), 1, "one notification per post: {got:?}");
    assert!(got[0]["title"].as_str().is_some_and(|t| t.contains("您订阅的版块")), "{got:?}");
    assert_eq!(got_lei.len(), 1, "{got_lei:?}");
    assert!(got_lei[0]["title"].as_str().is_some_and(|t| t.contains("关键词")), "{got_lei:?}");

    // Another board: no board notification; the keyword in a reply still counts.
    let chat = post_thread(&plugin, host.admin(), other, "周末活动", "去爬山").await?;
    reply(&plugin, host.admin(), chat, "顺便谈谈报价").await?;
    host.wait_for(|| async { Ok(Some(inbox(&mei).await?).filter(|n| n.len() == 2)) }).await?;
    // A keyword in a board she may not see tells her nothing.
    post_thread(&plugin, host.admin(), secret, "报价底线", "仅限管理层").await?;
    reply(&plugin, host.admin(), chat, "再报价一次").await?;
    host.wait_for(|| async { Ok(Some(inbox(&mei).await?).filter(|n| n.len() == 3)) }).await?;
    let all = inbox(&mei).await?;
    assert!(all.iter().all(|n| !n["title"].to_string().contains("报价底线")), "{all:?}");

    // Unsubscribing from the board stops its notifications.
    let done = plugin.act_as(&mei, "board", "unsubscribe", Some(&board.to_string()), json!({})).await?;
    assert_eq!(notice_of(&done), ("success", "已取消订阅。"), "{done}");
    post_thread(&plugin, host.admin(), board, "新版手册", "请阅读").await?;
    post_thread(&plugin, host.admin(), other, "报价", "最后一条").await?;
    host.wait_for(|| async { Ok(Some(inbox(&mei).await?).filter(|n| n.len() == 4)) }).await?;
    let all = inbox(&mei).await?;
    assert!(all.iter().all(|n| !n["title"].to_string().contains("新版手册")), "{all:?}");
    host.stop().await;
    Ok(())
}

#[tokio::test]
async fn moderators_pin_lock_move_and_delete_and_others_are_refused() -> Result<()> {
    let (host, plugin) = start().await?;
    let board = add_board(&plugin, "售后", "").await?;
    let other = add_board(&plugin, "归档", "").await?;
    let mei = host.user("mei", Role::Salesperson).await?;
    let lei = host.user("lei", Role::Salesperson).await?;
    let lei_id = lei.user_id().context("lei")?;
    let done = plugin.act("boards", "add-moderator", Some(&board.to_string()), json!({ "user": lei_id })).await?;
    assert_eq!(notice_of(&done).0, "success", "{done}");

    let first = post_thread(&plugin, &mei, board, "第一帖", "内容").await?;
    let second = post_thread(&plugin, &mei, board, "第二帖", "内容").await?;
    let arg = first.to_string();

    // Mei is no moderator: refused, and the thread page offers her no tools.
    for action in ["pin", "lock", "delete-thread"] {
        let refused = plugin.act_as(&mei, "thread", action, Some(&arg), json!({})).await?;
        assert_eq!(notice_of(&refused), ("error", "只有本版版主和管理员可以这样做。"), "{action}: {refused}");
    }
    let page = plugin.render_as(&mei, "thread", &[("id", &arg)]).await?;
    assert!(blocks(&page, "actions").iter().all(|a| !a.to_string().contains("\"pin\"")), "{page}");

    // Lei pins the older thread: it comes first on the board.
    let done = plugin.act_as(&lei, "thread", "pin", Some(&arg), json!({})).await?;
    assert_eq!(notice_of(&done), ("success", "已置顶。"), "{done}");
    let page = plugin.render_as(&mei, "board", &[("id", &board.to_string())]).await?;
    let listed = rows(&page, "title");
    assert_eq!(
        listed.iter().map(|(id, _)| id.as_str()).collect::<Vec<_>>(),
        [arg.as_str(), second.to_string().as_str()],
        "{page}"
    );
    assert!(listed[0].1[5].contains("置顶"), "{page}");

    // Locked: nobody replies.
    reply(&plugin, &mei, first, "锁定前的回复").await?;
    let done = plugin.act_as(&lei, "thread", "lock", Some(&arg), json!({})).await?;
    assert_eq!(notice_of(&done), ("success", "已锁定，不能再回复。"), "{done}");
    for who in [&mei, &lei, host.admin()] {
        let refused = reply(&plugin, who, first, "还想说").await?;
        assert_eq!(notice_of(&refused), ("error", "本帖已锁定，不能再回复。"), "{refused}");
    }
    let page = plugin.render_as(&mei, "thread", &[("id", &arg)]).await?;
    assert!(blocks(&page, "form").is_empty(), "no reply form on a locked thread: {page}");
    assert!(texts(&page).contains("本帖已锁定"), "{page}");

    // Moved to the archive (lei sees it, the admin moderates everywhere).
    let done = plugin.act("thread", "move", Some(&arg), json!({ "board": other.to_string() })).await?;
    assert_eq!(notice_of(&done), ("success", "已移动到「归档」。"), "{done}");
    let page = plugin.render_as(&mei, "board", &[("id", &other.to_string())]).await?;
    assert_eq!(rows(&page, "title").len(), 1, "{page}");
    let refused = plugin.act_as(&lei, "thread", "delete-thread", Some(&arg), json!({})).await?;
    assert_eq!(notice_of(&refused).0, "error", "lei moderates 售后, not 归档: {refused}");

    // Lei deletes the second thread in his board; it is gone.
    let done = plugin.act_as(&lei, "thread", "delete-thread", Some(&second.to_string()), json!({})).await?;
    assert_eq!(done["type"], "redirect", "{done}");
    let (status, _) = mei.get(&format!("/api/v1/plugins/forum/pages/thread?id={second}")).await?;
    assert_eq!(status, StatusCode::NOT_FOUND);
    host.stop().await;
    Ok(())
}

#[tokio::test]
async fn unread_markers_appear_for_new_replies_and_clear_when_the_thread_is_opened() -> Result<()> {
    let (host, plugin) = start().await?;
    let board = add_board(&plugin, "销售交流", "").await?;
    let mei = host.user("mei", Role::Salesperson).await?;
    let lei = host.user("lei", Role::Salesperson).await?;
    let thread = post_thread(&plugin, &mei, board, "客户拜访心得", "分享一下").await?;
    let status_of = |page: &Value| {
        rows(page, "title").into_iter().find(|(id, _)| *id == thread.to_string()).map(|(_, c)| c[5].clone())
    };

    // New to lei, not to its author.
    let page = plugin.render_as(&lei, "board", &[("id", &board.to_string())]).await?;
    assert_eq!(status_of(&page).as_deref(), Some("新帖"), "{page}");
    let page = plugin.render_as(&mei, "board", &[("id", &board.to_string())]).await?;
    assert_eq!(status_of(&page).as_deref(), Some(""), "{page}");

    // Lei opens it: read. Mei replies twice: two new replies for lei, none for mei.
    plugin.render_as(&lei, "thread", &[("id", &thread.to_string())]).await?;
    let page = plugin.render_as(&lei, "forum", &[]).await?;
    assert_eq!(status_of(&page).as_deref(), Some(""), "{page}");
    reply(&plugin, &mei, thread, "补充一").await?;
    reply(&plugin, &mei, thread, "补充二").await?;
    let page = plugin.render_as(&lei, "forum", &[]).await?;
    assert_eq!(status_of(&page).as_deref(), Some("2 条新回复"), "{page}");
    let page = plugin.render_as(&mei, "forum", &[]).await?;
    assert_eq!(status_of(&page).as_deref(), Some(""), "{page}");
    plugin.render_as(&lei, "thread", &[("id", &thread.to_string())]).await?;
    let page = plugin.render_as(&lei, "board", &[("id", &board.to_string())]).await?;
    assert_eq!(status_of(&page).as_deref(), Some(""), "{page}");
    host.stop().await;
    Ok(())
}

#[tokio::test]
async fn a_thread_about_a_customer_is_on_its_panel_and_timeline() -> Result<()> {
    let (host, plugin) = start().await?;
    let board = add_board(&plugin, "客户讨论", "").await?;
    let secret = add_board(&plugin, "管理层", "Administrator").await?;
    let customer = host.create_customer(json!({ "name": "北京星河科技" })).await?;
    let id = customer["id"].as_i64().context("id")?;

    // From the customer's panel: the form carries the customer.
    let panel = plugin.render("customer-threads", &[("customer_id", &id.to_string())]).await?;
    let form = blocks(&panel, "form").into_iter().next().context("a form")?.clone();
    assert!(form.to_string().contains("\"customer\""), "{form}");
    let input = json!({ "board": board.to_string(), "title": "星河续约讨论", "body": "续约价格", "customer": id });
    let done = plugin.act("customer-threads", "new-thread", None, input).await?;
    assert_eq!(done["type"], "redirect", "{done}");
    let input = json!({ "board": secret.to_string(), "title": "星河内部评估", "body": "仅限管理层", "customer": id });
    plugin.act("customer-threads", "new-thread", None, input).await?;

    let (status, timeline) = host.admin().get(&format!("/api/v1/customers/{id}/plugin-timeline")).await?;
    assert_eq!(status, StatusCode::OK, "{timeline}");
    let titles: Vec<&str> = timeline.as_array().context("items")?.iter().filter_map(|i| i["title"].as_str()).collect();
    assert_eq!(titles, ["星河续约讨论"], "threads of restricted boards stay off the timeline: {timeline}");
    let panel = plugin.render("customer-threads", &[("customer_id", &id.to_string())]).await?;
    assert_eq!(rows(&panel, "title").len(), 2, "the admin sees both on the panel: {panel}");

    // A customer the poster may not see is refused.
    let mei = host.user("mei", Role::Salesperson).await?;
    let input = json!({ "board": board.to_string(), "title": "偷看", "body": "x", "customer": id });
    let refused = plugin.act_as(&mei, "forum", "new-thread", None, input).await?;
    assert_eq!(refused["type"], "invalid", "{refused}");
    assert_eq!(refused["errors"]["customer"], "客户不存在，或您无权查看该客户。", "{refused}");
    host.stop().await;
    Ok(())
}

#[tokio::test]
async fn search_finds_chinese_of_one_two_and_more_characters_and_english_words() -> Result<()> {
    let (host, plugin) = start().await?;
    let board = add_board(&plugin, "知识分享", "").await?;
    let secret = add_board(&plugin, "管理层", "Administrator").await?;
    let mei = host.user("mei", Role::Salesperson).await?;
    let service = post_thread(&plugin, &mei, board, "售后服务流程", "客户投诉时先登记").await?;
    post_thread(&plugin, &mei, board, "Quarterly pipeline review", "Please update the forecast").await?;
    post_thread(&plugin, &mei, board, "展会安排", "下周上海展会").await?;
    reply(&plugin, &mei, service, "售后回访要在三天内完成").await?;
    post_thread(&plugin, host.admin(), secret, "售后成本 forecast", "机密").await?;

    let search = |q: &'static str| {
        let (plugin, mei) = (&plugin, &mei);
        async move {
            let page = plugin.render_as(mei, "search", &[("q", q)]).await?;
            let threads: Vec<String> = rows(&page, "title").into_iter().map(|(_, c)| c[0].clone()).collect();
            let replies: Vec<String> = rows(&page, "thread").into_iter().map(|(_, c)| c[1].clone()).collect();
            anyhow::Ok((threads, replies))
        }
    };
    for q in ["售", "售后", "售后服务", "售后服务流程"] {
        let (threads, _) = search(q).await?;
        assert_eq!(threads, ["售后服务流程"], "{q}");
    }
    let (_, replies) = search("回访").await?;
    assert_eq!(replies, ["售后回访要在三天内完成"]);
    let (_, replies) = search("售后").await?;
    assert_eq!(replies, ["售后回访要在三天内完成"], "replies are found too");
    let (threads, _) = search("展").await?;
    assert_eq!(threads, ["展会安排"]);
    let (threads, _) = search("forecast").await?;
    assert_eq!(threads, ["Quarterly pipeline review"], "English, and not the hidden board's thread");
    let (threads, _) = search("PIPELINE").await?;
    assert_eq!(threads, ["Quarterly pipeline review"], "case does not matter");
    let (threads, replies) = search("不存在的词").await?;
    assert!(threads.is_empty() && replies.is_empty());
    host.stop().await;
    Ok(())
}
