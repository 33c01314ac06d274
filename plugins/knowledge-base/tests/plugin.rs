//! The knowledge base end to end, with the test kit: each test starts a real Tessera host,
//! installs this plugin built for wasm32-wasip2, and does what people do: an administrator sets
//! up categories with access by role, writes and edits articles, attaches files; a salesperson
//! reads, searches and answers a customer from the Q&A library.
//!
//! Run with `cargo test -p knowledge-base` in `plugins/`.
#![cfg(not(target_family = "wasm"))]

use anyhow::{Context, Result, ensure};
use tessera_testkit::{Client, Method, Role, StatusCode, TestHost, TestPlugin, Value, json};

const KB: &str = "/api/plugins/knowledge-base";

async fn start() -> Result<(TestHost, TestPlugin)> {
    let host = TestHost::start().await?;
    let plugin = host.install_crate(env!("CARGO_MANIFEST_DIR")).await?;
    plugin.enable_all().await?;
    Ok((host, plugin))
}

async fn category(host: &TestHost, name: &str, kind: &str, read: &[&str], edit: &[&str]) -> Result<i64> {
    let body = json!({ "name": name, "kind": kind, "read_roles": read, "edit_roles": edit });
    let (status, c) = host.admin().post(&format!("{KB}/categories"), body).await?;
    ensure!(status == StatusCode::CREATED, "cannot make the category {name}: {status} {c}");
    c["id"].as_i64().context("a category id")
}

async fn article(client: &Client, category: i64, title: &str, body: &str) -> Result<i64> {
    let (status, a) = client
        .post(&format!("{KB}/articles"), json!({ "category_id": category, "title": title, "body": body }))
        .await?;
    ensure!(status == StatusCode::CREATED, "cannot write {title}: {status} {a}");
    a["id"].as_i64().context("an article id")
}

/// Titles of the articles a search finds.
async fn search(client: &Client, q: &str) -> Result<Vec<String>> {
    let path = format!("{KB}/search?q={}&limit=100", urlencode(q));
    let (status, found) = client.get(&path).await?;
    ensure!(status == StatusCode::OK, "search {q}: {status} {found}");
    let mut titles: Vec<String> = found["articles"]
        .as_array()
        .context("articles")?
        .iter()
        .filter_map(|a| a["title"].as_str().map(str::to_owned))
        .collect();
    titles.sort();
    Ok(titles)
}

fn urlencode(s: &str) -> String {
    s.bytes().map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}

fn blocks<'p>(page: &'p Value, kind: &str) -> Vec<&'p Value> {
    page["blocks"].as_array().map(|all| all.iter().filter(|b| b["type"] == kind).collect()).unwrap_or_default()
}

/// Uploads raw bytes through the API route.
async fn upload(
    client: &Client,
    article: i64,
    name: &str,
    content_type: &str,
    bytes: Vec<u8>,
) -> Result<(StatusCode, Value)> {
    let path = format!("{KB}/articles/{article}/attachments?name={}", urlencode(name));
    client.send(client.request(Method::POST, &path).header("content-type", content_type).body(bytes)).await
}

#[tokio::test]
async fn a_salesperson_reaches_only_the_categories_their_roles_allow() -> Result<()> {
    let (host, plugin) = start().await?;
    let open = category(&host, "售后知识", "article", &[], &[]).await?;
    let internal = category(&host, "内部制度", "article", &["Administrator"], &[]).await?;
    let under_internal = {
        let body = json!({ "name": "薪酬", "kind": "article", "parent_id": internal });
        let (status, c) = host.admin().post(&format!("{KB}/categories"), body).await?;
        ensure!(status == StatusCode::CREATED, "{c}");
        c["id"].as_i64().context("id")?
    };
    let shared = category(&host, "销售话术", "article", &[], &["Salesperson"]).await?;
    let public = article(host.admin(), open, "售后服务流程", "客户报修后 24 小时内响应售后服务。").await?;
    let secret = article(host.admin(), internal, "内部售后服务考核", "售后服务考核办法（内部）。").await?;
    let deeper = article(host.admin(), under_internal, "薪酬中的售后服务奖金", "售后服务奖金。").await?;
    let (status, file) = upload(host.admin(), secret, "考核表.txt", "text/plain", "机密".as_bytes().to_vec()).await?;
    ensure!(status == StatusCode::CREATED, "{status} {file}");
    let file_url = file["url"].as_str().context("url")?.to_owned();

    let mei = host.user("mei", Role::Salesperson).await?;
    // Reading: the open article, not the admin-only one nor what sits under it.
    let (status, body) = mei.get(&format!("{KB}/articles/{public}")).await?;
    assert_eq!(status, StatusCode::OK, "{body}");
    for id in [secret, deeper] {
        let (status, body) = mei.get(&format!("{KB}/articles/{id}")).await?;
        assert_eq!(status, StatusCode::NOT_FOUND, "article {id}: {body}");
    }
    let (status, _) = mei.get(&format!("/api/v1/plugins/knowledge-base/pages/article?id={secret}")).await?;
    assert_eq!(status, StatusCode::NOT_FOUND, "the admin-only article's page");
    let (status, _) = mei.get(&format!("/api/v1/plugins/knowledge-base/pages/category?id={internal}")).await?;
    assert_eq!(status, StatusCode::NOT_FOUND, "the admin-only category's page");
    let (_, cats) = mei.get(&format!("{KB}/categories")).await?;
    let names: Vec<&str> = cats.as_array().context("list")?.iter().filter_map(|c| c["name"].as_str()).collect();
    assert_eq!(names, ["售后知识", "销售话术"], "{cats}");
    // Search shows what the salesperson may read; the administrator finds all three.
    assert_eq!(search(&mei, "售后服务").await?, ["售后服务流程"]);
    assert_eq!(search(host.admin(), "售后服务").await?.len(), 3);
    let home = plugin.render_as(&mei, "search", &[("q", "售后服务")]).await?;
    assert!(!home.to_string().contains("内部售后服务考核"), "{home}");
    // The attachment of the admin-only article does not download, for the admin it does.
    let (status, _) = mei.get(&file_url).await?;
    assert_eq!(status, StatusCode::NOT_FOUND, "a salesperson downloads an admin-only attachment");
    let response = host.admin().request(Method::GET, &file_url).send().await?;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.bytes().await?.as_ref(), "机密".as_bytes());

    // Editing: only where the role is among the editors.
    let (status, body) =
        mei.post(&format!("{KB}/articles"), json!({ "category_id": open, "title": "我的文章", "body": "" })).await?;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body["message"].as_str().unwrap_or_default().contains("没有编辑此分类内容的权限"), "{body}");
    let mine = article(&mei, shared, "报价话术", "先了解客户预算。").await?;
    let outcome = plugin.act_as(&mei, "article", "edit", Some(&mine.to_string()), json!({})).await?;
    assert_eq!(outcome["type"], "redirect", "{outcome}");
    // Categories are the administrators' own.
    let (status, _) = mei.post(&format!("{KB}/categories"), json!({ "name": "x", "kind": "article" })).await?;
    assert_eq!(status, StatusCode::FORBIDDEN);
    host.stop().await;
    Ok(())
}

#[tokio::test]
async fn every_save_is_a_version_with_a_readable_diff_and_old_versions_restore() -> Result<()> {
    let (host, plugin) = start().await?;
    let c = category(&host, "产品手册", "product", &[], &[]).await?;
    let id = article(host.admin(), c, "T1 路由器", "第一行\n第二行\n第三行").await?;

    // Second version through the edit page's form, third through the API.
    let (_, a) = host.admin().get(&format!("{KB}/articles/{id}")).await?;
    let record_version = a["record_version"].as_i64().context("record_version")?;
    let edit = plugin.render("edit", &[("id", &id.to_string())]).await?;
    assert_eq!(blocks(&edit, "form")[0]["submit"]["argument"], format!("{id}:{record_version}"), "{edit}");
    let input = json!({ "title": "T1 路由器", "body": "第一行\n第二行（已修订）\n第三行", "tags": "路由器, 家用",
                        "facts": "价格区间：199-299 元\n优势：信号强", "note": "修订第二行" });
    let outcome = plugin.act("edit", "save", Some(&format!("{id}:{record_version}")), input.clone()).await?;
    assert_eq!(outcome["type"], "redirect", "{outcome}");
    // The same form sent again is stale: a conflict, not a silent overwrite.
    let stale = plugin.act("edit", "save", Some(&format!("{id}:{record_version}")), input).await?;
    assert_eq!(stale["level"], "error", "{stale}");
    assert!(stale["text"].as_str().unwrap_or_default().contains("已被他人修改"), "{stale}");
    let (status, a) = host
        .admin()
        .put(
            &format!("{KB}/articles/{id}"),
            json!({ "title": "T1 路由器", "body": "第一行\n第三行\n第四行<script>", "note": "API" }),
        )
        .await?;
    assert_eq!(status, StatusCode::OK, "{a}");
    assert_eq!(a["version"], 3, "{a}");

    let (_, versions) = host.admin().get(&format!("{KB}/articles/{id}/versions")).await?;
    let numbers: Vec<i64> = versions.as_array().context("list")?.iter().filter_map(|v| v["version"].as_i64()).collect();
    assert_eq!(numbers, [1, 2, 3], "{versions}");
    let history = plugin.render("history", &[("id", &id.to_string())]).await?;
    assert_eq!(blocks(&history, "table")[0]["rows"].as_array().map(Vec::len), Some(3), "{history}");

    // The diff page: removed and added lines marked, as plain table cells.
    let diff = plugin.render("diff", &[("id", &id.to_string()), ("from", "1"), ("to", "3")]).await?;
    let body_table = blocks(&diff, "table").last().copied().context("a diff table")?.clone();
    let rows: Vec<Vec<String>> = body_table["rows"]
        .as_array()
        .context("rows")?
        .iter()
        .map(|r| {
            r.as_array().map(|c| c.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect()).unwrap_or_default()
        })
        .collect();
    assert!(rows.contains(&vec!["- 删除".into(), "2".into(), "".into(), "第二行".into()]), "{rows:?}");
    assert!(rows.contains(&vec!["+ 新增".into(), "".into(), "3".into(), "第四行<script>".into()]), "{rows:?}");
    assert!(rows.contains(&vec!["".into(), "1".into(), "1".into(), "第一行".into()]), "{rows:?}");
    assert!(blocks(&diff, "text").is_empty(), "a diff is never Markdown: {diff}");
    let (_, json_diff) = host.admin().get(&format!("{KB}/articles/{id}/diff?from=1&to=3")).await?;
    assert_eq!((json_diff["added"].as_i64(), json_diff["removed"].as_i64()), (Some(1), Some(1)), "{json_diff}");
    // The facts diff of version 2 → 3 removes both facts.
    let (_, d23) = host.admin().get(&format!("{KB}/articles/{id}/diff?from=2&to=3")).await?;
    assert_eq!(d23["removed"], 1, "{d23}");

    // Restoring version 1 makes version 4 with its text.
    let outcome = plugin.act("history", "restore", Some(&format!("{id}:1")), json!({})).await?;
    assert_eq!(outcome["text"], "已将第 1 版恢复为第 4 版。", "{outcome}");
    let (_, a) = host.admin().get(&format!("{KB}/articles/{id}")).await?;
    assert_eq!((a["version"].as_i64(), a["body"].as_str()), (Some(4), Some("第一行\n第二行\n第三行")), "{a}");
    let (_, versions) = host.admin().get(&format!("{KB}/articles/{id}/versions")).await?;
    assert_eq!(versions[3]["note"], "恢复自第 1 版", "{versions}");
    host.stop().await;
    Ok(())
}

#[tokio::test]
async fn a_standard_answer_found_from_the_customer_panel_goes_into_a_follow_up() -> Result<()> {
    let (host, plugin) = start().await?;
    let library = category(&host, "常见问题", "qa", &[], &[]).await?;
    let (status, entry) = host
        .admin()
        .post(
            &format!("{KB}/qa"),
            json!({ "category_id": library, "question": "如何申请售后服务？", "answer": "请拨打 400-800-1234，工程师 24 小时内上门。", "keywords": "报修, 保修" }),
        )
        .await?;
    assert_eq!(status, StatusCode::CREATED, "{entry}");
    let qa_id = entry["id"].as_i64().context("id")?;
    host.admin()
        .post(
            &format!("{KB}/qa"),
            json!({ "category_id": library, "question": "发票怎么开？", "answer": "在订单页申请。" }),
        )
        .await?;
    let customer = host.create_customer(json!({ "name": "北京星河科技" })).await?;
    let cid = customer["id"].as_i64().context("customer id")?;

    // The panel: a search box bound to the customer, and the newest answers.
    let panel = plugin.render("customer-kb", &[("customer_id", &cid.to_string())]).await?;
    let form = blocks(&panel, "form")[0];
    assert_eq!(form["submit"]["name"], "search", "{panel}");
    let outcome = plugin.act("customer-kb", "search", None, json!({ "q": "保修", "customer_id": cid })).await?;
    assert_eq!(outcome["to"], format!("/p/knowledge-base/answer?customer_id={cid}&q=%E4%BF%9D%E4%BF%AE"), "{outcome}");
    // The answer page finds it by keyword, and 售后 in the question.
    for q in ["保修", "售后"] {
        let page = plugin.render("answer", &[("customer_id", &cid.to_string()), ("q", q)]).await?;
        let table = blocks(&page, "table")[0];
        assert_eq!(table["row_ids"], json!([format!("{cid}:qa:{qa_id}")]), "{q}: {page}");
    }
    let outcome = plugin.act("answer", "insert", Some(&format!("{cid}:qa:{qa_id}")), json!({})).await?;
    assert_eq!(outcome["text"], "已插入客户“北京星河科技”的跟进记录。", "{outcome}");
    let (status, activities) = host.admin().get(&format!("/api/v1/customers/{cid}/activities")).await?;
    assert_eq!(status, StatusCode::OK, "{activities}");
    let text = activities.to_string();
    assert!(text.contains("400-800-1234") && text.contains("如何申请售后服务"), "{activities}");

    // A salesperson who may not see the customer cannot write on its timeline.
    let mei = host.user("mei", Role::Salesperson).await?;
    let outcome = plugin.act_as(&mei, "answer", "insert", Some(&format!("{cid}:qa:{qa_id}")), json!({})).await?;
    assert_eq!(outcome["level"], "error", "{outcome}");
    host.stop().await;
    Ok(())
}

#[tokio::test]
async fn attachments_upload_download_with_their_headers_and_respect_the_limit() -> Result<()> {
    let (host, plugin) = start().await?;
    let c = category(&host, "竞品分析", "competitor", &[], &[]).await?;
    let id = article(host.admin(), c, "竞品 A", "对比").await?;
    let bytes: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let (status, a) = upload(host.admin(), id, "竞品 A 报价.pdf", "application/pdf", bytes.clone()).await?;
    assert_eq!(status, StatusCode::CREATED, "{a}");
    let url = a["url"].as_str().context("url")?.to_owned();

    let response = host.admin().request(Method::GET, &url).send().await?;
    assert_eq!(response.status(), StatusCode::OK);
    let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    assert_eq!(header("content-type"), "application/pdf");
    assert_eq!(
        header("content-disposition"),
        "attachment; filename=\"__ A __.pdf\"; filename*=UTF-8''%E7%AB%9E%E5%93%81%20A%20%E6%8A%A5%E4%BB%B7.pdf"
    );
    assert_eq!(header("x-content-type-options"), "nosniff");
    assert_eq!(response.bytes().await?.as_ref(), bytes.as_slice(), "the same bytes come back");

    // Listed on the article page with a download link.
    let page = plugin.render("article", &[("id", &id.to_string())]).await?;
    assert!(page.to_string().contains("竞品 A 报价.pdf") && page.to_string().contains(&url), "{page}");

    // Over the organisation's limit: refused with a message people understand, nothing kept.
    plugin.set_settings(json!({ "max_attachment_mb": 1 })).await?;
    let (status, refused) = upload(host.admin(), id, "大文件.zip", "application/zip", vec![7u8; 1_572_864]).await?;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{refused}");
    assert_eq!(refused["message"], "“大文件.zip”（1.5 MB）超过了附件大小上限 1 MB。", "{refused}");
    let (_, list) = host.admin().get(&format!("{KB}/articles/{id}/attachments")).await?;
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");

    // Deleting the attachment deletes the file.
    let attachment = a["id"].as_i64().context("id")?;
    let outcome = plugin.act("article", "delete-attachment", Some(&attachment.to_string()), json!({})).await?;
    assert_eq!(outcome["level"], "success", "{outcome}");
    let (status, _) = host.admin().get(&url).await?;
    assert_eq!(status, StatusCode::NOT_FOUND);
    host.stop().await;
    Ok(())
}

#[tokio::test]
async fn search_finds_chinese_of_one_two_and_more_characters_and_english_words() -> Result<()> {
    let (host, plugin) = start().await?;
    let c = category(&host, "服务", "article", &[], &[]).await?;
    let admin = host.admin();
    article(admin, c, "售后服务流程", "报修、上门、回访。").await?;
    article(admin, c, "保修政策", "整机保修一年，售后服务由当地网点提供。").await?;
    article(admin, c, "渠道说明", "经销商负责本地区的售后服务与培训。").await?;
    article(admin, c, "售后网点", "各省的售后网点名单。").await?;
    article(admin, c, "价格表", "零售价见附件，售价含税。").await?;
    article(admin, c, "Router warranty", "The warranty covers hardware faults for one year.").await?;
    article(admin, c, "Onboarding", "How new staff learn the CRM.").await?;

    assert_eq!(search(admin, "售").await?, ["价格表", "保修政策", "售后服务流程", "售后网点", "渠道说明"]);
    assert_eq!(search(admin, "售后").await?, ["保修政策", "售后服务流程", "售后网点", "渠道说明"]);
    // 售后服务 finds every article containing it, in the title or anywhere in the body.
    assert_eq!(search(admin, "售后服务").await?, ["保修政策", "售后服务流程", "渠道说明"]);
    assert_eq!(search(admin, "售后服务与培训").await?, ["渠道说明"]);
    assert_eq!(search(admin, "warranty").await?, ["Router warranty"]);
    assert_eq!(search(admin, "Hardware").await?, ["Router warranty"]);
    assert_eq!(search(admin, "CRM").await?, ["Onboarding"]);
    assert!(search(admin, "不存在的词").await?.is_empty());

    // The search page shows the same, and a clear line when nothing matches.
    let page = plugin.render("search", &[("q", "售后服务")]).await?;
    assert_eq!(blocks(&page, "table")[0]["rows"].as_array().map(Vec::len), Some(3), "{page}");
    let none = plugin.render("search", &[("q", "不存在的词")]).await?;
    assert_eq!(blocks(&none, "notice")[0]["text"], "没有找到与“不存在的词”相关的内容。", "{none}");
    host.stop().await;
    Ok(())
}
